/*
 * A small Kubernetes REST client on libcurl: kubeconfig / in-cluster
 * configuration, requests with Status errors, Lease CRUD, and the easy-handle
 * setup and watch-stream decoding the tracker drives from its curl multi loop.
 */
#include "kube.h"
#include "xmem.h"
#include "version.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <yaml.h>

#define SA_DIR                   "/var/run/secrets/kubernetes.io/serviceaccount"
#define TOKEN_REREAD_S           60
#define TOKEN_REJECTED_REREAD_NS 1000000000LL /* after a 401, at most one re-read a second */
#define MAX_BODY                 (16u << 20)
#define MAX_CODE                 600

struct blob {
    unsigned char *data;
    size_t len;
};

struct kube_client {
    char *server;
    char *ca_file, *cert_file, *key_file;
    struct blob ca, cert, key;
    bool insecure;
    char *tls_server_name;
    char *url_base; /* server with tls-server-name as its host, or NULL: requests go to server */
    struct curl_slist *connect_to; /* "NAME:PORT:HOST:PORT": the connection still goes to server's host */

    pthread_mutex_t token_lock;
    char *token;           /* current bearer token; never logged */
    char *token_file;      /* re-read every TOKEN_REREAD_S when set */
    int64_t token_read_ns; /* CLOCK_MONOTONIC */
    int token_reread_s;
    bool token_rejected; /* a 401 since the last read: read again (at most once a second) */

    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

