/* Unit tests of the Lease codec: MicroTime, parsing, updates that keep what they do not know. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lease.h"

static void test_microtime_roundtrip(void **state)
{
    (void)state;
    int64_t us = 0;
    assert_int_equal(lease_parse_microtime("2026-11-24T06:12:00.123456Z", &us), 0);
    char buf[48];
    lease_format_microtime(us, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-24T06:12:00.123456Z");
    assert_int_equal(lease_parse_microtime("1970-01-01T00:00:00.000000Z", &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(lease_parse_microtime("1970-01-01T00:00:01.000001Z", &us), 0);
    assert_int_equal(us, 1000001);
    lease_format_microtime(1000000, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:01.000000Z");
    /* An offset is allowed and applied. */
    assert_int_equal(lease_parse_microtime("1970-01-01T01:00:00.000000+01:00", &us), 0);
    assert_int_equal(us, 0);
    assert_int_equal(lease_parse_microtime("2024-02-29T23:59:59.999999Z", &us), 0);
    lease_format_microtime(us, buf, sizeof(buf));
    assert_string_equal(buf, "2024-02-29T23:59:59.999999Z");
}

static void test_microtime_strict(void **state)
{
    (void)state;
    int64_t us;
    const char *bad[] = {
        "",
        "2026-11-24T06:12:00Z",            /* no fraction */
        "2026-11-24T06:12:00.123Z",        /* three digits */
        "2026-11-24T06:12:00.1234567Z",    /* seven digits */
        "2026-11-24 06:12:00.123456Z",     /* space */
        "2026-11-24T06:12:00.123456",      /* no zone */
        "2026-13-24T06:12:00.123456Z",     /* month */
        "2026-02-30T06:12:00.123456Z",     /* day */
        "2025-02-29T06:12:00.123456Z",     /* not a leap year */
        "2026-11-24T24:12:00.123456Z",     /* hour */
        "2026-11-24T06:12:00.12345aZ",     /* digit */
        "2026-11-24T06:12:00.123456z",     /* lower z */
        "2026-11-24T06:12:00.123456+0100", /* offset without colon */
        "+026-11-24T06:12:00.123456Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (lease_parse_microtime(bad[i], &us) == 0)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static const char *client_go_lease =
    "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\","
    "\"metadata\":{\"name\":\"ctrl\",\"namespace\":\"demo\",\"uid\":\"7c1e\",\"resourceVersion\":\"42\","
    "\"creationTimestamp\":\"2026-11-24T06:00:00Z\",\"labels\":{\"app\":\"x\"},"
    "\"annotations\":{\"a\":\"b\"},\"managedFields\":[{\"manager\":\"kube-controller-manager\"}]},"
    "\"spec\":{\"holderIdentity\":\"pod-a_1234\",\"leaseDurationSeconds\":15,"
    "\"acquireTime\":\"2026-11-24T06:00:00.000001Z\",\"renewTime\":\"2026-11-24T06:12:00.123456Z\","
    "\"leaseTransitions\":3,\"strategy\":\"OldestEmulationVersion\",\"preferredHolder\":\"pod-b\","
    "\"futureField\":true}}";

static void test_parse_client_go(void **state)
{
    (void)state;
    json_t *obj = json_loads(client_go_lease, 0, NULL);
    assert_non_null(obj);
    struct lease_record r;
    char err[256];
    assert_int_equal(lease_parse(obj, &r, err, sizeof(err)), 0);
    assert_string_equal(r.ns, "demo");
    assert_string_equal(r.name, "ctrl");
    assert_string_equal(r.uid, "7c1e");
    assert_string_equal(r.resource_version, "42");
    assert_string_equal(r.holder, "pod-a_1234");
    assert_int_equal(r.duration_s, 15);
    assert_int_equal(r.transitions, 3);
    assert_string_equal(r.strategy, "OldestEmulationVersion");
    assert_string_equal(r.preferred_holder, "pod-b");
    int64_t want;
    assert_int_equal(lease_parse_microtime("2026-11-24T06:12:00.123456Z", &want), 0);
    assert_true(r.renew_us == want);
    char epoch[64];
    lease_epoch(&r, epoch, sizeof(epoch));
    assert_string_equal(epoch, "7c1e/3");

    /* Update in place: unknown fields, labels, annotations and strategy survive. */
    assert_int_equal(lease_set_spec(obj, "pod-b", 5, 10, r.acquire_us, want + 1, 4), 0);
    json_t *spec = json_object_get(obj, "spec");
    assert_string_equal(json_string_value(json_object_get(spec, "holderIdentity")), "pod-b");
    assert_int_equal(json_integer_value(json_object_get(spec, "leaseDurationSeconds")), 10);
    assert_int_equal(json_integer_value(json_object_get(spec, "leaseTransitions")), 4);
    assert_string_equal(json_string_value(json_object_get(spec, "renewTime")), "2026-11-24T06:12:00.123457Z");
    assert_string_equal(json_string_value(json_object_get(spec, "acquireTime")),
                        "2026-11-24T06:00:00.000001Z");
    assert_true(json_is_true(json_object_get(spec, "futureField")));
    assert_string_equal(json_string_value(json_object_get(spec, "preferredHolder")), "pod-b");
    json_t *md = json_object_get(obj, "metadata");
    assert_string_equal(json_string_value(json_object_get(json_object_get(md, "labels"), "app")), "x");
    assert_string_equal(json_string_value(json_object_get(md, "resourceVersion")), "42");
    assert_non_null(json_object_get(md, "managedFields"));

    struct lease_record r2;
    assert_int_equal(lease_parse(obj, &r2, err, sizeof(err)), 0);
    assert_false(lease_record_same(&r, &r2));
    struct lease_record r3;
    assert_int_equal(lease_parse(obj, &r3, err, sizeof(err)), 0);
    assert_true(lease_record_same(&r3, &r2));
    lease_record_release(&r);
    lease_record_release(&r2);
    lease_record_release(&r3);
    json_decref(obj);
}

static void test_parse_empty_spec(void **state)
{
    (void)state;
    json_t *obj =
        json_loads("{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{}}", 0, NULL);
    struct lease_record r;
    char err[256];
    assert_int_equal(lease_parse(obj, &r, err, sizeof(err)), 0);
    assert_string_equal(r.holder, "");
    assert_int_equal(r.duration_s, 0);
    assert_int_equal(r.transitions, 0);
    assert_true(r.renew_us == 0);
    assert_null(r.strategy);
    lease_record_release(&r);
    json_decref(obj);
    /* null fields read as absent, as Go does */
    obj = json_loads("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"holderIdentity\":null,\"renewTime\":null}}",
                     0, NULL);
    assert_int_equal(lease_parse(obj, &r, err, sizeof(err)), 0);
    assert_string_equal(r.holder, "");
    lease_record_release(&r);
    json_decref(obj);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "{\"spec\":{}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":[]}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"holderIdentity\":5}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"leaseDurationSeconds\":\"15\"}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"leaseDurationSeconds\":0}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"leaseDurationSeconds\":1.5}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"leaseDurationSeconds\":4294967296}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"leaseTransitions\":-1}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"renewTime\":\"2026-11-24T06:12:00Z\"}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"acquireTime\":12}}",
        "{\"metadata\":{\"name\":\"x\",\"uid\":7},\"spec\":{}}",
        "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *obj = json_loads(bad[i], 0, NULL);
        assert_non_null(obj);
        struct lease_record r;
        char err[256] = "";
        if (lease_parse(obj, &r, err, sizeof(err)) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_true(err[0] != '\0');
        json_decref(obj);
    }
    char err[256];
    struct lease_record r;
    json_t *obj =
        json_loads("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"renewTime\":\"yesterday\"}}", 0, NULL);
    assert_int_equal(lease_parse(obj, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "spec.renewTime"));
    json_decref(obj);
}

static void test_new_object(void **state)
{
    (void)state;
    json_t *obj = lease_new_object("demo", "ctrl");
    assert_int_equal(lease_set_spec(obj, "me", 2, 15, 1000000, 2000000, 0), 0);
    char *s = json_dumps(obj, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        s, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
           "\"ctrl\",\"namespace\":\"demo\"},\"spec\":{\"acquireTime\":\"1970-01-01T00:00:01.000000Z\","
           "\"holderIdentity\":\"me\",\"leaseDurationSeconds\":15,\"leaseTransitions\":0,"
           "\"renewTime\":\"1970-01-01T00:00:02.000000Z\"}}");
    free(s);
    json_decref(obj);
}

/*
 * kube-apiserver stores Go strings, which may hold NUL bytes ("\u0000"): such a Lease is decoded, its
 * holder keeps its real length (never equal to the shorter C string), and an update keeps the NUL bytes
 * of the fields it does not set.
 */
static const char *nul_lease =
    "{\"kind\":\"Lease\",\"metadata\":{\"name\":\"ctrl\",\"namespace\":\"demo\",\"uid\":\"u1\","
    "\"resourceVersion\":\"4\",\"annotations\":{\"note\":\"a\\u0000b\"}},"
    "\"spec\":{\"holderIdentity\":\"replica-a\\u0000x\",\"leaseDurationSeconds\":15,"
    "\"strategy\":\"s\\u0000t\",\"preferredHolder\":\"\\u0000\",\"leaseTransitions\":2}}";

static void test_parse_nul(void **state)
{
    (void)state;
    json_t *obj = json_loads(nul_lease, JSON_ALLOW_NUL, NULL);
    assert_non_null(obj);
    struct lease_record r;
    char err[256];
    assert_int_equal(lease_parse(obj, &r, err, sizeof(err)), 0);
    assert_int_equal((int)r.holder_len, 11);
    assert_memory_equal(r.holder, "replica-a\0x", 12);
    assert_false(lease_holder_is(&r, "replica-a", 9));
    assert_true(lease_holder_is(&r, "replica-a\0x", 11));
    assert_int_equal((int)r.strategy_len, 3);
    assert_int_equal((int)r.preferred_holder_len, 1);

    /* a change after the NUL byte is a change of the record */
    json_t *other = json_deep_copy(obj);
    json_object_set_new(json_object_get(other, "spec"), "holderIdentity", json_stringn("replica-a\0y", 11));
    struct lease_record r2;
    assert_int_equal(lease_parse(other, &r2, err, sizeof(err)), 0);
    assert_false(lease_record_same(&r, &r2));
    lease_record_release(&r2);
    json_decref(other);

    /* taken over: the holder is replaced, the NUL bytes elsewhere are written back as read */
    assert_int_equal(lease_set_spec(obj, "replica-b", 9, 15, 1000000, 2000000, 3), 0);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(text, "\"annotations\":{\"note\":\"a\\u0000b\"}"));
    assert_non_null(strstr(text, "\"strategy\":\"s\\u0000t\""));
    assert_non_null(strstr(text, "\"holderIdentity\":\"replica-b\""));
    free(text);
    assert_int_equal(lease_parse(obj, &r2, err, sizeof(err)), 0);
    assert_true(lease_holder_is(&r2, "replica-b", 9));
    assert_int_equal((int)r2.strategy_len, 3);
    lease_record_release(&r2);
    lease_record_release(&r);

    /* a holder that is not UTF-8 is not written (and the one in the object stays) */
    assert_int_equal(lease_set_spec(obj, "\xff", 1, 15, 1000000, 2000000, 3), -1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "spec"), "holderIdentity")),
                        "replica-b");
    json_decref(obj);

    /* the server never puts NUL into these: a Lease that has one is malformed, and so is a MicroTime with
     * text after a NUL byte */
    const char *bad[] = {
        "{\"metadata\":{\"name\":\"x\",\"uid\":\"u\\u0000v\"},\"spec\":{}}",
        "{\"metadata\":{\"name\":\"x\\u0000\"},\"spec\":{}}",
        "{\"kind\":\"Lease\\u0000x\",\"metadata\":{\"name\":\"x\"},\"spec\":{}}",
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"renewTime\":\"2026-11-24T06:12:00.123456Z\\u0000junk\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        obj = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
        assert_non_null(obj);
        if (lease_parse(obj, &r, err, sizeof(err)) == 0)
            fail_msg("accepted %s", bad[i]);
        json_decref(obj);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_microtime_roundtrip), cmocka_unit_test(test_microtime_strict),
        cmocka_unit_test(test_parse_client_go),     cmocka_unit_test(test_parse_empty_spec),
        cmocka_unit_test(test_parse_malformed),     cmocka_unit_test(test_new_object),
        cmocka_unit_test(test_parse_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
