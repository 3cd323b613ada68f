/*
 * The shared runtime tier (elector/common): the duration grammar, the name validator, the capped buffer,
 * the file reader, the fatal path and the allocators' growth.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "candidate.h"
#include "lf_buf.h"
#include "lf_duration.h"
#include "lf_file.h"
#include "lf_name.h"
#include "tracker.h"
#include "xmem.h"

/* Under ASan, an impossible allocation returns NULL (as from glibc) so the fatal path is what runs. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* ASan then still warns "failed to allocate" into its log_path, which `make sanitize` counts as a report:
 * the children that fail an allocation on purpose send sanitizer output to /dev/null (a weak reference,
 * absent without a sanitizer runtime). */
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));
static void quiet_sanitizer(void)
{
    if (__sanitizer_set_report_fd != NULL)
        __sanitizer_set_report_fd((void *)(intptr_t)open("/dev/null", O_WRONLY));
}

#define S 1000000000LL

static void test_duration_grammar(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t ns;
    } ok[] = {
        {"0", 0},
        {"+0", 0},
        {"-0", 0},
        {"-0s", 0},
        {"0s", 0},
        {"5ns", 5},
        {"250us", 250000},
        {"250\xc2\xb5s", 250000}, /* U+00B5 */
        {"250\xce\xbcs", 250000}, /* U+03BC */
        {"500ms", 500000000},
        {"2s", 2 * S},
        {"1m30s", 90 * S},
        {"1h", 3600 * S},
        {"1.5s", 1500000000},
        {".5s", 500000000},
        {"1.s", S},
        {"+2s", 2 * S},
        {"1.000000001s", S + 1},
        {"1h1m1s1ms1us1ns", 3661 * S + 1001001},
        {"0.000000001s", 1},
        {"2562047h47m16.854775807s", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ns = -7;
        char err[128] = "";
        if (lf_duration_parse(ok[i].in, &ns, err, sizeof(err)) != 0)
            fail_msg("'%s' refused: %s", ok[i].in, err);
        if (ns != ok[i].ns)
            fail_msg("'%s' is %lld ns, want %lld", ok[i].in, (long long)ns, (long long)ok[i].ns);
    }
    static const struct {
        const char *in, *err;
    } bad[] = {
        {"3", "invalid duration '3': missing unit"},
        {"1m30", "invalid duration '1m30': missing unit"},
        {"1.2.3s", "invalid duration '1.2.3s': missing unit"},
        {"", "invalid duration '': empty"},
        {"+", "invalid duration '+': empty"},
        {"s", "invalid duration 's': expected a number"},
        {".s", "invalid duration '.s': expected a number"},
        {"1d", "invalid duration '1d': unknown unit 'd'"},
        {"1ss", "invalid duration '1ss': unknown unit 'ss'"},
        {"1 s", "invalid duration '1 s': unknown unit ' s'"},
        {"-1s", "invalid duration '-1s': negative"},
        {"-1x", "invalid duration '-1x': unknown unit 'x'"},
        {"-", "invalid duration '-': empty"},
        {"2562047h47m16.854775808s", "invalid duration '2562047h47m16.854775808s': out of range"},
        {"9223372036854775808ns", "invalid duration '9223372036854775808ns': out of range"},
        {"3000000h", "invalid duration '3000000h': out of range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns = -7;
        char err[128] = "";
        if (lf_duration_parse(bad[i].in, &ns, err, sizeof(err)) == 0)
            fail_msg("'%s' accepted as %lld ns", bad[i].in, (long long)ns);
        assert_string_equal(err, bad[i].err);
        assert_true(ns == -7); /* untouched */
    }
}

/* elect's parser is the same grammar: what serve refused (1m30s) and what serve took (3). */
static void test_duration_one_grammar(void **state)
{
    (void)state;
    int64_t ns = 0;
    assert_int_equal(candidate_parse_duration("1m30s", &ns), 0);
    assert_true(ns == 90 * S);
    assert_int_equal(candidate_parse_duration("3", &ns), -1);
}

static void test_names(void **state)
{
    (void)state;
    char l63[64], l64[65], sub253[254], sub254[255];
    memset(l63, 'a', 63), l63[63] = '\0';
    memset(l64, 'a', 64), l64[64] = '\0';
    for (size_t i = 0; i < 253; i++)
        sub253[i] = i % 2 ? '.' : 'a';
    sub253[253] = '\0';
    memcpy(sub254, sub253, 253), memcpy(sub254 + 253, "a", 2);
    const char *labels_ok[] = {"a", "demo", "a-b", "0a", l63};
    const char *labels_bad[] = {"", "-a", "a-", "A", "a.b", "a_b", "a?b", l64};
    for (size_t i = 0; i < sizeof(labels_ok) / sizeof(*labels_ok); i++)
        assert_true(lf_name_label(labels_ok[i], strlen(labels_ok[i])));
    for (size_t i = 0; i < sizeof(labels_bad) / sizeof(*labels_bad); i++)
        if (lf_name_label(labels_bad[i], strlen(labels_bad[i])))
            fail_msg("label '%s' accepted", labels_bad[i]);
    /* kube-apiserver's subdomain rule bounds the whole name (253), not each part: a part of 64 passes */
    char long_part[80];
    snprintf(long_part, sizeof(long_part), "%s.b", l64);
    const char *subs_ok[] = {"a", "a.b", "my-lease.v1", sub253, l64, long_part};
    const char *subs_bad[] = {"", ".a", "a.", "a..b", "a.-b", "a-.b", "x?y", "A.b", sub254};
    for (size_t i = 0; i < sizeof(subs_ok) / sizeof(*subs_ok); i++)
        assert_true(lf_name_subdomain(subs_ok[i], strlen(subs_ok[i])));
    for (size_t i = 0; i < sizeof(subs_bad) / sizeof(*subs_bad); i++)
        if (lf_name_subdomain(subs_bad[i], strlen(subs_bad[i])))
            fail_msg("subdomain '%s' accepted", subs_bad[i]);
}

static void test_lease_refs(void **state)
{
    (void)state;
    char err[256];
    size_t ns_len = 0;
    assert_int_equal(lf_name_split_lease("demo/my.lease", &ns_len, err, sizeof(err)), 0);
    assert_int_equal(ns_len, 4);
    assert_int_equal(lf_name_split_lease("demo/x?y", &ns_len, err, sizeof(err)), -1);
    assert_string_equal(err, "name 'x?y' is not a valid Lease name (RFC 1123 subdomain)");
    assert_int_equal(lf_name_split_lease("Demo/x", &ns_len, err, sizeof(err)), -1);
    assert_string_equal(err, "namespace 'Demo' is not a valid namespace name (RFC 1123 label)");
    assert_int_equal(lf_name_split_lease("demo", &ns_len, err, sizeof(err)), -1);
    assert_string_equal(err, "must be \"NAMESPACE/NAME\", got 'demo'");
    assert_int_equal(lf_name_split_lease("a/b/c", &ns_len, err, sizeof(err)), -1);
}

/* The tracker validates with the same rules: it used to take "a..b" and "a.-b" (dots anywhere). */
static void test_tracker_names(void **state)
{
    (void)state;
    char err[256];
    struct tracker *t = tracker_new(NULL);
    assert_true(tracker_track(t, "demo", "my.lease", err, sizeof(err)) >= 0);
    assert_int_equal(tracker_track(t, "demo", "a..b", err, sizeof(err)), -1);
    assert_string_equal(err, "name 'a..b' is not a valid Lease name (RFC 1123 subdomain)");
    assert_int_equal(tracker_track(t, "demo", "a.-b", err, sizeof(err)), -1);
    assert_int_equal(tracker_track(t, "de.mo", "x", err, sizeof(err)), -1);
    assert_string_equal(err, "namespace 'de.mo' is not a valid namespace name (RFC 1123 label)");
    tracker_free(t);
}

static void test_buf(void **state)
{
    (void)state;
    struct lf_buf b;
    lf_buf_init(&b, 8);
    assert_null(b.data);
    assert_int_equal(lf_buf_append(&b, "abc", 3), 0);
    assert_int_equal(lf_buf_append(&b, "d\0f", 3), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "abcd\0f", 7); /* NUL-terminated after the data */
    assert_false(b.overflow);
    assert_int_equal(lf_buf_append(&b, "xyz", 3), -1); /* 9 > 8: nothing appended */
    assert_true(b.overflow);
    assert_int_equal(b.len, 6);
    assert_int_equal(lf_buf_append(&b, "xy", 2), 0); /* exactly the cap */
    assert_string_equal(b.data + 6, "xy");
    assert_int_equal(lf_buf_append(&b, (const char *)"", SIZE_MAX), -1); /* no overflow in the check */
    lf_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_false(b.overflow);
    assert_int_equal(lf_buf_curl_write((char *)"12345", 1, 5, &b), 5);
    assert_int_equal(lf_buf_curl_write((char *)"12345", 5, 1, &b), 0); /* curl fails the transfer */
    assert_true(b.overflow);
    assert_string_equal(b.data, "12345");
    lf_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.max, 8);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/leasefence-test-common.XXXXXX", err[512], want[600];
    size_t len = 0;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\0world", 11), 11);
    close(fd);
    char *p = lf_file_read("token file", path, 11, &len, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(len, 11);
    assert_memory_equal(p, "hello\0world", 12);
    free(p);
    assert_null(lf_file_read("token file", path, 10, &len, err, sizeof(err)));
    snprintf(want, sizeof(want), "token file '%s': larger than 10 bytes", path);
    assert_string_equal(err, want);
    unlink(path);
    assert_null(lf_file_read("config", path, 10, &len, err, sizeof(err)));
    snprintf(want, sizeof(want), "config '%s': cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(lf_file_read("config", "/", 10, &len, err, sizeof(err)));
    assert_string_equal(err, "config '/': cannot read: Is a directory");
}

/* Runs FN in a child with stderr on a pipe; its wait status (or -1: still running after 10 s, killed). */
static int in_child(void (*fn)(void), char *out, size_t outlen)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        signal(SIGABRT, SIG_DFL);
        quiet_sanitizer();
        fn();
        _exit(0);
    }
    close(p[1]);
    int status = 0;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
        if (i == 999) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
        }
    }
    ssize_t n = read(p[0], out, outlen - 1);
    out[n > 0 ? n : 0] = '\0';
    close(p[0]);
    return status;
}

