/* Log lines: one JSON object per line whatever the values hold, levels honoured. */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "candidate.h"
#include "client.h"
#include "log.h"
#include "testing.h"
#include "tracker.h"

static char path[] = "/tmp/leasefence-test-log.XXXXXX";
static int saved_stderr = -1;

/* Runs FN with stderr sent to a file; returns the file's lines (caller frees). */
static char *capture(void (*fn)(void))
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    off_t n = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
    close(fd);
    unlink(path);
    memcpy(path + strlen(path) - 6, "XXXXXX", 6);
    return buf;
}

static void write_awkward(void)
{
    struct log_field f[] = {
        {"quote", "a \"quoted\" \\ value\n\t", 21}, {"nul", "a\0b", 3},   {"bad-utf8", "x\xff\xc3(y", 5},
        {"utf8", "h\xc3\xa9llo \xe2\x82\xac", 10},  {"skipped", NULL, 0},
    };
    log_set_level("info");
    log_fields(LOGL_WARN, "write denied", f, 5);
    log_event(LOGL_INFO, "plain", "k", "v", "none", NULL, NULL);
    log_event(LOGL_DEBUG, "not shown", NULL);
}

static void test_lines_are_json(void **state)
{
    (void)state;
    char *out = capture(write_awkward);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_error_t e;
    json_t *o = json_loads(out, JSON_ALLOW_NUL, &e);
    if (o == NULL)
        fail_msg("not JSON: %s: %s", e.text, out);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "write denied");
    assert_string_equal(json_string_value(json_object_get(o, "quote")), "a \"quoted\" \\ value\n\t");
    assert_int_equal(json_string_length(json_object_get(o, "nul")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "bad-utf8")), "x\xef\xbf\xbd\xef\xbf\xbd(y");
    assert_string_equal(json_string_value(json_object_get(o, "utf8")), "h\xc3\xa9llo \xe2\x82\xac");
    assert_null(json_object_get(o, "skipped"));
    const char *ts = json_string_value(json_object_get(o, "ts"));
    assert_int_equal(strlen(ts), strlen("2026-11-24T06:12:00.123Z"));
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[23], 'Z');
    json_decref(o);
    o = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "plain");
    assert_string_equal(json_string_value(json_object_get(o, "k")), "v");
    assert_null(json_object_get(o, "none"));
    json_decref(o);
    assert_null(strstr(nl + 1, "not shown"));
    free(out);
}

static void write_long(void)
{
    char big[5000];
    memset(big, '"', sizeof(big));
    struct log_field f[] = {{"big", big, sizeof(big)}};
    log_fields(LOGL_ERROR, "long", f, 1);
}

static void test_long_values_are_cut(void **state)
{
    (void)state;
    char *out = capture(write_long);
    json_error_t e;
    json_t *o = json_loads(out, 0, &e);
    if (o == NULL)
        fail_msg("not JSON: %s", e.text);
    const char *v = json_string_value(json_object_get(o, "big"));
    /* the cut is visible and says how much was left out */
    assert_int_equal(strlen(v), 1024 + strlen("\xe2\x80\xa6(+3976 bytes)"));
    assert_string_equal(v + 1024, "\xe2\x80\xa6(+3976 bytes)");
    json_decref(o);
    free(out);
}

/* A long holder with a NUL byte and two-byte characters: escaped, cut between characters, marked. */
static void write_long_holder(void)
{
    char big[1501];
    big[0] = '\0';
    for (size_t i = 1; i + 1 < sizeof(big); i += 2) {
        big[i] = (char)0xc3; /* é */
        big[i + 1] = (char)0xa9;
    }
    struct log_field f[] = {{"holder", big, sizeof(big)}};
    log_fields(LOGL_ERROR, "long holder", f, 1);
}

static void test_long_values_cut_between_characters(void **state)
{
    (void)state;
    char *out = capture(write_long_holder);
    assert_non_null(strstr(out, "\"holder\":\"\\u0000\xc3\xa9"));
    json_error_t e;
    json_t *o = json_loads(out, JSON_ALLOW_NUL, &e);
    if (o == NULL)
        fail_msg("not JSON: %s", e.text);
    json_t *v = json_object_get(o, "holder");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    /* byte 1024 is inside an é: the NUL and 511 whole é (1023 bytes) are kept, then the mark */
    const char *mark = "\xe2\x80\xa6(+478 bytes)";
    assert_int_equal((int)n, 1023 + (int)strlen(mark));
    assert_memory_equal(s + 1023, mark, strlen(mark));
    assert_null(strstr(s + 1, "\xef\xbf\xbd")); /* no replacement character from a split é */
    json_decref(o);
    free(out);
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(log_set_level("nope"), -1);
    assert_int_equal(log_set_level("error"), 0);
    assert_false(log_enabled(LOGL_WARN));
    assert_true(log_enabled(LOGL_ERROR));
    assert_int_equal(log_set_level("debug"), 0);
    assert_true(log_enabled(LOGL_DEBUG));
    log_set_level("info");
}