    pthread_mutex_t count_lock;
    uint64_t counts[MAX_CODE];
};

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void blob_release(struct blob *b)
{
    if (b->data != NULL) {
        explicit_bzero(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

/* ---- files and base64 ---- */

static int read_file(const char *path, size_t cap, struct blob *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t len = 0, sz = 4096;
    unsigned char *buf = xcalloc(1, sz + 1);
    for (;;) {
        size_t n = fread(buf + len, 1, sz - len, f);
        len += n;
        if (len < sz)
            break;
        if (sz >= cap) {
            fclose(f);
            free(buf);
            snprintf(err, errlen, "cannot read '%s': larger than %zu bytes", path, cap);
            return -1;
        }
        sz *= 2;
        unsigned char *nb = xrealloc(buf, sz + 1);
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "cannot read '%s': read error", path);
        return -1;
    }
    buf[len] = '\0';
    out->data = buf;
    out->len = len;
    return 0;
}

static int b64_decode(const char *in, struct blob *out)
{
    size_t n = strlen(in);
    /* EVP_DecodeBlock wants no whitespace; kubeconfigs sometimes wrap. */
    char *clean = xcalloc(1, n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] != '\n' && in[i] != '\r' && in[i] != ' ' && in[i] != '\t')
            clean[m++] = in[i];
    if (m == 0 || m % 4 != 0 || m > INT_MAX) {
        free(clean);
        return -1;
    }
    unsigned char *buf = xcalloc(1, m / 4 * 3 + 1);
    int r = EVP_DecodeBlock(buf, (const unsigned char *)clean, (int)m);
    if (r < 0) {
        free(clean);
        free(buf);
        return -1;
    }
    size_t len = (size_t)r;
    if (clean[m - 1] == '=')
        len--;
    if (clean[m - 2] == '=')
        len--;
    free(clean);
    out->data = buf;
    out->len = len;
    return 0;
}

/* Token file contents without trailing whitespace; NULL with err filled. */
/*
 * tls-server-name: the certificate is verified (and SNI sent) for NAME while the
 * connection goes to the server's host, as client-go's tls.Config.ServerName
 * does.  With curl: requests are addressed to NAME and CURLOPT_CONNECT_TO maps
 * NAME:PORT to the real HOST:PORT (the Host header says NAME; the API server
 * does not look at it).
 */
static int use_tls_server_name(struct kube_client *c, char *err, size_t errlen)
{
    int rc = -1;
    char *host = NULL, *port = NULL, *url = NULL;
    CURLU *u = curl_url();
    if (u == NULL)
        abort();
    if (strncmp(c->server, "https://", 8) != 0) {
        rc = 0; /* plain HTTP: no certificate to verify */
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, c->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(err, errlen, "server '%s' is not a URL with a host", c->server);
        goto out;
    }
    if (curl_url_set(u, CURLUPART_HOST, c->tls_server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK || strchr(c->tls_server_name, ':') != NULL) {
        snprintf(err, errlen, "tls-server-name '%s' is not a host name", c->tls_server_name);
        goto out;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') /* curl adds the root path */
        url[--n] = '\0';
    c->url_base = xstrdup(url);
    size_t m = strlen(c->tls_server_name) + strlen(host) + 2 * strlen(port) + 4;
    char *entry = xcalloc(1, m);
    snprintf(entry, m, "%s:%s:%s:%s", c->tls_server_name, port, host, port);
    c->connect_to = curl_slist_append(NULL, entry);
    free(entry);
    if (c->connect_to == NULL)
        abort();
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return rc;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *read_token(const char *path, char *err, size_t errlen)
{
    struct blob b = {0};
    if (read_file(path, 1 << 20, &b, err, errlen) != 0)
        return NULL;
    size_t n = strnlen((char *)b.data, b.len);
    while (n > 0 &&
           (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' ' || b.data[n - 1] == '\t'))
        n--;
    b.data[n] = '\0';
    if (n == 0) {
        blob_release(&b);
        snprintf(err, errlen, "token file '%s' is empty", path);
        return NULL;
    }
    return (char *)b.data;
}

/* ---- kubeconfig (libyaml document API) ---- */

static yaml_node_t *ymap_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* Scalar string value of KEY in MAP, or NULL (also for "" and null). */
static const char *ymap_str(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    yaml_node_t *v = ymap_get(doc, map, key);
    if (v == NULL || v->type != YAML_SCALAR_NODE || v->data.scalar.length == 0)
        return NULL;
    const char *s = (const char *)v->data.scalar.value;
    if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (strcmp(s, "null") == 0 || strcmp(s, "~") == 0))
        return NULL;
    return s;
}

/* The SUB mapping of the element of list KEY whose name is NAME ("clusters", "cluster"). */
static yaml_node_t *ynamed(yaml_document_t *doc, const char *key, const char *sub, const char *name)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    yaml_node_t *list = ymap_get(doc, root, key);
    if (list == NULL || list->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
        yaml_node_t *el = yaml_document_get_node(doc, *it);
        const char *n = ymap_str(doc, el, "name");
        if (n != NULL && strcmp(n, name) == 0) {
            yaml_node_t *s = ymap_get(doc, el, sub);
            return s != NULL ? s : el;
        }
    }
    return NULL;
}

static char *resolve_path(const char *base_dir, const char *p)
{
    if (p[0] == '/' || base_dir == NULL)
        return xstrdup(p);
    size_t n = strlen(base_dir) + strlen(p) + 2;
    char *r = xcalloc(1, n);
    snprintf(r, n, "%s/%s", base_dir, p);
    return r;
}

static bool yaml_true(const char *s)
{
    return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0);
}

static int load_kubeconfig(struct kube_client *c, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    char e2[256];
    struct blob raw = {0};
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_parser = false, have_doc = false;
    char *dir = NULL;

    if (read_file(path, 4u << 20, &raw, e2, sizeof(e2)) != 0) {
        snprintf(err, errlen, "kubeconfig: %s", e2);
        goto out;
    }
    if (!yaml_parser_initialize(&parser))
        abort();
    have_parser = true;
    yaml_parser_set_input_string(&parser, raw.data, raw.len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "kubeconfig '%s': invalid YAML at line %zu: %s", path,
                 parser.problem_mark.line + 1, parser.problem ? parser.problem : "parse error");
        goto out;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "kubeconfig '%s': not a mapping", path);
        goto out;
    }
    const char *slash = strrchr(path, '/');
    if (slash != NULL) {
        dir = xcalloc(1, (size_t)(slash - path) + 2);
        memcpy(dir, path, slash == path ? 1 : (size_t)(slash - path));
    }

    const char *ctx_name = ymap_str(&doc, root, "current-context");
    if (ctx_name == NULL) {
        snprintf(err, errlen, "kubeconfig '%s': no current-context", path);
        goto out;
    }
    yaml_node_t *ctx = ynamed(&doc, "contexts", "context", ctx_name);
    if (ctx == NULL) {
        snprintf(err, errlen, "kubeconfig '%s': context '%s' not found", path, ctx_name);
        goto out;
    }
    const char *cluster_name = ymap_str(&doc, ctx, "cluster");
    const char *user_name = ymap_str(&doc, ctx, "user");
    yaml_node_t *cluster = cluster_name ? ynamed(&doc, "clusters", "cluster", cluster_name) : NULL;
    if (cluster == NULL) {
        snprintf(err, errlen, "kubeconfig '%s': cluster '%s' of context '%s' not found", path,
                 cluster_name ? cluster_name : "", ctx_name);
        goto out;
    }
    const char *server = ymap_str(&doc, cluster, "server");
    if (server == NULL) {
        snprintf(err, errlen, "kubeconfig '%s': cluster '%s' has no server", path, cluster_name);
        goto out;
    }
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
        snprintf(err, errlen, "kubeconfig '%s': cluster '%s': server '%s' is not an http(s) URL", path,
                 cluster_name, server);
        goto out;
    }
    c->server = xstrdup(server);
    size_t sl = strlen(c->server);
    while (sl > 0 && c->server[sl - 1] == '/')
        c->server[--sl] = '\0';
    c->insecure = yaml_true(ymap_str(&doc, cluster, "insecure-skip-tls-verify"));
    const char *tsn = ymap_str(&doc, cluster, "tls-server-name");
    if (tsn != NULL && tsn[0] != '\0') {
        c->tls_server_name = xstrdup(tsn);
        if (use_tls_server_name(c, err, errlen) != 0) {
            char why[512];
            snprintf(why, sizeof(why), "%s", err);
            snprintf(err, errlen, "kubeconfig '%s': cluster '%s': %s", path, cluster_name, why);
            goto out;
        }
    }
    const char *cad = ymap_str(&doc, cluster, "certificate-authority-data");
    const char *caf = ymap_str(&doc, cluster, "certificate-authority");
    if (cad != NULL) {
        if (b64_decode(cad, &c->ca) != 0) {
            snprintf(err, errlen, "kubeconfig '%s': cluster '%s': certificate-authority-data is not base64",
                     path, cluster_name);
            goto out;
        }
    } else if (caf != NULL) {
        c->ca_file = resolve_path(dir, caf);
    }

    if (user_name != NULL) {
        yaml_node_t *user = ynamed(&doc, "users", "user", user_name);
        if (user == NULL) {
            snprintf(err, errlen, "kubeconfig '%s': user '%s' of context '%s' not found", path, user_name,
                     ctx_name);
            goto out;
        }
        if (ymap_get(&doc, user, "exec") != NULL) {
            snprintf(
                err, errlen,
                "kubeconfig '%s': user '%s' uses an exec credential plugin, which leasefence does not run; "
                "use a token, tokenFile or client certificate",
                path, user_name);
            goto out;
        }
        if (ymap_get(&doc, user, "auth-provider") != NULL) {
            snprintf(err, errlen,
                     "kubeconfig '%s': user '%s' uses an auth-provider, which leasefence does not support; "
                     "use a token, tokenFile or client certificate",
                     path, user_name);
            goto out;
        }
        const char *tok = ymap_str(&doc, user, "token");
        const char *tokf = ymap_str(&doc, user, "tokenFile");
        if (tok != NULL) {
            c->token = xstrdup(tok);
        } else if (tokf != NULL) {
            c->token_file = resolve_path(dir, tokf);
            c->token = read_token(c->token_file, e2, sizeof(e2));
            if (c->token == NULL) {
                snprintf(err, errlen, "kubeconfig '%s': user '%s': %s", path, user_name, e2);
                goto out;
            }
            c->token_read_ns = mono_ns();
        }
        const char *ccd = ymap_str(&doc, user, "client-certificate-data");
        const char *ccf = ymap_str(&doc, user, "client-certificate");
        const char *ckd = ymap_str(&doc, user, "client-key-data");
        const char *ckf = ymap_str(&doc, user, "client-key");
        if (ccd != NULL && b64_decode(ccd, &c->cert) != 0) {
            snprintf(err, errlen, "kubeconfig '%s': user '%s': client-certificate-data is not base64", path,
                     user_name);
            goto out;
        }
        if (ckd != NULL && b64_decode(ckd, &c->key) != 0) {
            snprintf(err, errlen, "kubeconfig '%s': user '%s': client-key-data is not base64", path,
                     user_name);
            goto out;
        }
        if (ccd == NULL && ccf != NULL)
            c->cert_file = resolve_path(dir, ccf);
        if (ckd == NULL && ckf != NULL)
            c->key_file = resolve_path(dir, ckf);
        bool has_cert = c->cert.data != NULL || c->cert_file != NULL;
        bool has_key = c->key.data != NULL || c->key_file != NULL;
        if (has_cert != has_key) {
            snprintf(err, errlen,
                     "kubeconfig '%s': user '%s': a client certificate needs both certificate and key", path,
                     user_name);
            goto out;
        }
    }
    rc = 0;
