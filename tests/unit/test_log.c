/* Log lines: one JSON object per line whatever the values hold, levels honoured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"

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
    assert_int_equal(strlen(v), 1024 + 3);
    assert_string_equal(v + 1024, "...");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_are_json),
        cmocka_unit_test(test_long_values_are_cut),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
