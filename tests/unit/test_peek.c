/* The peek at a watch event or a list item: what it finds, what it skips, and where it stops. */
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

/* A bare object, as a list's item is: its own metadata.name and resourceVersion, whatever comes first. */
static void test_object(void **state)
{
    (void)state;
    struct peek_event e;
    const char *item = "{\"kind\":\"Lease\",\"spec\":{\"metadata\":{\"name\":\"nested\"},\"a\":[\"}\"]},"
                       "\"metadata\":{\"resourceVersion\":\"9\",\"labels\":{\"name\":\"label\"},"
                       "\"name\":\"ctl\",\"namespace\":\"demo\"},\"type\":\"ADDED\"}";
    assert_true(peek_object(item, strlen(item), &e));
    assert_true(is(e.name, "ctl"));
    assert_true(is(e.rv, "9"));
    assert_null(e.type.p); /* a key "type" of the object is not an event's type */
    /* it stops once it has both: what follows is not looked at */
    const char *early = "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"},\"spec\":{,,";
    assert_true(peek_object(early, strlen(early), &e));
    assert_true(is(e.name, "a"));
    /* the cut start of an object longer than a cap: the name is found when it lies in it */
    const char *cut = "{\"metadata\":{\"name\":\"big\",\"uid\":\"u\"},\"spec\":{\"holderIdentity\":\"xxxx";
    assert_true(peek_object(cut, strlen(cut), &e));
    assert_true(is(e.name, "big"));
    assert_null(e.rv.p);
    assert_false(peek_object(cut, 20, &e)); /* {"metadata":{"name" */
    assert_null(e.name.p);
    /* an escaped name is not found; nor is anything in a watch event (its object is one level down) */
    const char *escaped = "{\"metadata\":{\"name\":\"b\\u0000x\",\"resourceVersion\":\"2\"}}";
    assert_false(peek_object(escaped, strlen(escaped), &e));
    assert_null(e.name.p);
    assert_true(is(e.rv, "2"));
    const char *event = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ctl\"}}}";
    assert_false(peek_object(event, strlen(event), &e));
    const char *cases[] = {"",
                           "7",
                           "\"str\"",
                           "[{\"metadata\":{\"name\":\"a\"}}]",
                           "{\"metadata\":{\"name\":null}}",
                           "{\"metadata\":[\"name\",\"a\"]}"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_false(peek_object(cases[i], strlen(cases[i]), &e));
        assert_null(e.name.p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_type_name_and_rv),
        cmocka_unit_test(test_skips_every_kind_of_value),
        cmocka_unit_test(test_escaped_name_not_found),
        cmocka_unit_test(test_broken_lines),
        cmocka_unit_test(test_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
