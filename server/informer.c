/* List-then-watch of one collection, on its own thread, with blocking libcurl requests. */
#include "informer.h"
#include "xmem.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube.h"
#include "lf_buf.h"
#include "lf_clock.h"
#include "log.h"

/* An event longer than this is not a Kubernetes object (etcd stores at most 1.5 MiB). */
#define MAX_EVENT_BYTES (8 * 1024 * 1024)
#define MAX_ERROR_BODY  (64 * 1024)
#define BACKOFF_MIN_MS  200
#define BACKOFF_MAX_MS  10000
#define WATCH_MARGIN_S  15 /* a watch gets its timeoutSeconds plus this before it is abandoned */
#define SHORT_WATCH_NS  1000000000LL
#define LIST_TIMEOUT_MS 30000

struct informer {
    struct kube_client *kc;
    char *path, *query, *what;
    struct informer_handlers h;
    int watch_seconds, not_found_retry_ms;

    pthread_t tid;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int stop; /* with lock for the sleeps */

    char *rv; /* resume the watch from here; NULL: list first */
    unsigned seed;
    char last_err[512]; /* the last error logged, so that a retry loop logs a change once */
};

static bool stopping(struct informer *in)
{
    return atomic_load_explicit(&in->stop, memory_order_acquire) != 0;
}

/* Sleeps MS milliseconds, or less when informer_stop is called. */
static void nap(struct informer *in, long ms)
{
    int64_t end = lf_clock_real_ns() + (int64_t)ms * 1000000LL; /* the condition variable's clock */
    struct timespec ts = {.tv_sec = end / 1000000000LL, .tv_nsec = end % 1000000000LL};
    pthread_mutex_lock(&in->lock);
    while (!stopping(in) && pthread_cond_timedwait(&in->cond, &in->lock, &ts) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&in->lock);
}

/* Logs ERR unless it is the error logged last: a retry loop says each new problem once. */
static void log_once(struct informer *in, enum log_level level, const char *msg, const char *err)
{
    if (strcmp(in->last_err, err) == 0)
        return;
    snprintf(in->last_err, sizeof(in->last_err), "%s", err);
    log_event(level, msg, "resource", in->what, "error", err, NULL);
}

static void set_rv(struct informer *in, const char *rv)
{
    if (rv == NULL || rv[0] == '\0')
        return;
    free(in->rv);
    in->rv = xstrdup(rv);
}

static char *url(const struct informer *in, const char *extra)
{
    size_t n = strlen(in->path) + (in->query ? strlen(in->query) : 0) + (extra ? strlen(extra) : 0) + 4;
    char *u = xmalloc(n);
    snprintf(u, n, "%s%s%s%s%s", in->path, in->query || extra ? "?" : "", in->query ? in->query : "",
             in->query && extra ? "&" : "", extra ? extra : "");
    return u;
}

/* Lists the collection: true with in->rv set, or false with *CODE the HTTP status (0: no answer) and ERR. */
static bool list(struct informer *in, int *code, char *err, size_t errlen)
{
    json_t *resp = NULL;
    char *u = url(in, NULL);
    *code = kube_request(in->kc, "GET", u, NULL, LIST_TIMEOUT_MS, &resp, err, errlen);
    free(u);
    if (*code < 200 || *code > 299) {
        json_decref(resp);
        return false;
    }
    json_t *items = json_object_get(resp, "items");
    const char *rv = json_string_value(json_object_get(json_object_get(resp, "metadata"), "resourceVersion"));
    if (!json_is_array(items) || rv == NULL) {
        snprintf(err, errlen, "list of %s: not a list with items and metadata.resourceVersion", in->what);
        json_decref(resp);
        return false;
    }
    set_rv(in, rv);
    in->h.replace(in->h.ctx, items);
    json_decref(resp);
    return true;
}

/* ---- the watch ---- */

struct stream {
    struct informer *in;
    CURL *h;
    struct kube_watch_decoder dec;
    bool gone;          /* 410: list again */
    bool bad;           /* an event that cannot be decoded: list again */
    struct lf_buf body; /* a non-200 answer's body, its first MAX_ERROR_BODY bytes */
    char err[512];
};

static int on_event(void *ctx, const char *type, json_t *obj)
{
    struct stream *s = ctx;
    struct informer *in = s->in;
    const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (strcmp(type, "BOOKMARK") == 0) {
        set_rv(in, rv);
        return 0;
    }
    if (strcmp(type, "ERROR") == 0) {
        json_t *code = json_object_get(obj, "code");
        if (json_integer_value(code) == 410) {
            s->gone = true;
        } else {
            s->bad = true;
            kube_status_error((int)json_integer_value(code), obj, s->err, sizeof(s->err));
        }
        return -1; /* the stream is over either way */
    }
    if (strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0 && strcmp(type, "DELETED") != 0) {
        s->bad = true;
        snprintf(s->err, sizeof(s->err), "watch event of unknown type '%s'", type);
        return -1;
    }
    set_rv(in, rv);
    in->h.event(in->h.ctx, type, obj);
    return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct stream *s = userdata;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        lf_buf_append(&s->body, ptr, n); /* past the cap, the start says enough */
        return n;
    }
    if (s->gone || s->bad)
        return 0;
    char e[512] = "";
    if (kube_watch_feed(&s->dec, ptr, n, on_event, s, e, sizeof(e)) != 0) {
        if (!s->gone && !s->bad) { /* not an ERROR event: a line that is not an event */
            s->bad = true;
            snprintf(s->err, sizeof(s->err), "%s", e);
        }
        return 0;
    }
    return n;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return stopping(ctx) ? 1 : 0;
}

