/* The list scanner: the same elements and metadata in any split of the body, capped elements, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "listscan.h"

/* What the callback saw: each element as "[T]TEXT\n" (T: 't' when truncated, else '-'). */
struct seen {
    char trace[4096];
    size_t len;
    int calls;
    int fail_at; /* the callback refuses its call number FAIL_AT (from 1); 0: never */
};

static int on_item(void *ctx, const char *item, size_t len, bool truncated, char *err, size_t errlen)
{
    struct seen *s = ctx;
    s->calls++;
    if (s->fail_at == s->calls) {
        snprintf(err, errlen, "item %d refused", s->calls);
        return -1;
    }
    int n = snprintf(s->trace + s->len, sizeof(s->trace) - s->len, "[%c]%.*s\n", truncated ? 't' : '-',
                     (int)len, item);
    assert_true(n > 0 && (size_t)n < sizeof(s->trace) - s->len);
    s->len += (size_t)n;
    return 0;
}

/* Scans BODY fed in pieces of STEP bytes (0: whole), with elements capped at MAX; the result of the end,
 * ERR filled.  The metadata goes to META (NUL-terminated) when not NULL. */
static int scan(const char *body, size_t len, size_t step, size_t max, struct seen *s, char *meta, char *err,
                size_t errlen)
{
    struct listscan ls;
    listscan_init(&ls, max, on_item, s);
    int r = 0;
    if (step == 0)
        step = len ? len : 1;
    for (size_t i = 0; i < len && r == 0; i += step) {
        size_t take = len - i < step ? len - i : step;
        char *piece = malloc(take); /* an exact-size copy: reading past it is caught by sanitizers */
        assert_non_null(piece);
        memcpy(piece, body + i, take);
        r = listscan_feed(&ls, piece, take, err, errlen);
        free(piece);
    }
    if (r == 0)
        r = listscan_end(&ls, err, errlen);
    if (meta != NULL) {
        snprintf(meta, 256, "%.*s", (int)ls.meta_len, ls.meta ? ls.meta : "");
    }
    listscan_release(&ls);
    return r;
}

/* Scans BODY whole, in every split in two and a byte at a time: each gives TRACE and META, no error. */
static void scan_every_way(const char *body, size_t max, const char *trace, const char *meta)
{
    size_t len = strlen(body);
    for (size_t split = 0; split <= len + 1; split++) {
        struct seen s = {0};
        char m[256], err[256] = "";
        int r;
        if (split == len + 1) { /* a byte at a time */
            r = scan(body, len, 1, max, &s, m, err, sizeof(err));
        } else { /* two pieces: [0, split) and [split, len) */
            struct listscan ls;
            listscan_init(&ls, max, on_item, &s);
            r = listscan_feed(&ls, body, split, err, sizeof(err));
            if (r == 0)
                r = listscan_feed(&ls, body + split, len - split, err, sizeof(err));
            if (r == 0)
                r = listscan_end(&ls, err, sizeof(err));
            snprintf(m, sizeof(m), "%.*s", (int)ls.meta_len, ls.meta ? ls.meta : "");
            listscan_release(&ls);
        }
        if (r != 0)
            fail_msg("split at %zu: %s", split, err);
        if (strcmp(s.trace, trace) != 0)
            fail_msg("split at %zu: items\n%s\nwant\n%s", split, s.trace, trace);
        if (strcmp(m, meta) != 0)
            fail_msg("split at %zu: metadata %s, want %s", split, m, meta);
    }
}