out:
    free(dir);
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    blob_release(&raw);
    return rc;
}

static int load_in_cluster(struct kube_client *c, char *err, size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    char e2[256];
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        snprintf(err, errlen,
                 "no kubeconfig: --kubeconfig not given, $KUBECONFIG not set, and not in a cluster "
                 "(KUBERNETES_SERVICE_HOST/PORT not set)");
        return -1;
    }
    char url[512];
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(url, sizeof(url), "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        snprintf(err, errlen, "in-cluster: KUBERNETES_SERVICE_HOST too long");
        return -1;
    }
    c->server = xstrdup(url);
    const char *dir = getenv("LEASEFENCE_SERVICEACCOUNT_DIR"); /* for tests */
    if (dir == NULL)
        dir = SA_DIR;
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/token", dir);
    c->token_file = xstrdup(p);
    c->token = read_token(p, e2, sizeof(e2));
    if (c->token == NULL) {
        snprintf(err, errlen, "in-cluster: %s", e2);
        return -1;
    }
    c->token_read_ns = mono_ns();
    snprintf(p, sizeof(p), "%s/ca.crt", dir);
    c->ca_file = xstrdup(p);
    return 0;
}

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

    const char *path = kubeconfig_path;
    char first[PATH_MAX];
    if (path == NULL || path[0] == '\0') {
        const char *env = getenv("KUBECONFIG");
        if (env != NULL && env[0] != '\0') {
            /* A list like kubectl's: the first entry that exists (no merging); none: the first, for the
             * error. */
            const char *s = env;
            bool found = false;
            first[0] = '\0';
            while (!found) {
                const char *e = strchr(s, ':');
                size_t len = e ? (size_t)(e - s) : strlen(s);
                if (len > 0 && len < sizeof(first)) {
                    struct stat st;
                    char cand[PATH_MAX];
                    memcpy(cand, s, len);
                    cand[len] = '\0';
                    found = stat(cand, &st) == 0;
                    if (found || first[0] == '\0')
                        memcpy(first, cand, len + 1);
                }
                if (e == NULL)
                    break;
                s = e + 1;
            }
            path = first[0] != '\0' ? first : NULL;
        }
    }
    int r = path != NULL ? load_kubeconfig(c, path, err, errlen) : load_in_cluster(c, err, errlen);
    if (r != 0) {
        kube_client_free(c);
        return NULL;
    }
    c->share = curl_share_init();
    if (c->share == NULL)
        abort();
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
    free(c->server);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->tls_server_name);
    free(c->url_base);
    curl_slist_free_all(c->connect_to);
    blob_release(&c->ca);
    blob_release(&c->cert);
    blob_release(&c->key);
    wipe_free(c->token);
    free(c->token_file);
    pthread_mutex_destroy(&c->token_lock);
    pthread_mutex_destroy(&c->count_lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    free(c);
}

