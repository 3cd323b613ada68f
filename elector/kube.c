/*
 * A small Kubernetes REST client on libcurl (its configuration is kubeconfig.c's): requests with Status
 * errors, Lease CRUD, and the easy-handle setup and watch-stream decoding the tracker drives from its curl
 * multi loop.
 */
#include "kube.h"
#include "kubeconfig.h"
#include "xmem.h"

#include "lf_buf.h"
#include "lf_clock.h"
#include "lf_fatal.h"
#include "version.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define TOKEN_REREAD_S           60
#define TOKEN_REJECTED_REREAD_NS 1000000000LL /* after a 401, at most one re-read a second */
#define MAX_BODY                 (16u << 20)
#define MAX_CODE                 600

struct kube_client {
    struct kubeconfig
        cfg; /* cfg.token is re-read from cfg.token_file every TOKEN_REREAD_S, under token_lock */

    pthread_mutex_t token_lock;
    int64_t token_read_ns; /* CLOCK_MONOTONIC */
    int token_reread_s;
    bool token_rejected; /* a 401 since the last read: read again (at most once a second) */

    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

    pthread_mutex_t count_lock;
    uint64_t counts[MAX_CODE];
};

/* ---- client ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
    (void)h;
    (void)access;
    struct kube_client *c = userp;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
    (void)h;
    struct kube_client *c = userp;
    pthread_mutex_unlock(&c->share_locks[data]);
}

struct kube_client *kube_client_new(const char *kubeconfig_path, char *err, size_t errlen)
{
    pthread_once(&global_once, global_init);
    struct kube_client *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->token_lock, NULL);
    pthread_mutex_init(&c->count_lock, NULL);
    c->token_reread_s = TOKEN_REREAD_S;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);

    if (kubeconfig_load(&c->cfg, kubeconfig_path, err, errlen) != 0) {
        kube_client_free(c);
        return NULL;
    }
    if (c->cfg.token_file != NULL)
        c->token_read_ns = lf_clock_mono_ns();
    c->share = curl_share_init();
    if (c->share == NULL)
        lf_fatal_oom("curl_share_init", 0);
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return c;
}

void kube_client_free(struct kube_client *c)
{
    if (c == NULL)
        return;
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    kubeconfig_release(&c->cfg);
    pthread_mutex_destroy(&c->token_lock);
    pthread_mutex_destroy(&c->count_lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    free(c);
}

const char *kube_client_server(const struct kube_client *c)
{
    return c->cfg.server;
}

void kube_client_set_token_reread(struct kube_client *c, int seconds)
{
    pthread_mutex_lock(&c->token_lock);
    c->token_reread_s = seconds;
    pthread_mutex_unlock(&c->token_lock);
}

void kube_client_count(struct kube_client *c, int code)
{
    if (code < 0 || code >= MAX_CODE)
        code = 0;
    pthread_mutex_lock(&c->count_lock);
    c->counts[code]++;
    pthread_mutex_unlock(&c->count_lock);
    if (code == 401) { /* as client-go's token source does: a rotated, revoked token is replaced at once */
        pthread_mutex_lock(&c->token_lock);
        c->token_rejected = true;
        pthread_mutex_unlock(&c->token_lock);
    }
}

size_t kube_client_request_counts(struct kube_client *c, struct kube_code_count *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&c->count_lock);
    for (int i = 0; i < MAX_CODE && n < max; i++)
        if (c->counts[i] != 0) {
            out[n].code = i;
            out[n].count = c->counts[i];
            n++;
        }
    pthread_mutex_unlock(&c->count_lock);
    return n;
}