static void grow_past_half(void)
{
    char *b = NULL;
    size_t cap = 0;
    xgrow(&b, &cap, SIZE_MAX / 2 + 2);
}

static void malloc_all(void)
{
    void *p = xmalloc(SIZE_MAX - 4096);
    free(p);
}

static void assert_fatal_line(int status, const char *out, const char *what, const char *size)
{
    char want[128];
    if (status == -1)
        fail_msg("the child did not end within 10 s (xgrow loops?)");
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(out, "\"level\":\"fatal\",\"msg\":\"out of memory\""));
    snprintf(want, sizeof(want), "\"what\":\"%s\",\"size\":\"%s\"", what, size);
    if (strstr(out, want) == NULL)
        fail_msg("no %s in: %s", want, out);
    assert_non_null(strstr(out, "\"file\":\"tests/unit/test_common.c\",\"line\":\""));
    assert_int_equal(out[strlen(out) - 1], '\n');
}

/* Past SIZE_MAX / 2 the doubling used to overflow to 0 and loop forever; now the fatal path says so. */
static void test_xgrow_huge(void **state)
{
    (void)state;
    char out[1024], size[32];
    int status = in_child(grow_past_half, out, sizeof(out));
    snprintf(size, sizeof(size), "%zu", SIZE_MAX / 2 + 2);
    assert_fatal_line(status, out, "realloc", size);
}

static void test_fatal_oom(void **state)
{
    (void)state;
    char out[1024], size[32];
    int status = in_child(malloc_all, out, sizeof(out));
    snprintf(size, sizeof(size), "%zu", SIZE_MAX - 4096);
    assert_fatal_line(status, out, "malloc", size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_grammar),
        cmocka_unit_test(test_duration_one_grammar),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_lease_refs),
        cmocka_unit_test(test_tracker_names),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_xgrow_huge),
        cmocka_unit_test(test_fatal_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
