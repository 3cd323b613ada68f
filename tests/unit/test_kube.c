/* Unit tests of the Kubernetes client: kubeconfig, in-cluster settings, Status errors, watch decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "fake_server.h"
#include "kube.h"
#include "version.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_kube.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define HEAD                                                                                                 \
    "apiVersion: v1\nkind: Config\ncurrent-context: sim\n"                                                   \
    "contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n- name: sim\n  context:\n    "        \
    "cluster: c1\n"                                                                                          \
    "    user: u1\n"

static struct kube_client *load(const char *yaml, char *err, size_t errlen)
{
    const char *p = write_file("kubeconfig", yaml);
    return kube_client_new(p, err, errlen);
}

static void test_kubeconfig_token_and_ca_data(void **state)
{
    (void)state;
    char err[512] = "";
    /* "-----BEGIN" in base64 */
    struct kube_client *c =
        load(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:6443/\n"
                  "    certificate-authority-data: LS0tLS1CRUdJTg==\n"
                  "users:\n- name: u1\n  user:\n    token: s3cret\n",
             err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(kube_client_server(c), "https://127.0.0.1:6443");
    kube_client_free(c);
}

static void test_kubeconfig_files_relative(void **state)
{
    (void)state;
    char err[512] = "";
    write_file("tok", "abc\n");
    struct kube_client *c = load(
        HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h:1\n    certificate-authority: ca.crt\n"
             "    insecure-skip-tls-verify: false\n"
             "users:\n- name: u1\n  user:\n    tokenFile: tok\n",
        err, sizeof(err));
    assert_non_null(c);
    kube_client_free(c);
    /* a missing token file is an error that names it */
    c = load(HEAD "clusters:\n- name: c1\n  cluster:\n    server: https://h:1\n"
                  "users:\n- name: u1\n  user:\n    tokenFile: missing\n",
             err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "missing"));
}