/* "Authorization: Bearer ..." header line, or NULL without a token; you own it (wipe it). */
static char *auth_header(struct kube_client *c)
{
    char *h = NULL;
    pthread_mutex_lock(&c->token_lock);
    int64_t since = lf_clock_mono_ns() - c->token_read_ns;
    if (c->cfg.token_file != NULL && (since >= (int64_t)c->token_reread_s * 1000000000 ||
                                      (c->token_rejected && since >= TOKEN_REJECTED_REREAD_NS))) {
        char e2[256];
        char *t = kubeconfig_read_token(c->cfg.token_file, e2, sizeof(e2));
        c->token_read_ns = lf_clock_mono_ns();
        c->token_rejected = false;
        if (t != NULL) {
            kubeconfig_wipe_free(c->cfg.token);
            c->cfg.token = t;
        } /* else keep the old token; the server will say 401 if it is stale */
    }
    if (c->cfg.token != NULL) {
        size_t n = strlen(c->cfg.token) + 32;
        h = xcalloc(1, n);
        snprintf(h, n, "Authorization: Bearer %s", c->cfg.token);
    }
    pthread_mutex_unlock(&c->token_lock);
    return h;
}

/*
 * Connections to the API server are opened close-on-exec: `leasefence elect -- COMMAND` forks the command
 * while a connection sits in the pool, and the command must not be able to read or write it.
 */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)ctx;
    (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

struct curl_slist *kube_headers(struct kube_client *c, const char *method)
{
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "Accept: application/json");
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    char *auth = auth_header(c);
    if (auth != NULL) {
        hl = curl_slist_append(hl, auth);
        kubeconfig_wipe_free(auth);
    }
    if (hl == NULL)
        lf_fatal_oom("curl_slist_append", 0);
    return hl;
}

bool kube_headers_equal(const struct curl_slist *a, const struct curl_slist *b)
{
    for (; a != NULL && b != NULL; a = a->next, b = b->next)
        if (strcmp(a->data, b->data) != 0)
            return false;
    return a == NULL && b == NULL;
}

void kube_headers_free(struct curl_slist *headers)
{
    for (struct curl_slist *l = headers; l != NULL; l = l->next)
        explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(headers);
}

CURL *kube_easy_new(struct kube_client *c, const char *method, const char *path, long timeout_ms,
                    struct curl_slist *headers)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        lf_fatal_oom("curl_easy_init", 0);
    const char *base = c->cfg.url_base != NULL ? c->cfg.url_base : c->cfg.server;
    size_t n = strlen(base) + strlen(path) + 1;
    char *url = xcalloc(1, n);
    snprintf(url, n, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    free(url);
    if (c->cfg.connect_to != NULL)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->cfg.connect_to);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "leasefence/" LEASEFENCE_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->cfg.insecure ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->cfg.insecure ? 0L : 2L);
    /* The client's PEM blobs are borrowed, not copied: the tracker keeps a handle per watched Lease. */
    if (c->cfg.ca.data != NULL) {
        struct curl_blob b = {c->cfg.ca.data, c->cfg.ca.len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    } else if (c->cfg.ca_file != NULL) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
    }
    if (c->cfg.cert.data != NULL) {
        struct curl_blob b = {c->cfg.cert.data, c->cfg.cert.len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (c->cfg.cert_file != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cfg.cert_file);
    }
    if (c->cfg.key.data != NULL) {
        struct curl_blob b = {c->cfg.key.data, c->cfg.key.len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (c->cfg.key_file != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->cfg.key_file);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    return h;
}

/* ---- requests ---- */

static const char *reason_phrase(int code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return "Error";
    }
}

void kube_status_error(int code, json_t *body, char *err, size_t errlen)
{
    const char *reason = NULL, *message = NULL;
    if (json_is_object(body)) {
        reason = json_string_value(json_object_get(body, "reason"));
        message = json_string_value(json_object_get(body, "message"));
    }
    if (reason == NULL || reason[0] == '\0')
        reason = reason_phrase(code);
    if (message != NULL && message[0] != '\0')
        snprintf(err, errlen, "%d %s: %s", code, reason, message);
    else
        snprintf(err, errlen, "%d %s", code, reason);
}

/* kube_request, with the Content-Type CTYPE instead of kube_headers' application/json when not NULL. */
static int request(struct kube_client *c, const char *method, const char *path, const char *ctype,
                   json_t *body, long timeout_ms, json_t **resp, char *err, size_t errlen)
{
    struct curl_slist *hl = NULL;
    struct lf_buf b;
    char *payload = NULL;
    int code = 0;
    if (resp != NULL)
        *resp = NULL;
    if (timeout_ms <= 0)
        timeout_ms = KUBE_DEFAULT_TIMEOUT_MS;
    lf_buf_init(&b, MAX_BODY);

    if (ctype != NULL) {
        char line[128];
        snprintf(line, sizeof(line), "Content-Type: %s", ctype);
        hl = kube_headers(c, "GET"); /* no Content-Type */
        hl = curl_slist_append(hl, line);
        if (hl == NULL)
            lf_fatal_oom("curl_slist_append", sizeof(line));
    } else {
        hl = kube_headers(c, method);
    }
    CURL *h = kube_easy_new(c, method, path, timeout_ms, hl);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL)
            lf_fatal_oom("json_dumps", 0);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, lf_buf_curl_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s%s: %s", method, c->cfg.server, path,
                 b.overflow ? "response larger than 16 MiB" : (cerr[0] ? cerr : curl_easy_strerror(cc)));
        kube_client_count(c, 0);
        goto out;
    }
    long rcode = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rcode);
    code = (int)rcode;
    kube_client_count(c, code);
    json_t *j = NULL;
    if (b.len > 0) /* the API server's strings may hold NUL ("\u0000"): Go strings can */
        j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    if (code < 200 || code > 299)
        kube_status_error(code, j, err, errlen);
    if (resp != NULL)
        *resp = j;
    else
        json_decref(j);