/* Every kind of value, escapes and brackets in strings, whitespace everywhere, other keys skipped. */
static void test_items_in_every_split(void **state)
{
    (void)state;
    const char *body = " {\"kind\" : \"LeaseList\",\"apiVersion\":\"coordination.k8s.io/v1\",\n"
                       "\"skip\":{\"items\":[{\"x\":1}],\"s\":\"]}\\\"\"},\"n\":-1.5e+3,\"t\":true,"
                       "\"metadata\" : {\"resourceVersion\":\"10\",\"x\":[\"}\"]},\r\n"
                       "\"items\" : [ {\"metadata\":{\"name\":\"a\"},\"s\":\"\\\\\\\"}]\"} ,"
                       "[1,{\"b\":[]}],\"str\\\"ing\",null,42 ,{} ] } \n";
    scan_every_way(body, 1024,
                   "[-]{\"metadata\":{\"name\":\"a\"},\"s\":\"\\\\\\\"}]\"}\n"
                   "[-][1,{\"b\":[]}]\n"
                   "[-]\"str\\\"ing\"\n"
                   "[-]null\n"
                   "[-]42\n"
                   "[-]{}\n",
                   "{\"resourceVersion\":\"10\",\"x\":[\"}\"]}");
    /* an empty list; metadata after the items */
    scan_every_way("{\"items\":[],\"metadata\":{}}", 1024, "", "{}");
    scan_every_way("{\"items\":[{\"a\":\"b\"}],\"metadata\":{\"resourceVersion\":\"7\"}}", 1024,
                   "[-]{\"a\":\"b\"}\n", "{\"resourceVersion\":\"7\"}");
    /* keys that only look like the wanted ones are skipped */
    scan_every_way("{\"\\u0069tems\":[1],\"item\":[2],\"itemsx\":[3],\"metadatas\":{},\"metadata\":{},"
                   "\"items\":[4]}",
                   1024, "[-]4\n", "{}");
}

/* An element longer than the cap: its first bytes, marked truncated, and the rest read past. */
static void test_elements_over_the_cap(void **state)
{
    (void)state;
    char body[1024];
    char pad[200];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(
        body, sizeof(body),
        "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[{\"metadata\":{\"name\":\"big\"},\"s\":"
        "\"%s\\\"]}\"},{\"metadata\":{\"name\":\"exact\"}},{\"metadata\":{\"name\":\"smaller\"}},\"%s\"]}",
        pad, pad);
    /* {"metadata":{"name":"exact"}} is 30 bytes: at the cap, not truncated; one byte more is */
    scan_every_way(body, 30,
                   "[t]{\"metadata\":{\"name\":\"big\"},\"s\"\n"
                   "[-]{\"metadata\":{\"name\":\"exact\"}}\n"
                   "[t]{\"metadata\":{\"name\":\"smaller\"}\n"
                   "[t]\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
                   "{\"resourceVersion\":\"3\"}");
}