static void expect_error(const char *yaml, const char *want)
{
    char err[512] = "";
    struct kube_client *c = load(yaml, err, sizeof(err));
    if (c != NULL) {
        kube_client_free(c);
        fail_msg("accepted a kubeconfig that should fail with '%s'", want);
    }
    if (strstr(err, want) == NULL)
        fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_kubeconfig_errors(void **state)
{
    (void)state;
    expect_error("apiVersion: v1\nclusters: []\n", "no current-context");
    expect_error("current-context: x\ncontexts: []\n", "context 'x' not found");
    expect_error(HEAD "clusters: []\n", "cluster 'c1' of context 'sim' not found");
    expect_error(HEAD "clusters:\n- name: c1\n  cluster: {}\n", "has no server");
    expect_error(HEAD "clusters:\n- name: c1\n  cluster: {server: 'ftp://x'}\n", "not an http(s) URL");
    expect_error(
        HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x', certificate-authority-data: '!!'}\n",
        "certificate-authority-data is not base64");
    expect_error(HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\nusers: []\n",
                 "user 'u1' of context 'sim' not found");
    expect_error(HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                      "users:\n- name: u1\n  user:\n    exec:\n      command: aws\n",
                 "exec credential plugin");
    expect_error(HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                      "users:\n- name: u1\n  user:\n    auth-provider:\n      name: gcp\n",
                 "auth-provider");
    expect_error(HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://x'}\n"
                      "users:\n- name: u1\n  user:\n    client-certificate: a.crt\n",
                 "needs both certificate and key");
    expect_error("current-context: [unclosed\n", "invalid YAML");
    char err[512];
    assert_null(kube_client_new("/nonexistent/kubeconfig", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/kubeconfig"));
}

static void test_kubeconfig_env_and_in_cluster(void **state)
{
    (void)state;
    char err[512] = "";
    const char *p = write_file("kc2", HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://envhost:1'}\n"
                                           "users:\n- name: u1\n  user: {token: t}\n");
    char env[600];
    snprintf(env, sizeof(env), "/nonexistent:%s", p);
    setenv("KUBECONFIG", env, 1);
    struct kube_client *c = kube_client_new(NULL, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(kube_client_server(c), "https://envhost:1");
    kube_client_free(c);
    unsetenv("KUBECONFIG");

    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_null(kube_client_new(NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));

    write_file("token", "sa-token\n");
    write_file("ca.crt", "x");
    setenv("LEASEFENCE_TEST_SERVICEACCOUNT_DIR", dir, 1);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    c = kube_client_new(NULL, err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(kube_client_server(c), "https://[fd00::1]:443");
    kube_client_free(c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("LEASEFENCE_TEST_SERVICEACCOUNT_DIR");
}

static void test_status_error(void **state)
{
    (void)state;
    char err[256];
    json_t *st =
        json_loads("{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409,"
                   "\"message\":\"the object has been modified\"}",
                   0, NULL);
    kube_status_error(409, st, err, sizeof(err));
    assert_string_equal(err, "409 Conflict: the object has been modified");
    json_decref(st);
    kube_status_error(503, NULL, err, sizeof(err));
    assert_string_equal(err, "503 ServiceUnavailable");
    char *p = kube_lease_path("demo", "x", "watch=1");
    assert_string_equal(p, "/apis/coordination.k8s.io/v1/namespaces/demo/leases/x?watch=1");
    free(p);
}

static void test_unreachable_counts(void **state)
{
    (void)state;
    char err[512] = "";
    struct kube_client *c = load(HEAD "clusters:\n- name: c1\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                                      "users:\n- name: u1\n  user: {token: t}\n",
                                 err, sizeof(err));
    assert_non_null(c);
    json_t *out = NULL;
    int code = kube_lease_get(c, "demo", "x", 2000, &out, err, sizeof(err));
    assert_int_equal(code, 0);
    assert_null(out);
    assert_non_null(strstr(err, "cannot get lease 'demo/x'"));
    assert_null(strstr(err, "Bearer"));
    struct kube_code_count rows[4];
    assert_int_equal(kube_client_request_counts(c, rows, 4), 1);
    assert_int_equal(rows[0].code, 0);
    assert_int_equal((int)rows[0].count, 1);
    kube_client_free(c);
}

struct seen {
    int n;
    char types[8][16];
    char names[8][32];
};

static int on_event(void *ctx, const char *type, json_t *obj)
{
    struct seen *s = ctx;
    if (s->n >= 8)
        return -1;
    snprintf(s->types[s->n], sizeof(s->types[0]), "%s", type);
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name ? name : "");
    s->n++;
    return 0;
}

static void test_watch_decoder(void **state)
{
    (void)state;
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, 200);
    struct seen s = {0};
    char err[256];
    const char *stream = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
                         "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}\r\n\n"
                         "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n";
    /* byte by byte: events split across reads */
    for (size_t i = 0; stream[i]; i++)
        assert_int_equal(kube_watch_feed(&d, stream + i, 1, on_event, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.types[0], "ADDED");
    assert_string_equal(s.names[1], "b");
    assert_string_equal(s.types[2], "BOOKMARK");
    /* several events in one read */
    s.n = 0;
    assert_int_equal(kube_watch_feed(&d, stream, strlen(stream), on_event, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 3);
    /* garbage and oversized lines are errors, not crashes */
    assert_int_equal(kube_watch_feed(&d, "nope\n", 5, on_event, &s, err, sizeof(err)), -1);
    d.len = 0;
    assert_int_equal(kube_watch_feed(&d, "{\"type\":\"ADDED\"}\n", 17, on_event, &s, err, sizeof(err)), -1);
    d.len = 0;
    char big[300];
    memset(big, 'x', sizeof(big));
    assert_int_equal(kube_watch_feed(&d, big, sizeof(big), on_event, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than"));
    kube_watch_decoder_release(&d);
}

/* SKIP drops the lines that name "drop" (LINE may be the cut start of an overlong line). */
static bool skip_drop(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    return len >= 38 && memcmp(line + 28, "\"drop\"", 6) == 0;
}

/* A line longer than the cap that SKIP drops is read past, in any split; one it keeps is an error. */
static void test_watch_decoder_overlong(void **state)
{
    (void)state;
    const char *pre = "{\"type\":\"MODIFIED\",\"object\":\"drop\",\"pad\":\"";
    const char *next = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n";
    char stream[1024];
    size_t n = (size_t)snprintf(stream, sizeof(stream), "%s", pre);
    memset(stream + n, 'x', 500);
    n += 500;
    n += (size_t)snprintf(stream + n, sizeof(stream) - n, "\"}\n%s", next);
    for (size_t step = 1; step <= n; step = step < 8 ? step + 1 : step * 3) {
        struct kube_watch_decoder d;
        kube_watch_decoder_init(&d, 200);
        d.skip = skip_drop;
        struct seen s = {0};
        char err[256] = "";
        for (size_t i = 0; i < n; i += step)
            if (kube_watch_feed(&d, stream + i, i + step > n ? n - i : step, on_event, &s, err,
                                sizeof(err)) != 0)
                fail_msg("step %zu: %s", step, err);
        assert_int_equal(s.n, 1);
        assert_string_equal(s.names[0], "a");
        kube_watch_decoder_release(&d);
    }
    /* the same line naming another: an error */
    memcpy(stream + 28, "\"keep\"", 6);
    struct kube_watch_decoder d;
    kube_watch_decoder_init(&d, 200);
    d.skip = skip_drop;
    struct seen s = {0};
    char err[256] = "";
    assert_int_equal(kube_watch_feed(&d, stream, n, on_event, &s, err, sizeof(err)), -1);
    assert_string_equal(err, "watch event longer than 200 bytes");
    assert_int_equal(s.n, 0);
    kube_watch_decoder_release(&d);
}

/* A fake API server (one connection at a time) that records requests and answers each with a Status. */
struct status_fake {
    struct fake_server srv;
    int served;
    int limit; /* requests to serve (at most 4) */
    int code;  /* 409 Conflict or 401 Unauthorized */
    char heads[4][8192];
};

/* Answers the requests of one connection (fake_server_handler), until LIMIT were served in all. */
static void status_fake_serve(void *ctx, int c)
{
    struct status_fake *sf = ctx;
    static const char conflict[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Conflict\","
        "\"code\":409,\"message\":\"the object has been modified\"}";
    static const char unauthorized[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
        "\"reason\":\"Unauthorized\",\"code\":401,\"message\":\"Unauthorized\"}";
    const char *body = sf->code == 401 ? unauthorized : conflict;
    while (sf->served < sf->limit) {
        char buf[8192];
        if (fake_server_read_request(c, buf, sizeof(buf), true) == 0)
            return;
        snprintf(sf->heads[sf->served % 4], sizeof(sf->heads[0]), "%s", buf);
        sf->served++;
        char resp[1024];
        int m = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         sf->code == 401 ? "401 Unauthorized" : "409 Conflict", strlen(body), body);
        if (write(c, resp, (size_t)m) != m)
            return;
    }
}

/* Starts FS and returns a client of it whose token is in file TOKEN_FILE (relative to the kubeconfig),
 * holding TOKEN; you own the client. */
static struct kube_client *status_fake_start(struct status_fake *fs, const char *token_file,
                                             const char *token)
{
    fake_server_start(&fs->srv, status_fake_serve, fs, false);
    char text[128];
    snprintf(text, sizeof(text), "%s\n", token);
    write_file(token_file, text);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             HEAD "clusters:\n- name: c1\n  cluster: {server: 'http://127.0.0.1:%d'}\n"
                  "users:\n- name: u1\n  user: {tokenFile: %s}\n",
             fs->srv.port, token_file);
    char err[512] = "";
    struct kube_client *c = load(yaml, err, sizeof(err));
    if (c == NULL)
        fail_msg("kubeconfig of the fake: %s", err);
    return c;
}

/* client-go re-reads a token file after a 401 (a rotated, revoked token) instead of waiting out the interval
 */
static void test_token_reread_after_401(void **state)
{
    (void)state;
    struct status_fake fs = {.limit = 3, .code = 401};
    struct kube_client *c = status_fake_start(&fs, "401-token", "old-token");
    assert_non_null(c);
    char err[512] = "";
    json_t *out = NULL;
    assert_int_equal(kube_lease_get(c, "demo", "x", 2000, &out, err, sizeof(err)), 401);
    assert_string_equal(err, "cannot get lease 'demo/x': 401 Unauthorized: Unauthorized");
    assert_non_null(strstr(fs.heads[0], "Bearer old-token\r\n"));
    /* rotated: the next request, well inside the 60 s interval, carries the new token */
    write_file("401-token", "new-token\n");
    sleep(1); /* re-reads after 401s are at most one a second */
    assert_int_equal(kube_lease_get(c, "demo", "x", 2000, &out, err, sizeof(err)), 401);
    assert_non_null(strstr(fs.heads[1], "Bearer new-token\r\n"));
    /* a 401 right after a re-read does not read the file again at once */
    write_file("401-token", "newer-token\n");
    assert_int_equal(kube_lease_get(c, "demo", "x", 2000, &out, err, sizeof(err)), 401);
    assert_non_null(strstr(fs.heads[2], "Bearer new-token\r\n"));
    kube_client_free(c);
    fake_server_stop(&fs.srv);
}

static void test_requests_headers_token_reread(void **state)
{
    (void)state;
    struct status_fake fs = {.limit = 4, .code = 409};
    struct kube_client *c = status_fake_start(&fs, "rot-token", "first-token");
    assert_non_null(c);
    char err[512] = "";
    json_t *obj = json_loads("{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}", 0, NULL);
    json_t *out = NULL;
    int code = kube_lease_update(c, "demo", "x", obj, 2000, &out, err, sizeof(err));
    assert_int_equal(code, 409);
    assert_null(out);
    assert_string_equal(err, "cannot update lease 'demo/x': 409 Conflict: the object has been modified");
    assert_non_null(
        strstr(fs.heads[0], "PUT /apis/coordination.k8s.io/v1/namespaces/demo/leases/x HTTP/1.1"));
    assert_non_null(strstr(fs.heads[0], "Authorization: Bearer first-token\r\n"));
    assert_non_null(strstr(fs.heads[0], "User-Agent: leasefence/" LEASEFENCE_VERSION "\r\n"));
    assert_non_null(strstr(fs.heads[0], "Content-Type: application/json\r\n"));
    assert_non_null(strstr(fs.heads[0], "\"resourceVersion\":\"1\""));

    /* the token file rotates; it is re-read once the interval has passed */
    write_file("rot-token", "second-token\n");
    code = kube_lease_get(c, "demo", "x", 2000, &out, err, sizeof(err));
    assert_int_equal(code, 409);
    assert_non_null(strstr(fs.heads[1], "Bearer first-token"));
    kube_client_set_token_reread(c, 0);
    code = kube_lease_get(c, "demo", "x", 2000, &out, err, sizeof(err));
    assert_non_null(strstr(fs.heads[2], "Bearer second-token"));
    assert_non_null(
        strstr(fs.heads[2], "GET /apis/coordination.k8s.io/v1/namespaces/demo/leases/x HTTP/1.1"));
    /* a vanished token file keeps the last good token */
    char p[600];
    snprintf(p, sizeof(p), "%s/rot-token", dir);
    unlink(p);
    code = kube_lease_delete(c, "demo", "x", 2000, err, sizeof(err));
    assert_int_equal(code, 409);
    assert_non_null(strstr(fs.heads[3], "Bearer second-token"));
    assert_non_null(strstr(fs.heads[3], "DELETE "));

    struct kube_code_count rows[4];
    assert_int_equal(kube_client_request_counts(c, rows, 4), 1);
    assert_int_equal(rows[0].code, 409);
    assert_int_equal((int)rows[0].count, 4);
    json_decref(obj);
    kube_client_free(c);
    fake_server_stop(&fs.srv);
}

/* Header lists the tracker shares between requests: equal while the token stays, different once it rotates.
 */
static void test_headers_equal_until_the_token_rotates(void **state)
{
    (void)state;
    write_file("hdr-token", "one\n");
    char err[512] = "";
    struct kube_client *c = load(HEAD "clusters:\n- name: c1\n  cluster: {server: 'http://127.0.0.1:1'}\n"
                                      "users:\n- name: u1\n  user: {tokenFile: hdr-token}\n",
                                 err, sizeof(err));
    assert_non_null(c);
    struct curl_slist *a = kube_headers(c, "GET"), *b = kube_headers(c, "GET"), *w = kube_headers(c, "PUT");
    assert_true(kube_headers_equal(a, b));
    assert_false(kube_headers_equal(a, w)); /* writes carry Content-Type */
    assert_false(kube_headers_equal(a, NULL));
    assert_string_equal(a->next->data, "Authorization: Bearer one");
    write_file("hdr-token", "two\n");
    kube_client_set_token_reread(c, 0);
    struct curl_slist *r = kube_headers(c, "GET");
    assert_false(kube_headers_equal(a, r));
    assert_string_equal(r->next->data, "Authorization: Bearer two");
    kube_headers_free(a);
    kube_headers_free(b);
    kube_headers_free(w);
    kube_headers_free(r);
    kube_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubeconfig_token_and_ca_data),
        cmocka_unit_test(test_kubeconfig_files_relative),
        cmocka_unit_test(test_kubeconfig_errors),
        cmocka_unit_test(test_kubeconfig_env_and_in_cluster),
        cmocka_unit_test(test_status_error),
        cmocka_unit_test(test_unreachable_counts),
        cmocka_unit_test(test_watch_decoder),
        cmocka_unit_test(test_watch_decoder_overlong),
        cmocka_unit_test(test_token_reread_after_401),
        cmocka_unit_test(test_requests_headers_token_reread),
        cmocka_unit_test(test_headers_equal_until_the_token_rotates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