out:
    curl_easy_cleanup(h);
    kube_headers_free(hl);
    free(payload);
    lf_buf_release(&b);
    return code;
}

int kube_request(struct kube_client *c, const char *method, const char *path, json_t *body, long timeout_ms,
                 json_t **resp, char *err, size_t errlen)
{
    return request(c, method, path, NULL, body, timeout_ms, resp, err, errlen);
}

int kube_patch(struct kube_client *c, const char *path, const char *patch_type, json_t *patch,
               long timeout_ms, json_t **resp, char *err, size_t errlen)
{
    return request(c, "PATCH", path, patch_type, patch, timeout_ms, resp, err, errlen);
}

/* ---- Leases ---- */

char *kube_lease_path(const char *ns, const char *name, const char *query)
{
    size_t n = strlen(ns) + (name ? strlen(name) : 0) + (query ? strlen(query) : 0) + 64;
    char *p = xcalloc(1, n);
    snprintf(p, n, "/apis/coordination.k8s.io/v1/namespaces/%s/leases%s%s%s%s", ns, name ? "/" : "",
             name ? name : "", query ? "?" : "", query ? query : "");
    return p;
}

static int lease_call(struct kube_client *c, const char *verb, const char *method, const char *ns,
                      const char *name, bool item, json_t *obj, long timeout_ms, json_t **out, char *err,
                      size_t errlen)
{
    char e2[512];
    json_t *resp = NULL;
    char *path = kube_lease_path(ns, item ? name : NULL, NULL);
    int code = kube_request(c, method, path, obj, timeout_ms, &resp, e2, sizeof(e2));
    free(path);
    if (code >= 200 && code <= 299 && (out == NULL || json_is_object(resp))) {
        if (out != NULL)
            *out = resp;
        else
            json_decref(resp);
        return code;
    }
    if (code >= 200 && code <= 299)
        snprintf(e2, sizeof(e2), "%d: response is not a JSON object", code);
    snprintf(err, errlen, "cannot %s lease '%s/%s': %s", verb, ns, name ? name : "", e2);
    json_decref(resp);
    if (out != NULL)
        *out = NULL;
    return code >= 200 && code <= 299 ? 0 : code;
}

