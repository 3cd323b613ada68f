/* Fence configuration: valid tables, and the exact error for each invalid one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char err[1024];

static struct fence_table *parse(const char *text)
{
    err[0] = '\0';
    return config_parse(text, strlen(text), "/etc/leasefence/fences.json", err, sizeof(err));
}

static void expect_error(const char *text, const char *want)
{
    struct fence_table *t = parse(text);
    if (t != NULL) {
        config_free(t);
        fail_msg("accepted: %s", text);
    }
    assert_string_equal(err, want);
}

#define F(body)  "{\"fences\": [" body "]}"
#define OK_FENCE "{\"lease\": \"demo/controller-leader\", \"writers\": {\"users\": [\"u\"]}}"

/* The single fence naming user NAME, -1 when none; fails the test when several do. */
static int user_fence(const struct fence_table *t, const char *name, size_t len)
{
    const int *idx;
    size_t n = config_find_user(t, name, len, &idx);
    assert_true(n <= 1);
    return n ? idx[0] : -1;
}

static int group_fence(const struct fence_table *t, const char *name, size_t len)
{
    const int *idx;
    size_t n = config_find_group(t, name, len, &idx);
    assert_true(n <= 1);
    return n ? idx[0] : -1;
}

static void test_design_example(void **state)
{
    (void)state;
    struct fence_table *t =
        parse("{\"fences\": [{\"lease\": \"demo/controller-leader\",\n"
              "  \"writers\": {\"users\": [\"system:serviceaccount:demo:controller\"], \"groups\": []},\n"
              "  \"identity\": \"podName\", \"mode\": \"enforce\"}]}");
    assert_non_null(t);
    assert_int_equal(t->nfences, 1);
    assert_string_equal(t->fences[0].lease, "demo/controller-leader");
    assert_string_equal(t->fences[0].ns, "demo");
    assert_string_equal(t->fences[0].name, "controller-leader");
    assert_int_equal(t->fences[0].identity, IDENTITY_POD_NAME);
    assert_int_equal(t->fences[0].mode, FENCE_ENFORCE);
    assert_null(t->fences[0].epoch_annotation);
    assert_int_equal(t->fences[0].lease_idx, -1);
    const char *u = "system:serviceaccount:demo:controller";
    assert_int_equal(user_fence(t, u, strlen(u)), 0);
    assert_int_equal(user_fence(t, u, strlen(u) - 1), -1);
    assert_int_equal(group_fence(t, u, strlen(u)), -1);
    config_free(t);
}

static void test_all_fields_and_defaults(void **state)
{
    (void)state;
    struct fence_table *t =
        parse(F("{\"lease\": \"a/b.c\", \"writers\": {\"groups\": [\"g1\", \"g2\"]}},"
                "{\"lease\": \"x/y\", \"writers\": {\"users\": [\"u1\"], \"groups\": [\"g3\"]}, "
                "\"identity\": {\"annotation\": \"example.com/replica\"}, \"mode\": \"warn\", "
                "\"epochAnnotation\": \"leasefence.io/epoch\"},"
                "{\"lease\": \"x/z\", \"writers\": {\"users\": [\"u2\"]}, \"identity\": \"username\", "
                "\"mode\": \"audit\"}"));
    assert_non_null(t);
    assert_int_equal(t->nfences, 3);
    assert_int_equal(t->fences[0].identity, IDENTITY_POD_NAME);
    assert_int_equal(t->fences[0].mode, FENCE_ENFORCE);
    assert_int_equal(t->fences[1].identity, IDENTITY_ANNOTATION);
    assert_string_equal(t->fences[1].identity_annotation, "example.com/replica");
    assert_int_equal(t->fences[1].mode, FENCE_WARN);
    assert_string_equal(t->fences[1].epoch_annotation, "leasefence.io/epoch");
    assert_int_equal(t->fences[2].identity, IDENTITY_USERNAME);
    assert_int_equal(t->fences[2].mode, FENCE_AUDIT);
    assert_int_equal(group_fence(t, "g1", 2), 0);
    assert_int_equal(group_fence(t, "g2", 2), 0);
    assert_int_equal(group_fence(t, "g3", 2), 1);
    assert_int_equal(user_fence(t, "u1", 2), 1);
    assert_int_equal(user_fence(t, "u2", 2), 2);
    assert_int_equal(user_fence(t, "u3", 2), -1);
    assert_string_equal(config_mode_name(FENCE_AUDIT), "audit");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(t->fences[i].consistency, CONSISTENCY_WATCH); /* the default */
    config_free(t);
}