/* Size of the file behind stderr right now (the capture helper's file). */
static off_t stderr_size(void)
{
    return lseek(STDERR_FILENO, 0, SEEK_END);
}

static void write_batched(void)
{
    char seq[16];
    log_batch_begin();
    log_event(LOGL_INFO, "one", NULL);
    log_event(LOGL_WARN, "two", NULL);
    assert_int_equal(stderr_size(), 0); /* held until the flush */
    log_flush();
    off_t after_flush = stderr_size();
    assert_true(after_flush > 0);
    log_flush(); /* nothing left: writes nothing */
    assert_int_equal(stderr_size(), after_flush);
    /* Enough lines to fill the buffer several times: flushed on the way, order kept. */
    for (int i = 0; i < 3000; i++) {
        snprintf(seq, sizeof(seq), "%d", i);
        log_event(LOGL_INFO, "many", "seq", seq, NULL);
    }
    assert_true(stderr_size() > after_flush);
    /* A line too big for the buffer (worst case over 64 KiB) goes out at once, after what was held. */
    char v[1024];
    memset(v, 1, sizeof(v));
    struct log_field f[16];
    for (int i = 0; i < 16; i++)
        f[i] = (struct log_field){"k", v, sizeof(v)};
    log_fields(LOGL_ERROR, "huge", f, 16);
    log_event(LOGL_INFO, "last", NULL);
    log_batch_end(); /* flushes "last" */
    log_event(LOGL_INFO, "unbatched", NULL);
}

static void test_batching_keeps_every_line_in_order(void **state)
{
    (void)state;
    char *out = capture(write_batched);
    const char *want_msg[] = {"one", "two"};
    int lines = 0, next_seq = 0;
    bool huge = false, last = false, unbatched = false;
    for (char *p = out, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        json_error_t e;
        json_t *o = json_loads(p, 0, &e);
        if (o == NULL)
            fail_msg("line %d is not JSON: %s", lines + 1, e.text);
        const char *msg = json_string_value(json_object_get(o, "msg"));
        assert_non_null(msg);
        if (lines < 2) {
            assert_string_equal(msg, want_msg[lines]);
        } else if (strcmp(msg, "many") == 0) {
            assert_int_equal((int)strtol(json_string_value(json_object_get(o, "seq")), NULL, 10), next_seq);
            next_seq++;
        } else if (strcmp(msg, "huge") == 0) {
            assert_int_equal(next_seq, 3000);
            huge = true;
        } else if (strcmp(msg, "last") == 0) {
            assert_true(huge);
            last = true;
        } else {
            assert_string_equal(msg, "unbatched");
            assert_true(last);
            unbatched = true;
        }
        json_decref(o);
        lines++;
    }
    assert_int_equal(next_seq, 3000);
    assert_true(unbatched);
    assert_int_equal(lines, 2 + 3000 + 3);
    free(out);
}

/* Two batching threads write to one pipe while it is read slowly: no line is split or mixed. */
struct writer {
    int id;
};

static void *pipe_writer(void *arg)
{
    const struct writer *w = arg;
    char id[8], seq[16], pad[300];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(id, sizeof(id), "%d", w->id);
    log_batch_begin();
    for (int i = 0; i < 4000; i++) {
        snprintf(seq, sizeof(seq), "%d", i);
        log_event(LOGL_INFO, "line", "writer", id, "seq", seq, "pad", pad, NULL);
        if (i % 50 == 49)
            log_flush();
    }
    log_batch_end();
    return NULL;
}