int kube_lease_get(struct kube_client *c, const char *ns, const char *name, long timeout_ms, json_t **out,
                   char *err, size_t errlen)
{
    return lease_call(c, "get", "GET", ns, name, true, NULL, timeout_ms, out, err, errlen);
}

int kube_lease_create(struct kube_client *c, const char *ns, json_t *obj, long timeout_ms, json_t **out,
                      char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    return lease_call(c, "create", "POST", ns, name ? name : "", false, obj, timeout_ms, out, err, errlen);
}

int kube_lease_update(struct kube_client *c, const char *ns, const char *name, json_t *obj, long timeout_ms,
                      json_t **out, char *err, size_t errlen)
{
    return lease_call(c, "update", "PUT", ns, name, true, obj, timeout_ms, out, err, errlen);
}

int kube_lease_delete(struct kube_client *c, const char *ns, const char *name, long timeout_ms, char *err,
                      size_t errlen)
{
    return lease_call(c, "delete", "DELETE", ns, name, true, NULL, timeout_ms, NULL, err, errlen);
}

/* ---- watch stream decoding ---- */

void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line)
{
    memset(d, 0, sizeof(*d));
    d->max = max_line ? max_line : MAX_BODY;
}

void kube_watch_decoder_release(struct kube_watch_decoder *d)
{
    free(d->buf);
    memset(d, 0, sizeof(*d));
}

/*
 * A line that outgrows the cap, of which D holds the start and DATA continues it: SKIP is shown its first
 * d->max bytes (enough to say whose event it is).  0 when SKIP drops it: the caller reads past the rest.
 */
static int overlong(struct kube_watch_decoder *d, const char *data, void *ctx, char *err, size_t errlen)
{
    xgrow(&d->buf, &d->cap, d->max + 1);
    memcpy(d->buf + d->len, data, d->max - d->len);
    bool dropped = d->skip != NULL && d->skip(ctx, d->buf, d->max);
    d->len = 0;
    if (dropped)
        return 0;
    snprintf(err, errlen, "watch event longer than %zu bytes", d->max);
    return -1;
}

static int watch_line(const char *line, size_t len, kube_watch_skip_fn skip, kube_watch_event_fn fn,
                      void *ctx, char *err, size_t errlen)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0 || (skip != NULL && skip(ctx, line, len)))
        return 0;
    json_error_t je;
    json_t *ev = json_loadb(line, len, JSON_ALLOW_NUL, &je);
    if (ev == NULL) {
        snprintf(err, errlen, "watch event is not JSON: %s", je.text);
        return -1;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    int r = 0;
    if (type == NULL || !json_is_object(obj)) {
        snprintf(err, errlen, "watch event without type or object");
        r = -1;
    } else {
        r = fn(ctx, type, obj);
        if (r != 0)
            snprintf(err, errlen, "watch event '%s' rejected", type);
    }
    json_decref(ev);
    return r;
}

int kube_watch_feed(struct kube_watch_decoder *d, const char *data, size_t len, kube_watch_event_fn fn,
                    void *ctx, char *err, size_t errlen)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (d->discarding) {
            d->discarding = nl == NULL;
        } else if (d->len + take > d->max) {
            if (overlong(d, data, ctx, err, errlen) != 0)
                return -1;
            d->discarding = nl == NULL;
        } else if (d->len == 0 && nl != NULL) {
            if (watch_line(data, take, d->skip, fn, ctx, err, errlen) != 0)
                return -1;
        } else {
            xgrow(&d->buf, &d->cap, d->len + take + 1);
            memcpy(d->buf + d->len, data, take);
            d->len += take;
            if (nl != NULL) {
                int r = watch_line(d->buf, d->len, d->skip, fn, ctx, err, errlen);
                d->len = 0;
                if (r != 0)
                    return -1;
            }
        }
        if (nl == NULL)
            break;
        data = nl + 1;
        len -= take + 1;
    }
    return 0;
}