/* "consistency": "watch" (the default) or "strict", per fence; anything else is refused by name. */
static void test_consistency(void **state)
{
    (void)state;
    struct fence_table *t =
        parse(F("{\"lease\": \"a/b\", \"writers\": {\"users\": [\"u1\"]}, \"consistency\": \"strict\"},"
                "{\"lease\": \"a/b\", \"writers\": {\"users\": [\"u2\"]}, \"consistency\": \"watch\"},"
                "{\"lease\": \"a/c\", \"writers\": {\"users\": [\"u3\"]}, \"mode\": \"audit\", "
                "\"consistency\": \"strict\"}"));
    assert_non_null(t);
    assert_int_equal(t->fences[0].consistency, CONSISTENCY_STRICT);
    assert_int_equal(t->fences[1].consistency, CONSISTENCY_WATCH);
    assert_int_equal(t->fences[2].consistency, CONSISTENCY_STRICT);
    assert_int_equal(t->fences[2].mode, FENCE_AUDIT);
    assert_string_equal(config_consistency_name(CONSISTENCY_STRICT), "strict");
    assert_string_equal(config_consistency_name(CONSISTENCY_WATCH), "watch");
    config_free(t);
    const char *p =
        "config '/etc/leasefence/fences.json': fences[0].consistency: must be one of watch, strict";
    expect_error(F("{\"lease\": \"a/b\", \"writers\": {\"users\": [\"u\"]}, \"consistency\": \"quorum\"}"),
                 p);
    expect_error(F("{\"lease\": \"a/b\", \"writers\": {\"users\": [\"u\"]}, \"consistency\": true}"), p);
    expect_error(F("{\"lease\": \"a/b\", \"writers\": {\"users\": [\"u\"]}, \"consistency\": \"Strict\"}"),
                 p);
}

static void test_empty_fence_list(void **state)
{
    (void)state;
    struct fence_table *t = parse("{\"fences\": []}");
    assert_non_null(t);
    assert_int_equal(t->nfences, 0);
    assert_int_equal(user_fence(t, "u", 1), -1);
    config_free(t);
}

static void test_many_fences_hash(void **state)
{
    (void)state;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    len += (size_t)snprintf(buf + len, cap - len, "{\"fences\": [");
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(
            buf + len, cap - len,
            "%s{\"lease\": \"ns/l%d\", \"writers\": {\"users\": [\"user-%d\"], \"groups\": [\"group-%d\"]}}",
            i ? "," : "", i, i, i);
    len += (size_t)snprintf(buf + len, cap - len, "]}");
    struct fence_table *t = config_parse(buf, len, "big", err, sizeof(err));
    assert_non_null(t);
    for (int i = 0; i < 2000; i += 97) {
        char name[32];
        int n = snprintf(name, sizeof(name), "user-%d", i);
        assert_int_equal(user_fence(t, name, (size_t)n), i);
        n = snprintf(name, sizeof(name), "group-%d", i);
        assert_int_equal(group_fence(t, name, (size_t)n), i);
    }
    config_free(t);
    free(buf);
}

/* A writer named by several fences is weighed against all of them; the configuration says so. */
static void test_overlapping_fences(void **state)
{
    (void)state;
    const int *idx;
    struct fence_table *t = parse(
        F(OK_FENCE ","
                   "{\"lease\": \"demo/y\", \"writers\": {\"users\": [\"v\", \"u\"], \"groups\": [\"g\"]}, "
                   "\"mode\": \"audit\"},"
                   "{\"lease\": \"demo/z\", \"writers\": {\"groups\": [\"g\"]}}"));
    assert_non_null(t);
    assert_int_equal(config_find_user(t, "u", 1, &idx), 2);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 1);
    assert_int_equal(config_find_group(t, "g", 1, &idx), 2);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 2);
    assert_int_equal(config_find_user(t, "v", 1, &idx), 1);
    assert_int_equal(config_find_user(t, "w", 1, &idx), 0);
    assert_int_equal(t->nwarnings, 2);
    assert_string_equal(
        t->warnings[0],
        "config '/etc/leasefence/fences.json': fences[1].writers.users[1]: user 'u' is also a "
        "writer of fences[0]: its writes must pass every fence that names it");
    assert_string_equal(
        t->warnings[1],
        "config '/etc/leasefence/fences.json': fences[2].writers.groups[0]: group 'g' is also a "
        "writer of fences[1]: its writes must pass every fence that names it");
    config_free(t);
}