/* Watches from in->rv until the stream ends.  Returns 0 (ended: resume), 1 (list again) or -1 (error, ERR).
 */
static int watch(struct informer *in, char *err, size_t errlen)
{
    struct stream s = {.in = in};
    char extra[256];
    int timeout = in->watch_seconds + (int)(rand_r(&in->seed) % (unsigned)(in->watch_seconds / 2 + 1));
    char *rv = curl_easy_escape(NULL, in->rv, 0);
    snprintf(extra, sizeof(extra), "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s",
             timeout, rv ? rv : "");
    curl_free(rv);
    char *u = url(in, extra);
    struct curl_slist *hl = kube_headers(in->kc, "GET");
    s.h = kube_easy_new(in->kc, "GET", u, (long)(timeout + WATCH_MARGIN_S) * 1000L, hl);
    free(u);
    kube_watch_decoder_init(&s.dec, MAX_EVENT_BYTES);
    lf_buf_init(&s.body, MAX_ERROR_BODY);
    curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(s.h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(s.h, CURLOPT_XFERINFODATA, in);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(s.h);
    long code = 0;
    curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &code);
    int rc = 0;
    if (s.gone) {
        rc = 1;
    } else if (s.bad) {
        snprintf(err, errlen, "watch of %s: %s", in->what, s.err);
        rc = 1;
    } else if (code != 200 && code != 0) {
        json_t *j = s.body.data ? json_loadb(s.body.data, s.body.len, JSON_ALLOW_NUL, NULL) : NULL;
        kube_status_error((int)code, j, err, errlen);
        json_decref(j);
        rc = code == 410 ? 1 : -1;
    } else if (cc != CURLE_OK && !stopping(in)) {
        /* a timeout here is a watch gone silent past its timeoutSeconds: resume it like any other end */
        snprintf(err, errlen, "watch of %s: %s", in->what, cerr[0] ? cerr : curl_easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? 0 : -1;
    }
    if (!stopping(in))
        kube_client_count(in->kc, (int)code);
    kube_watch_decoder_release(&s.dec);
    lf_buf_release(&s.body);
    curl_easy_cleanup(s.h);
    kube_headers_free(hl);
    return rc;
}

static void *run(void *arg)
{
    struct informer *in = arg;
    long backoff = BACKOFF_MIN_MS;
    char err[1024];
    while (!stopping(in)) {
        err[0] = '\0';
        if (in->rv == NULL) {
            int code = 0;
            bool listed = list(in, &code, err, sizeof(err));
            if (stopping(in))
                break;
            if (!listed) {
                in->h.failed(in->h.ctx, code, err);
                if (code == 404) { /* not served (no CRD): no objects; look again soon */
                    log_once(in, LOGL_INFO, "resource not served, retrying", err);
                    nap(in, in->not_found_retry_ms);
                } else {
                    log_once(in, LOGL_WARN, "cannot list, retrying", err);
                    nap(in, backoff);
                    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                }
                continue;
            }
            if (in->last_err[0] != '\0')
                log_event(LOGL_INFO, "listed", "resource", in->what, NULL);
            in->last_err[0] = '\0';
        }
        int64_t start = lf_clock_mono_ns();
        int r = watch(in, err, sizeof(err));
        if (stopping(in))
            break;
        if (r == 1) {
            if (err[0] != '\0')
                log_event(LOGL_WARN, "watch failed, listing again", "resource", in->what, "error", err, NULL);
            free(in->rv);
            in->rv = NULL;
        } else if (r < 0) {
            log_once(in, LOGL_WARN, "cannot watch, retrying", err);
        }
        if (r < 0 ||
            lf_clock_mono_ns() - start < SHORT_WATCH_NS) { /* a server that ends every watch at once */
            nap(in, backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        } else {
            backoff = BACKOFF_MIN_MS;
        }
    }
    return NULL;
}

struct informer *informer_new(struct kube_client *kc, const char *path, const char *query, const char *what,
                              const struct informer_handlers *h)
{
    struct informer *in = xcalloc(1, sizeof(*in));
    in->kc = kc;
    in->path = xstrdup(path);
    in->query = query ? xstrdup(query) : NULL;
    in->what = xstrdup(what);
    in->h = *h;
    in->watch_seconds = 30;
    in->not_found_retry_ms = 2000;
    in->seed = (unsigned)lf_clock_mono_ns() ^ (unsigned)(uintptr_t)in;
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->cond, NULL);
    return in;
}

void informer_set_timing(struct informer *in, int watch_seconds, int not_found_retry_ms)
{
    if (watch_seconds > 0)
        in->watch_seconds = watch_seconds;
    if (not_found_retry_ms > 0)
        in->not_found_retry_ms = not_found_retry_ms;
}

int informer_start(struct informer *in, char *err, size_t errlen)
{
    int e = pthread_create(&in->tid, NULL, run, in);
    if (e != 0) {
        snprintf(err, errlen, "cannot start the %s informer: %s", in->what, strerror(e));
        return -1;
    }
    in->started = true;
    return 0;
}

void informer_stop(struct informer *in)
{
    if (!in->started)
        return;
    pthread_mutex_lock(&in->lock);
    atomic_store_explicit(&in->stop, 1, memory_order_release);
    pthread_cond_broadcast(&in->cond);
    pthread_mutex_unlock(&in->lock);
    pthread_join(in->tid, NULL);
    in->started = false;
}

void informer_free(struct informer *in)
{
    if (in == NULL)
        return;
    informer_stop(in);
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->cond);
    free(in->path);
    free(in->query);
    free(in->what);
    free(in->rv);
    free(in);
}