static void test_batches_never_interleave_on_a_pipe(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    pthread_t t[2];
    struct writer w[2] = {{0}, {1}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pipe_writer, &w[i]), 0);
    size_t cap = 8 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    /* Read until both writers' 8,000 lines are in (small reads keep the pipe full, so writers block
     * mid-write), then take stderr back. */
    int newlines = 0;
    while (newlines < 8000) {
        char chunk[1000];
        ssize_t n = read(fds[0], chunk, sizeof(chunk));
        if (n <= 0)
            break;
        assert_true(len + (size_t)n < cap);
        memcpy(buf + len, chunk, (size_t)n);
        len += (size_t)n;
        for (ssize_t i = 0; i < n; i++)
            newlines += chunk[i] == '\n';
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[0]);
    buf[len] = '\0';
    int next[2] = {0, 0}, lines = 0;
    for (char *p = buf, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        json_error_t e;
        json_t *o = json_loads(p, 0, &e);
        if (o == NULL)
            fail_msg("line %d is not JSON (split or mixed): %.80s", lines + 1, p);
        int id = (int)strtol(json_string_value(json_object_get(o, "writer")), NULL, 10);
        assert_true(id == 0 || id == 1);
        assert_int_equal((int)strtol(json_string_value(json_object_get(o, "seq")), NULL, 10), next[id]);
        next[id]++;
        json_decref(o);
        lines++;
    }
    assert_int_equal(next[0], 4000);
    assert_int_equal(next[1], 4000);
    free(buf);
}

/* ---- an embedder's sink: the library's lines reach it, none reach stderr ---- */

struct sink {
    pthread_mutex_t lock;
    char text[65536];
    size_t len;
    int lines;
};
static struct sink sunk = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void to_sink(void *ctx, enum log_level level, const char *line, size_t len)
{
    struct sink *k = ctx;
    (void)level;
    pthread_mutex_lock(&k->lock);
    if (k->len + len < sizeof(k->text)) {
        memcpy(k->text + k->len, line, len);
        k->len += len;
        k->text[k->len] = '\0';
    }
    k->lines++;
    pthread_mutex_unlock(&k->lock);
}

static bool sink_has(const char *needle)
{
    pthread_mutex_lock(&sunk.lock);
    bool r = strstr(sunk.text, needle) != NULL;
    pthread_mutex_unlock(&sunk.lock);
    return r;
}

static int get_fails(void *ctx, const char *ns, const char *name, long t, json_t **out, char *err,
                     size_t errlen)
{
    (void)ctx, (void)ns, (void)name, (void)t, (void)out;
    snprintf(err, errlen, "500 Internal Server Error: injected");
    return 500;
}

static int64_t zero_clock(void *ctx)
{
    (void)ctx;
    return 1;
}

/* A candidate whose reads fail, and a tracker whose API server refuses connections: both log. */
static void library_logs(void)
{
    char err[512], kc[] = "/tmp/leasefence-test-kubeconfig.XXXXXX";
    struct candidate_config cfg;
    candidate_config_init(&cfg);
    cfg.ns = "demo";
    cfg.name = "sink";
    cfg.identity = "me";
    struct candidate_ops ops = {get_fails, NULL, NULL, zero_clock, zero_clock, NULL};
    struct candidate *c = candidate_new_ops(&cfg, &ops, err, sizeof(err));
    assert_non_null(c);
    assert_false(candidate_try(c));
    candidate_free(c);

    int fd = mkstemp(kc);
    assert_true(fd >= 0);
    dprintf(fd,
            "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
            "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: x, user: u}}]\n"
            "current-context: c\n");
    close(fd);
    struct kube_client *kube = kube_client_new(kc, err, sizeof(err));
    unlink(kc);
    assert_non_null(kube);
    struct tracker *t = tracker_new(kube);
    assert_true(tracker_track(t, "demo", "sink", err, sizeof(err)) >= 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    for (int i = 0; i < 500 && !sink_has("cannot list lease"); i++)
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
    tracker_free(t);
    kube_client_free(kube);
}

static void test_sink(void **state)
{
    (void)state;
    log_set_sink(to_sink, &sunk);
    char *out = capture(library_logs);
    log_set_sink(NULL, NULL);
    assert_string_equal(out, ""); /* nothing on stderr */
    free(out);
    assert_true(
        sink_has("\"msg\":\"cannot get lease\",\"lease\":\"demo/sink\",\"error\":\"500 Internal Server "
                 "Error: injected\"}\n"));
    assert_true(sink_has("\"msg\":\"cannot list leases\",\"namespace\":\"demo\""));
    /* whole JSON lines, one a call */
    pthread_mutex_lock(&sunk.lock);
    int newlines = 0;
    for (size_t i = 0; i < sunk.len; i++)
        newlines += sunk.text[i] == '\n';
    assert_int_equal(newlines, sunk.lines);
    pthread_mutex_unlock(&sunk.lock);
    /* back to stderr once the sink is removed */
    out = capture(write_awkward);
    assert_non_null(strstr(out, "\"msg\":\"plain\""));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_are_json),
        cmocka_unit_test(test_long_values_are_cut),
        cmocka_unit_test(test_long_values_cut_between_characters),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_sink),
        cmocka_unit_test(test_batching_keeps_every_line_in_order),
        cmocka_unit_test(test_batches_never_interleave_on_a_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
