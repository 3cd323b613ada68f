/*
 * Where the API server is and how to authenticate to it: a kubeconfig file (the libyaml document API) or
 * the in-cluster service account.  Moved out of kube.c as it was.
 */
#include "kubeconfig.h"
#include "xmem.h"

#include "lf_fatal.h"
#include "lf_file.h"

#include <curl/curl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

void kubeconfig_wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void kubeconfig_blob_release(struct kubeconfig_blob *b)
{
    if (b->data != NULL) {
        explicit_bzero(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

/* ---- files and base64 ---- */

/* PATH whole into OUT (lf_file_read: at most CAP bytes, errors named after WHAT). */
static int read_file(const char *what, const char *path, size_t cap, struct kubeconfig_blob *out, char *err,
                     size_t errlen)
{
    size_t len = 0;
    char *data = lf_file_read(what, path, cap, &len, err, errlen);
    if (data == NULL)
        return -1;
    out->data = (unsigned char *)data;
    out->len = len;
    return 0;
}

static int b64_decode(const char *in, struct kubeconfig_blob *out)
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

/*
 * tls-server-name: the certificate is verified (and SNI sent) for NAME while the
 * connection goes to the server's host, as client-go's tls.Config.ServerName
 * does.  With curl: requests are addressed to NAME and CURLOPT_CONNECT_TO maps
 * NAME:PORT to the real HOST:PORT (the Host header says NAME; the API server
 * does not look at it).
 */
static int use_tls_server_name(struct kubeconfig *c, char *err, size_t errlen)
{
    int rc = -1;
    char *host = NULL, *port = NULL, *url = NULL;
    CURLU *u = curl_url();
    if (u == NULL)
        lf_fatal_oom("curl_url", 0);
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
        lf_fatal_oom("curl_slist_append", m);
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return rc;
}

char *kubeconfig_read_token(const char *path, char *err, size_t errlen)
{
    struct kubeconfig_blob b = {0};
    if (read_file("token file", path, 1 << 20, &b, err, errlen) != 0)
        return NULL;
    size_t n = strnlen((char *)b.data, b.len);
    while (n > 0 &&
           (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' ' || b.data[n - 1] == '\t'))
        n--;
    b.data[n] = '\0';
    if (n == 0) {
        kubeconfig_blob_release(&b);
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

static int load_kubeconfig(struct kubeconfig *c, const char *path, char *err, size_t errlen)
{
    int rc = -1;
    char e2[256];
    struct kubeconfig_blob raw = {0};
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_parser = false, have_doc = false;
    char *dir = NULL;

    if (read_file("kubeconfig", path, 4u << 20, &raw, err, errlen) != 0)
        goto out;
    if (!yaml_parser_initialize(&parser))
        lf_fatal_oom("yaml_parser_initialize", 0);
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
            c->token = kubeconfig_read_token(c->token_file, e2, sizeof(e2));
            if (c->token == NULL) {
                snprintf(err, errlen, "kubeconfig '%s': user '%s': %s", path, user_name, e2);
                goto out;
            }
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
    kubeconfig_blob_release(&raw);
    return rc;
}

static int load_in_cluster(struct kubeconfig *c, char *err, size_t errlen)
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
    const char *dir = getenv("LEASEFENCE_TEST_SERVICEACCOUNT_DIR"); /* for tests */
    if (dir == NULL)
        dir = SA_DIR;
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/token", dir);
    c->token_file = xstrdup(p);
    c->token = kubeconfig_read_token(p, e2, sizeof(e2));
    if (c->token == NULL) {
        snprintf(err, errlen, "in-cluster: %s", e2);
        return -1;
    }
    snprintf(p, sizeof(p), "%s/ca.crt", dir);
    c->ca_file = xstrdup(p);
    return 0;
}

/* KUBECONFIG_PATH, else the first entry of $KUBECONFIG that exists (copied into FIRST, PATH_MAX bytes), else
 * NULL (in-cluster). */
static const char *choose_path(const char *kubeconfig_path, char *first)
{
    const char *path = kubeconfig_path;
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
                if (len > 0 && len < PATH_MAX) {
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
    return path;
}

int kubeconfig_load(struct kubeconfig *c, const char *kubeconfig_path, char *err, size_t errlen)
{
    char first[PATH_MAX];
    const char *path = choose_path(kubeconfig_path, first);
    return path != NULL ? load_kubeconfig(c, path, err, errlen) : load_in_cluster(c, err, errlen);
}

void kubeconfig_release(struct kubeconfig *c)
{
    free(c->server);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->tls_server_name);
    free(c->url_base);
    curl_slist_free_all(c->connect_to);
    kubeconfig_blob_release(&c->ca);
    kubeconfig_blob_release(&c->cert);
    kubeconfig_blob_release(&c->key);
    kubeconfig_wipe_free(c->token);
    free(c->token_file);
    memset(c, 0, sizeof(*c));
}