static void test_holder_match_and_election_leases(void **state)
{
    (void)state;
    struct fence_table *t = parse(
        F("{\"lease\": \"demo/a\", \"writers\": {\"users\": [\"u1\"]}},"
          "{\"lease\": \"demo/b\", \"writers\": {\"users\": [\"u2\"]}, \"identity\": \"username\"},"
          "{\"lease\": \"other/a\", \"writers\": {\"users\": [\"u3\"]}, \"holderMatch\": \"exact\", "
          "\"identity\": {\"annotation\": \"example.com/id\"}, \"epochAnnotation\": \"example.com/epoch\"},"
          "{\"lease\": \"demo/a\", \"writers\": {\"users\": [\"u4\"]}, \"identity\": \"username\", "
          "\"holderMatch\": \"hostname\", \"epochAnnotation\": \"example.com/epoch\"}"));
    assert_non_null(t);
    assert_int_equal(t->fences[0].holder_match, HOLDER_MATCH_HOSTNAME); /* podName's default */
    assert_int_equal(t->fences[1].holder_match, HOLDER_MATCH_EXACT);    /* everything else's */
    assert_int_equal(t->fences[2].holder_match, HOLDER_MATCH_EXACT);
    assert_int_equal(t->fences[3].holder_match, HOLDER_MATCH_HOSTNAME);
    assert_string_equal(config_holder_match_name(HOLDER_MATCH_EXACT), "exact");
    assert_true(config_is_fenced_lease(t, "demo", 4, "a", 1));
    assert_true(config_is_fenced_lease(t, "demo", 4, "b", 1));
    assert_true(config_is_fenced_lease(t, "other", 5, "a", 1));
    assert_false(config_is_fenced_lease(t, "other", 5, "b", 1));
    assert_false(config_is_fenced_lease(t, "demo/a", 6, "", 0));
    assert_false(config_is_fenced_lease(t, "dem", 3, "o/a", 3));
    /* the annotation keys any fence reads, each once */
    assert_int_equal(t->nannotation_keys, 2);
    assert_string_equal(t->annotation_keys[0], "example.com/id");
    assert_string_equal(t->annotation_keys[1], "example.com/epoch");
    config_free(t);
}

static void test_errors(void **state)
{
    (void)state;
    const char *p = "config '/etc/leasefence/fences.json': ";
    char want[512];
#define E(text, msg)                                                                                         \
    do {                                                                                                     \
        snprintf(want, sizeof(want), "%s%s", p, msg);                                                        \
        expect_error(text, want);                                                                            \
    } while (0)
    E(F(OK_FENCE ","
                 "{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"v\"]}, \"mode\": \"block\"}"),
      "fences[1].mode: must be one of enforce, warn, audit");
    E("{\"fences\": [", "line 1 column 12: ']' expected near end of file");
    E("[]", "must be a JSON object {\"fences\": [...]}");
    E("{}", "fences: is required");
    E("{\"fences\": {}}", "fences: must be an array");
    E("{\"fences\": [], \"extra\": 1}", "extra: unknown field");
    E("{\"fences\": [], \"fences\": []}", "line 1 column 23: duplicate object key near '\"fences\"'");
    E(F("1"), "fences[0]: must be an object");
    E(F("{\"writers\": {\"users\": [\"u\"]}}"), "fences[0].lease: is required");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"Mode\": \"warn\"}"),
      "fences[0].Mode: unknown field");
    E(F("{\"lease\": 5, \"writers\": {\"users\": [\"u\"]}}"),
      "fences[0].lease: must be a string \"NAMESPACE/NAME\"");
    E(F("{\"lease\": \"nons\", \"writers\": {\"users\": [\"u\"]}}"),
      "fences[0].lease: must be \"NAMESPACE/NAME\", got 'nons'");
    E(F("{\"lease\": \"a/b/c\", \"writers\": {\"users\": [\"u\"]}}"),
      "fences[0].lease: must be \"NAMESPACE/NAME\", got 'a/b/c'");
    E(F("{\"lease\": \"Demo/x\", \"writers\": {\"users\": [\"u\"]}}"),
      "fences[0].lease: namespace 'Demo' is not a valid namespace name (RFC 1123 label)");
    E(F("{\"lease\": \"demo/x_y\", \"writers\": {\"users\": [\"u\"]}}"),
      "fences[0].lease: name 'x_y' is not a valid Lease name (RFC 1123 subdomain)");
    E(F("{\"lease\": \"demo/\", \"writers\": {\"users\": [\"u\"]}}"),
      "fences[0].lease: name '' is not a valid Lease name (RFC 1123 subdomain)");
    E(F("{\"lease\": \"demo/x\"}"), "fences[0].writers: is required");
    E(F("{\"lease\": \"demo/x\", \"writers\": []}"),
      "fences[0].writers: must be an object {\"users\": [...], \"groups\": [...]}");
    E(F("{\"lease\": \"demo/x\", \"writers\": {}}"),
      "fences[0].writers: must name at least one user or group");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [], \"groups\": []}}"),
      "fences[0].writers: must name at least one user or group");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"user\": [\"u\"]}}"),
      "fences[0].writers.user: unknown field");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": \"u\"}}"),
      "fences[0].writers.users: must be an array of strings");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\", \"\"]}}"),
      "fences[0].writers.users[1]: must be a non-empty string");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"groups\": [7]}}"),
      "fences[0].writers.groups[0]: must be a non-empty string");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\", \"u\"]}}"),
      "fences[0].writers.users[1]: 'u' is listed twice");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"holderMatch\": \"prefix\"}"),
      "fences[0].holderMatch: must be one of hostname, exact");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"identity\": \"pod\"}"),
      "fences[0].identity: must be \"podName\", \"username\" or {\"annotation\": \"KEY\"}");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"identity\": {}}"),
      "fences[0].identity: must be \"podName\", \"username\" or {\"annotation\": \"KEY\"}");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"identity\": {\"annotation\": \"a\", "
        "\"x\": 1}}"),
      "fences[0].identity.x: unknown field");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"identity\": {\"annotation\": \"Bad "
        "Key\"}}"),
      "fences[0].identity.annotation: must be an annotation key ([PREFIX/]NAME)");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"mode\": 1}"),
      "fences[0].mode: must be one of enforce, warn, audit");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"epochAnnotation\": "
        "\"UPPER.example/x\"}"),
      "fences[0].epochAnnotation: must be an annotation key ([PREFIX/]NAME)");
    E(F("{\"lease\": \"demo/x\", \"writers\": {\"users\": [\"u\"]}, \"epochAnnotation\": \"\"}"),
      "fences[0].epochAnnotation: must be an annotation key ([PREFIX/]NAME)");
