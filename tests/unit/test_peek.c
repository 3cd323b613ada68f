/* The watch-event peek: what it finds, what it skips, and where it stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "peek.h"

static bool is(struct peek_str s, const char *want)
{
    return peek_is(s, want, strlen(want));
}

static void test_finds_type_name_and_rv(void **state)
{
    (void)state;
    struct peek_event e;
    const char *line =
        "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\","
        "\"metadata\":{\"name\":\"ctl\",\"namespace\":\"demo\",\"resourceVersion\":\"42\"},"
        "\"spec\":{\"holderIdentity\":\"a\"}}}";
    assert_true(peek_watch_event(line, strlen(line), &e));
    assert_true(is(e.type, "MODIFIED"));
    assert_true(is(e.name, "ctl"));
    assert_true(is(e.rv, "42"));
}

/* Values before metadata, of every kind, are skipped whole: strings with escaped quotes and braces,
 * nested objects and arrays, numbers and literals; metadata may come before the type. */
static void test_skips_every_kind_of_value(void **state)
{
    (void)state;
    struct peek_event e;
    const char *line =
        "{ \"object\" : {\"a\":\"x\\\"}{[\\\\\",\"b\":[1,{\"name\":\"no\"},[true,null]],\"c\":-1.5e3,"
        "\"d\":false,\"e\":{\"metadata\":{\"name\":\"deep\"}},"
        "\"metadata\":{\"labels\":{\"name\":\"label\"},\"resourceVersion\":\"7\",\"name\":\"real\"}},"
        "\"type\":\"ADDED\"}";
    assert_true(peek_watch_event(line, strlen(line), &e));
    assert_true(is(e.name, "real"));
    assert_true(is(e.rv, "7"));
    assert_true(is(e.type, "ADDED"));
}

/* A name with an escape is not unescaped: not found (the caller decodes the line whole). */
static void test_escaped_name_not_found(void **state)
{
    (void)state;
    struct peek_event e;
    const char *line =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\\u0061\",\"resourceVersion\":\"1\"}}}";
    assert_false(peek_watch_event(line, strlen(line), &e));
    assert_null(e.name.p);
    assert_true(is(e.type, "ADDED"));
    assert_true(is(e.rv, "1"));
}

/* What comes before the line breaks off or stops being JSON is found; nothing after. */
static void test_broken_lines(void **state)
{
    (void)state;
    struct peek_event e;
    const char *cut = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"turns-bad\"";
    assert_true(peek_watch_event(cut, strlen(cut), &e));
    assert_true(is(e.name, "turns-bad"));
    assert_null(e.rv.p);
    /* a skipped value is not validated, only its brackets counted: the name after it is found */
    const char *bad = "{\"type\":\"MODIFIED\",\"object\":{\"spec\":{,},\"metadata\":{\"name\":\"after\"}}}";
    assert_true(peek_watch_event(bad, strlen(bad), &e));
    assert_true(is(e.name, "after"));
    /* where the structure itself breaks, it stops */
    const char *broken = "{\"type\":\"MODIFIED\",\"object\":{\"spec\" {},\"metadata\":{\"name\":\"after\"}}}";
    assert_false(peek_watch_event(broken, strlen(broken), &e));
    assert_true(is(e.type, "MODIFIED"));
    const char *cases[] = {"",
                           "nope",
                           "{",
                           "{\"type\"",
                           "[\"type\",\"ADDED\"]",
                           "{\"object\":\"str\"}",
                           "{\"object\":{\"metadata\":{\"name\":7}}}",
                           "{\"object\":{\"metadata\":{\"name\":\"x"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_false(peek_watch_event(cases[i], strlen(cases[i]), &e));
        assert_null(e.name.p);
    }
    /* the length bounds the scan: a name past it is not read */
    const char *line = "{\"object\":{\"metadata\":{\"name\":\"abc\"}}}";
    assert_false(peek_watch_event(line, strlen(line) - 10, &e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_type_name_and_rv),
        cmocka_unit_test(test_skips_every_kind_of_value),
        cmocka_unit_test(test_escaped_name_not_found),
        cmocka_unit_test(test_broken_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