const char *kube_client_server(const struct kube_client *c)
{
    return c->server;
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
    int64_t since = mono_ns() - c->token_read_ns;
    if (c->token_file != NULL && (since >= (int64_t)c->token_reread_s * 1000000000 ||
                                  (c->token_rejected && since >= TOKEN_REJECTED_REREAD_NS))) {
        char e2[256];
        char *t = read_token(c->token_file, e2, sizeof(e2));
        c->token_read_ns = mono_ns();
        c->token_rejected = false;
        if (t != NULL) {
            wipe_free(c->token);
            c->token = t;
        } /* else keep the old token; the server will say 401 if it is stale */
    }
    if (c->token != NULL) {
        size_t n = strlen(c->token) + 32;
        h = xcalloc(1, n);
        snprintf(h, n, "Authorization: Bearer %s", c->token);
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
        wipe_free(auth);
    }
    if (hl == NULL)
        abort();
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
        abort();
    const char *base = c->url_base != NULL ? c->url_base : c->server;
    size_t n = strlen(base) + strlen(path) + 1;
    char *url = xcalloc(1, n);
    snprintf(url, n, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    free(url);
    if (c->connect_to != NULL)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
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
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
    /* The client's PEM blobs are borrowed, not copied: the tracker keeps a handle per watched Lease. */
    if (c->ca.data != NULL) {
        struct curl_blob b = {c->ca.data, c->ca.len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    } else if (c->ca_file != NULL) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    }
    if (c->cert.data != NULL) {
        struct curl_blob b = {c->cert.data, c->cert.len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (c->cert_file != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
    }
    if (c->key.data != NULL) {
        struct curl_blob b = {c->key.data, c->key.len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (c->key_file != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    return h;
}

/* ---- requests ---- */

struct body_buf {
    char *data;
    size_t len, cap;
    bool overflow;
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body_buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > MAX_BODY) {
        b->overflow = true;
        return 0;
    }
    xgrow(&b->data, &b->cap, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

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
    struct body_buf b = {0};
    char *payload = NULL;
    int code = 0;
    if (resp != NULL)
        *resp = NULL;
    if (timeout_ms <= 0)
        timeout_ms = KUBE_DEFAULT_TIMEOUT_MS;

    if (ctype != NULL) {
        char line[128];
        snprintf(line, sizeof(line), "Content-Type: %s", ctype);
        hl = kube_headers(c, "GET"); /* no Content-Type */
        hl = curl_slist_append(hl, line);
        if (hl == NULL)
            abort();
    } else {
        hl = kube_headers(c, method);
    }
    CURL *h = kube_easy_new(c, method, path, timeout_ms, hl);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL)
            abort();
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s%s: %s", method, c->server, path,
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
    free(b.data);
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
        if (d->len + take > d->max) {
            snprintf(err, errlen, "watch event longer than %zu bytes", d->max);
            return -1;
        }
        if (d->len == 0 && nl != NULL) {
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