#undef E
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/leasefence-test-config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = F(OK_FENCE);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct fence_table *t = config_load(path, err, sizeof(err));
    assert_non_null(t);
    config_free(t);
    unlink(path);
    assert_null(config_load(path, err, sizeof(err)));
    char want[256];
    snprintf(want, sizeof(want), "config '%s': cannot open: No such file or directory", path);
    assert_string_equal(err, want);
}

/* Command-line durations.  strtod used to take "nan" (whose cast to int64_t is undefined), "inf",
 * hex floats, exponents and leading spaces; the fuzz target fuzz_duration checks the rest. */
static void test_duration(void **state)
{
    static const struct {
        const char *in;
        int64_t ms; /* -1: refused */
    } cases[] = {
        {"10s", 10000},
        {"500ms", 500},
        {"1m", 60000},
        {"1m30s", 90000}, /* was refused: serve and elect now share Go's grammar */
        {"3", -1},        /* was 3 s: a bare number other than 0 is "missing unit", as in Go and elect */
        {"86400", -1},
        {"1.5s", 1500},
        {"0.25m", 15000},
        {"0", 0},
        {"0ms", 0},
        {"86400000ms", 86400000},
        {"1440m", 86400000},
        {"24h", 86400000},
        {"1h59m60s", 7200000},
        {"250000us", 250},
        {"8.0066666666666666666666666666m", 480399},
        {"0.0001s", 0},
        {"+1s", 1000},
        {"1.s", 1000},
        {".5s", 500},
        {"86400001ms", -1},
        {"1441m", -1},
        {"24h1ns", -1},
        {"99999999999999999999999s", -1},
        {"nan", -1},
        {"NaN", -1},
        {"inf", -1},
        {"-1s", -1},
        {" 1s", -1},
        {"1s ", -1},
        {"0x10", -1},
        {"1e3", -1},
        {".s", -1},
        {"", -1},
        {"s", -1},
        {"1d", -1},
        {"1ss", -1},
        {"1.2.3s", -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = -7;
        char msg[256] = "";
        int rc = config_parse_duration_ms(cases[i].in, &ms, msg, sizeof(msg));
        if (cases[i].ms < 0) {
            if (rc != -1)
                fail_msg("'%s' accepted as %lld ms", cases[i].in, (long long)ms);
            assert_int_equal(ms, -7); /* untouched on error */
            if (strncmp(msg, "invalid duration '", 18) != 0)
                fail_msg("'%s': the error does not say what was wrong: '%s'", cases[i].in, msg);
        } else {
            if (rc != 0)
                fail_msg("'%s' refused", cases[i].in);
            assert_int_equal(ms, cases[i].ms);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_all_fields_and_defaults),
        cmocka_unit_test(test_empty_fence_list),
        cmocka_unit_test(test_many_fences_hash),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_overlapping_fences),
        cmocka_unit_test(test_holder_match_and_election_leases),
        cmocka_unit_test(test_consistency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