/* Bodies that are not a whole list, fed whole or in pieces: the error names what is wrong, and where. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body, *err;
    } cases[] = {
        {"", "list is not JSON: empty body"},
        {" \n", "list is not JSON: empty body"},
        {"[]", "list is not JSON: '{' expected at byte 0"},
        {"{", "list is not JSON: cut off at byte 1"},
        {"{\"metadata\":{},\"items\":[{\"a\":1}", "list is not JSON: cut off at byte 31"},
        {"{\"metadata\":{},\"items\":[{\"a\":\"}]}", "list is not JSON: cut off at byte 33"},
        {"{\"metadata\":{},\"items\":[]} x", "list is not JSON: data after the list at byte 27"},
        {"{\"metadata\":{},\"items\":[]}{}", "list is not JSON: data after the list at byte 26"},
        {"{\"metadata\":{},\"items\":[1,]}", "list is not JSON: a list item expected at byte 26"},
        {"{\"metadata\":{},\"items\":[1 2]}", "list is not JSON: ',' or ']' expected at byte 26"},
        {"{\"metadata\":{},\"items\":[1]", "list is not JSON: cut off at byte 26"},
        {"{\"metadata\" {}}", "list is not JSON: ':' expected at byte 12"},
        {"{\"metadata\":{}\"items\":[]}", "list is not JSON: ',' or '}' expected at byte 14"},
        {"{metadata:{}}", "list is not JSON: a key expected at byte 1"},
        {"{\"metadata\":{},}", "list is not JSON: a key expected at byte 15"},
        {"{\"a\":}", "list is not JSON: a value expected at byte 5"},
        {"{\"a\":1\"b\"}", "list is not JSON: a number, true, false or null expected at byte 6"},
        {"{\"metadata\":{},\"items\":[],\"items\":[]}", "list is not JSON: a second \"items\" at byte 34"},
        {"{\"metadata\":{},\"metadata\":{},\"items\":[]}",
         "list is not JSON: a second \"metadata\" at byte 26"},
        {"{}", "list without items or resourceVersion"},
        {"{\"metadata\":{}}", "list without items or resourceVersion"},
        {"{\"items\":[]}", "list without items or resourceVersion"},
        {"{\"metadata\":{},\"items\":null}", "list without items or resourceVersion"},
        {"{\"metadata\":{},\"items\":{\"a\":[]}}", "list without items or resourceVersion"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t step = 0; step <= 3; step++) {
            struct seen s = {0};
            char err[256] = "";
            if (scan(cases[i].body, strlen(cases[i].body), step, 1024, &s, NULL, err, sizeof(err)) == 0)
                fail_msg("%s (step %zu): no error", cases[i].body, step);
            if (strcmp(err, cases[i].err) != 0)
                fail_msg("%s (step %zu): %s, want %s", cases[i].body, step, err, cases[i].err);
        }
    }
}

/* The callback's error ends the scan; metadata past its cap too; after an error every call fails. */
static void test_callback_error_and_metadata_cap(void **state)
{
    (void)state;
    const char *body = "{\"metadata\":{},\"items\":[1,2,3]}";
    struct seen s = {.fail_at = 2};
    char err[256] = "";
    struct listscan ls;
    listscan_init(&ls, 64, on_item, &s);
    assert_int_equal(listscan_feed(&ls, body, 28, err, sizeof(err)), -1); /* up to "[1,2,3" */
    assert_string_equal(err, "item 2 refused");
    assert_string_equal(s.trace, "[-]1\n");
    err[0] = '\0';
    assert_int_equal(listscan_feed(&ls, body + 28, strlen(body) - 28, err, sizeof(err)), -1);
    assert_string_equal(err, "item 2 refused");
    assert_int_equal(listscan_end(&ls, err, sizeof(err)), -1);
    assert_string_equal(err, "item 2 refused");
    assert_int_equal(s.calls, 2);
    listscan_release(&ls);

    /* metadata of 64 KiB passes; a byte more does not, however it is fed */
    size_t n = LISTSCAN_MAX_META + 64;
    char *big = malloc(n);
    assert_non_null(big);
    for (int over = 0; over <= 1; over++) {
        size_t pad = LISTSCAN_MAX_META - 8 + (size_t)over; /* {"a":"PAD"} is PAD + 8 bytes */
        int len = snprintf(big, n, "{\"items\":[],\"metadata\":{\"a\":\"%*s\"}}", (int)pad, "");
        for (size_t step = 0; step <= 4096; step += 4096) {
            struct seen s2 = {0};
            int r = scan(big, (size_t)len, step, 64, &s2, NULL, err, sizeof(err));
            if (over) {
                assert_int_equal(r, -1);
                assert_string_equal(err, "list metadata longer than 65536 bytes");
            } else if (r != 0) {
                fail_msg("metadata at the cap: %s", err);
            }
        }
    }
    free(big);
}

/* A list far larger than anything kept: memory held stays at the largest element, whatever the total. */
static void test_bounded_memory(void **state)
{
    (void)state;
    const char *head = "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[";
    char item[600];
    int ilen = snprintf(item, sizeof(item), "{\"metadata\":{\"name\":\"n\"},\"s\":\"%500s\"},", "");
    struct seen s = {0};
    char err[256] = "";
    struct listscan ls;
    listscan_init(&ls, 256, on_item, &s);
    assert_int_equal(listscan_feed(&ls, head, strlen(head), err, sizeof(err)), 0);
    size_t held = 0;
    for (int i = 0; i < 20000; i++) { /* 10 MB in pieces of 333 bytes: every element spans pieces */
        for (int off = 0; off < ilen; off += 333) {
            size_t take = ilen - off < 333 ? (size_t)(ilen - off) : 333;
            assert_int_equal(listscan_feed(&ls, item + off, take, err, sizeof(err)), 0);
        }
        if (i == 0)
            held = listscan_held(&ls);
        s.len = 0; /* only the count matters here */
        s.trace[0] = '\0';
    }
    assert_int_equal(listscan_feed(&ls, "1]}", 3, err, sizeof(err)), 0);
    assert_int_equal(listscan_end(&ls, err, sizeof(err)), 0);
    assert_int_equal(s.calls, 20001);
    assert_int_equal((int)ls.items, 20001);
    assert_true(held > 0 && held <= 2 * 4096); /* the element buffer and the metadata's */
    assert_int_equal((int)listscan_held(&ls), (int)held);
    listscan_release(&ls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_in_every_split),
        cmocka_unit_test(test_elements_over_the_cap),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_callback_error_and_metadata_cap),
        cmocka_unit_test(test_bounded_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
