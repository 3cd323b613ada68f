/* The decision table, row by row, in every mode, with fabricated reviews and snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "decide.h"

#define SEC 1000000000LL
#define NOW (1000 * SEC)

static const char CONFIG[] =
    "{\"fences\": ["
    " {\"lease\": \"demo/controller-leader\", \"writers\": {\"users\": "
    "[\"system:serviceaccount:demo:controller\"],"
    "  \"groups\": [\"demo-writers\"]}, \"identity\": \"podName\", \"mode\": \"enforce\","
    "  \"epochAnnotation\": \"leasefence.io/epoch\"},"
    " {\"lease\": \"demo/warned\", \"writers\": {\"users\": [\"warned\"]}, \"identity\": \"podName\", "
    "\"mode\": \"warn\"},"
    " {\"lease\": \"demo/audited\", \"writers\": {\"users\": [\"audited\"]}, \"identity\": \"podName\", "
    "\"mode\": \"audit\"},"
    " {\"lease\": \"demo/by-user\", \"writers\": {\"users\": [\"replica-1\"], \"groups\": "
    "[\"by-user-group\"]},"
    "  \"identity\": \"username\"},"
    " {\"lease\": \"demo/by-annotation\", \"writers\": {\"groups\": [\"annotated\"]},"
    "  \"identity\": {\"annotation\": \"example.com/replica\"}}"
    "]}";

static struct fence_table *table;

static int setup(void **state)
{
    char err[512];
    (void)state;
    table = config_parse(CONFIG, strlen(CONFIG), "test", err, sizeof(err));
    if (table == NULL)
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_free(table);
    return 0;
}

static struct review_str S(const char *s) {
    struct review_str r = {s, s ? strlen(s) : 0};
    return r;
}

/* A write of a ConfigMap by USER with pod name POD (NULL: none). */
static struct review_str pod_names[1];
static struct review_kv annotations[2], old_annotations[2];

static struct review write_by(const char *user, const char *pod)
{
    struct review r;
    memset(&r, 0, sizeof(r));
    r.version = REVIEW_V1;
    r.uid = S("705ab4f5-6393-11e8-b7cc-42010a800002");
    r.res_group = S("");
    r.res_version = S("v1");
    r.res_resource = S("configmaps");
    r.namespace_ = S("demo");
    r.name = S("state");
    r.operation = S("UPDATE");
    r.username = S(user);
    if (pod != NULL) {
        pod_names[0] = S(pod);
        r.pod_names = pod_names;
        r.npod_names = 1;
    }
    r.has_object = true;
    return r;
}

/* A healthy, watched Lease held by HOLDER, changed 1 s ago, 15 s duration, uid u1, 3 transitions. */
static struct lease_snapshot held_by(const char *holder)
{
    struct lease_snapshot s;
    memset(&s, 0, sizeof(s));
    s.known = s.exists = s.watching = true;
    s.ns = "demo";
    s.name = "controller-leader";
    s.holder = holder;
    s.lease_duration_s = 15;
    s.transitions = 3;
    s.uid = "u1";
    s.resource_version = "42";
    s.epoch = "u1/3";
    s.changed_mono_ns = NOW - 1 * SEC;
    s.contact_mono_ns = NOW - 1 * SEC;
    return s;
}

static struct decision run(const struct review *r, const struct lease_snapshot *s)
{
    struct decision d;
    int f = decide_fence(r, table);
    decide(r, table, f, f >= 0 ? s : NULL, NOW, &d);
    return d;
}

static void expect(struct decision d, bool allowed, enum decide_reason reason)
{
    assert_string_equal(decide_reason_name(d.reason), decide_reason_name(reason));
    assert_int_equal(d.allowed, allowed);
}

static void test_lease_writes_are_never_fenced(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-b");
    struct lease_snapshot s = held_by("pod-a");
    r.res_group = S("coordination.k8s.io");
    r.res_resource = S("leases");
    struct decision d = run(&r, &s);
    expect(d, true, REASON_LEASE);
    assert_false(d.fenced);
    assert_int_equal(d.fence, -1);
    /* even when decide is handed a fence */
    decide(&r, table, 0, &s, NOW, &d);
    expect(d, true, REASON_LEASE);
    /* another group's "leases" is not the coordination Lease */
    r.res_group = S("example.com");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
}

static void test_unfenced_writer(void **state)
{
    (void)state;
    struct review r = write_by("someone-else", "pod-b");
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, true, REASON_UNFENCED);
    assert_false(d.fenced);
    assert_string_equal(d.message, "");
    /* no username at all */
    r.username = S(NULL);
    expect(run(&r, &s), true, REASON_UNFENCED);
}

static void test_fence_by_group(void **state)
{
    (void)state;
    struct review_str groups[] = {S("system:authenticated"), S("demo-writers")};
    struct review r = write_by("not-listed", "pod-b");
    struct lease_snapshot s = held_by("pod-a");
    r.groups = groups;
    r.ngroups = 2;
    struct decision d = run(&r, &s);
    expect(d, false, REASON_NOT_HOLDER);
    assert_int_equal(d.fence, 0);
}

static void test_user_match_wins_over_group(void **state)
{
    (void)state;
    struct review_str groups[] = {S("demo-writers")};
    struct review r = write_by("warned", "pod-b");
    r.groups = groups;
    r.ngroups = 1;
    assert_int_equal(decide_fence(&r, table), 1);
}

static void test_lowest_fence_among_groups(void **state)
{
    (void)state;
    struct review_str groups[] = {S("annotated"), S("by-user-group"), S("demo-writers")};
    struct review r = write_by("not-listed", "pod-b");
    r.groups = groups;
    r.ngroups = 3;
    assert_int_equal(decide_fence(&r, table), 0);
}

static void test_untagged(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", NULL);
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, false, REASON_UNTAGGED);
    assert_true(d.fenced);
    assert_non_null(strstr(d.message, "carries no replica identity"));
    assert_non_null(strstr(d.message, "demo/controller-leader"));
    /* an empty pod name is no identity either */
    r = write_by("system:serviceaccount:demo:controller", "");
    expect(run(&r, &s), false, REASON_UNTAGGED);
}

static void test_untagged_comes_before_unknown(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", NULL);
    struct decision d;
    decide(&r, table, 0, NULL, NOW, &d);
    expect(d, false, REASON_UNTAGGED);
}

static void test_unknown_not_synced(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    s.known = false;
    struct decision d = run(&r, &s);
    expect(d, false, REASON_UNKNOWN);
    assert_non_null(strstr(d.message, "not known"));
    decide(&r, table, 0, NULL, NOW, &d);
    expect(d, false, REASON_UNKNOWN);
}

static void test_unknown_watch_lost_longer_than_lease_duration(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    s.watching = false;
    s.contact_mono_ns = NOW - 16 * SEC;
    s.changed_mono_ns = NOW - 1 * SEC;
    expect(run(&r, &s), false, REASON_UNKNOWN);
    /* within the lease duration the last state still counts */
    s.contact_mono_ns = NOW - 14 * SEC;
    expect(run(&r, &s), true, REASON_HOLDER);
    /* exactly one duration is not more than one */
    s.contact_mono_ns = NOW - 15 * SEC;
    expect(run(&r, &s), true, REASON_HOLDER);
    /* a watching tracker is never "unknown" for silence: the stream is alive */
    s.watching = true;
    s.contact_mono_ns = NOW - 100 * SEC;
    s.changed_mono_ns = NOW - 1 * SEC;
    expect(run(&r, &s), true, REASON_HOLDER);
}

static void test_unknown_uses_default_duration_without_lease(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("");
    s.exists = false;
    s.lease_duration_s = 0;
    s.watching = false;
    s.contact_mono_ns = NOW - 14 * SEC;
    expect(run(&r, &s), false, REASON_NO_LEASE);
    s.contact_mono_ns = NOW - 16 * SEC;
    expect(run(&r, &s), false, REASON_UNKNOWN);
}

static void test_no_lease(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("");
    s.exists = false;
    s.uid = s.epoch = "";
    struct decision d = run(&r, &s);
    expect(d, false, REASON_NO_LEASE);
    assert_string_equal(d.message,
                        "leasefence: lease demo/controller-leader does not exist, so replica \"pod-a\" is "
                        "not its holder; write denied");
}

static void test_no_holder(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("");
    s.lease_duration_s = 1; /* a release */
    struct decision d = run(&r, &s);
    expect(d, false, REASON_NO_HOLDER);
    assert_non_null(strstr(d.message, "has no holder"));
}

static void test_expired(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    s.changed_mono_ns = NOW - 16 * SEC;
    struct decision d = run(&r, &s);
    expect(d, false, REASON_EXPIRED);
    assert_non_null(strstr(d.message, "held by \"pod-a\" expired 1.0s ago"));
    /* client-go: valid while observedTime + duration is after now */
    s.changed_mono_ns = NOW - 15 * SEC;
    expect(run(&r, &s), true, REASON_HOLDER);
    s.changed_mono_ns = NOW - 15 * SEC - 1;
    expect(run(&r, &s), false, REASON_EXPIRED);
    /* expiry uses the Lease's own duration */
    s.lease_duration_s = 60;
    s.changed_mono_ns = NOW - 59 * SEC;
    expect(run(&r, &s), true, REASON_HOLDER);
    /* expired applies to any writer, before holder comparison */
    s.lease_duration_s = 15;
    s.changed_mono_ns = NOW - 20 * SEC;
    r = write_by("system:serviceaccount:demo:controller", "pod-b");
    expect(run(&r, &s), false, REASON_EXPIRED);
}

static void test_not_holder_message(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-b");
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, false, REASON_NOT_HOLDER);
    assert_true(d.failed);
    assert_string_equal(d.message,
                        "leasefence: replica \"pod-b\" is not the holder of lease demo/controller-leader "
                        "(held by \"pod-a\"); write denied");
    /* a prefix of the holder is not the holder */
    r = write_by("system:serviceaccount:demo:controller", "pod-");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    r = write_by("system:serviceaccount:demo:controller", "pod-aa");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
}

static void test_holder(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, true, REASON_HOLDER);
    assert_true(d.fenced);
    assert_false(d.failed);
    assert_string_equal(d.message, "");
    assert_int_equal(d.identity.len, 5);
    assert_memory_equal(d.identity.ptr, "pod-a", 5);
}

static void test_epoch(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    annotations[0].key = S("other");
    annotations[0].value = S("u1/2");
    annotations[1].key = S("leasefence.io/epoch");
    annotations[1].value = S("u1/2");
    r.annotations = annotations;
    r.nannotations = 2;
    struct decision d = run(&r, &s);
    expect(d, false, REASON_STALE_EPOCH);
    assert_non_null(strstr(d.message, "epoch \"u1/2\""));
    assert_non_null(strstr(d.message, "\"u1/3\""));
    /* the current epoch passes */
    annotations[1].value = S("u1/3");
    expect(run(&r, &s), true, REASON_HOLDER);
    /* a Lease deleted and created again has a new uid: old tags are stale */
    s.uid = "u2";
    s.epoch = "u2/3";
    expect(run(&r, &s), false, REASON_STALE_EPOCH);
    /* no tag: nothing to compare */
    r.nannotations = 1;
    expect(run(&r, &s), true, REASON_HOLDER);
    /* a not-holder is reported as such even with a stale tag */
    r = write_by("system:serviceaccount:demo:controller", "pod-b");
    r.annotations = annotations;
    r.nannotations = 2;
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
}

static void test_epoch_of_delete_is_on_old_object(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    r.operation = S("DELETE");
    r.has_object = false;
    r.has_old_object = true;
    old_annotations[0].key = S("leasefence.io/epoch");
    old_annotations[0].value = S("u1/1");
    r.old_annotations = old_annotations;
    r.nold_annotations = 1;
    expect(run(&r, &s), false, REASON_STALE_EPOCH);
    old_annotations[0].value = S("u1/3");
    expect(run(&r, &s), true, REASON_HOLDER);
}

static void test_epoch_not_checked_without_fence_setting(void **state)
{
    (void)state;
    struct review r = write_by("replica-1", NULL);
    struct lease_snapshot s = held_by("replica-1");
    annotations[0].key = S("leasefence.io/epoch");
    annotations[0].value = S("stale/0");
    r.annotations = annotations;
    r.nannotations = 1;
    expect(run(&r, &s), true, REASON_HOLDER);
}

static void test_identity_username(void **state)
{
    (void)state;
    struct review r = write_by("replica-1", "pod-x");
    struct lease_snapshot s = held_by("replica-1");
    expect(run(&r, &s), true, REASON_HOLDER);
    s = held_by("pod-x");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* a group writer with the username identity */
    struct review_str groups[] = {S("by-user-group")};
    r = write_by("replica-2", NULL);
    r.groups = groups;
    r.ngroups = 1;
    s = held_by("replica-2");
    expect(run(&r, &s), true, REASON_HOLDER);
}

static void test_identity_annotation(void **state)
{
    (void)state;
    struct review_str groups[] = {S("annotated")};
    struct review r = write_by("anyone", "pod-ignored");
    struct lease_snapshot s = held_by("replica-7");
    r.groups = groups;
    r.ngroups = 1;
    struct decision d = run(&r, &s);
    expect(d, false, REASON_UNTAGGED);
    assert_non_null(strstr(d.message, "has no annotation 'example.com/replica'"));
    annotations[0].key = S("example.com/replica");
    annotations[0].value = S("replica-7");
    r.annotations = annotations;
    r.nannotations = 1;
    expect(run(&r, &s), true, REASON_HOLDER);
    annotations[0].value = S("replica-8");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* DELETE reads oldObject: the new object's annotation does not count */
    r.operation = S("DELETE");
    annotations[0].value = S("replica-7");
    expect(run(&r, &s), false, REASON_UNTAGGED);
    old_annotations[0].key = S("example.com/replica");
    old_annotations[0].value = S("replica-7");
    r.old_annotations = old_annotations;
    r.nold_annotations = 1;
    expect(run(&r, &s), true, REASON_HOLDER);
}

static void test_last_duplicate_annotation_wins(void **state)
{
    (void)state;
    struct review_str groups[] = {S("annotated")};
    struct review r = write_by("anyone", NULL);
    struct lease_snapshot s = held_by("replica-7");
    r.groups = groups;
    r.ngroups = 1;
    annotations[0].key = S("example.com/replica");
    annotations[0].value = S("replica-8");
    annotations[1].key = S("example.com/replica");
    annotations[1].value = S("replica-7");
    r.annotations = annotations;
    r.nannotations = 2;
    expect(run(&r, &s), true, REASON_HOLDER);
}

/* A bump allocator over a static buffer, for reviews from review_decode. */
static void *arena_alloc(void *ctx, size_t size)
{
    static _Alignas(16) char buf[64 * 1024];
    size_t *used = ctx, off = (*used + 15) & ~(size_t)15;
    if (off + size > sizeof(buf))
        fail_msg("test arena exhausted");
    *used = off + size;
    return buf + off;
}

/* The annotation KEY of R's object, which must be there. */
static const struct review_kv *kv_of(const struct review *r, const char *key)
{
    for (size_t i = 0; i < r->nannotations; i++)
        if (review_str_eq(r->annotations[i].key, key))
            return &r->annotations[i];
    fail_msg("no annotation '%s'", key);
    return NULL;
}

/* Annotation values with escapes stay undecoded in the review
 * (review_kv_value); the decision must compare them decoded, identity and
 * epoch alike, in object and (for DELETE) oldObject: keeping every
 * annotation (WANT NULL) or only the fences' keys. */
static void escaped_annotations(const struct review_want *want)
{
    static const char json[] =
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
        "\"uid\":\"u\",\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"configmaps\"},"
        "\"operation\":\"%s\",\"userInfo\":{\"username\":\"anyone\",\"groups\":[\"annotated\"]},"
        "\"object\":{\"metadata\":{\"annotations\":{\"big\":\"{\\\"a\\\":1}\","
        "\"example.com/replica\":\"replica\\u002d%c\"}}},"
        "\"oldObject\":{\"metadata\":{\"annotations\":{\"example.com/replica\":\"replica-%c\"}}}}}";
    static const char epoch_json[] =
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
        "\"uid\":\"u\",\"operation\":\"UPDATE\",\"userInfo\":{\"username\":"
        "\"system:serviceaccount:demo:controller\",\"extra\":{\"authentication.kubernetes.io/pod-name\":"
        "[\"pod-a\"]}},\"object\":{\"metadata\":{\"annotations\":{\"leasefence.io/epoch\":\"u1\\/%c\"}}}}}";
    struct lease_snapshot s = held_by("replica-7");
    struct review r;
    char buf[1024], err[256];
    size_t used = 0;
    int n;

    n = snprintf(buf, sizeof(buf), json, "UPDATE", '7', '8');
    assert_int_equal(review_decode(&r, buf, (size_t)n, want, arena_alloc, &used, err, sizeof(err)), 0);
    assert_true(kv_of(&r, "example.com/replica")->escaped); /* as written: "replica\u002d7" */
    struct decision d = run(&r, &s);
    expect(d, true, REASON_HOLDER);
    assert_int_equal(d.identity.len, 9);
    assert_memory_equal(d.identity.ptr, "replica-7", 9);
    n = snprintf(buf, sizeof(buf), json, "UPDATE", '8', '7');
    assert_int_equal(review_decode(&r, buf, (size_t)n, want, arena_alloc, &used, err, sizeof(err)), 0);
    d = run(&r, &s);
    expect(d, false, REASON_NOT_HOLDER);
    assert_non_null(strstr(d.message, "replica \"replica-8\" is not the holder"));
    /* DELETE: oldObject's (unescaped) annotation; then an escaped one there */
    n = snprintf(buf, sizeof(buf), json, "DELETE", '8', '7');
    assert_int_equal(review_decode(&r, buf, (size_t)n, want, arena_alloc, &used, err, sizeof(err)), 0);
    expect(run(&r, &s), true, REASON_HOLDER);

    s = held_by("pod-a");
    n = snprintf(buf, sizeof(buf), epoch_json, '3');
    assert_int_equal(review_decode(&r, buf, (size_t)n, want, arena_alloc, &used, err, sizeof(err)), 0);
    assert_true(kv_of(&r, "leasefence.io/epoch")->escaped); /* as written: "u1\/3" */
    d = run(&r, &s);
    expect(d, true, REASON_HOLDER);
    assert_int_equal(d.epoch.len, 4);
    assert_memory_equal(d.epoch.ptr, "u1/3", 4);
    n = snprintf(buf, sizeof(buf), epoch_json, '2');
    assert_int_equal(review_decode(&r, buf, (size_t)n, want, arena_alloc, &used, err, sizeof(err)), 0);
    d = run(&r, &s);
    expect(d, false, REASON_STALE_EPOCH);
    assert_non_null(strstr(d.message, "epoch \"u1/2\""));
}

static void test_escaped_annotations(void **state)
{
    struct review_str keys[] = {{"leasefence.io/epoch", 19}, {"example.com/replica", 19}};
    struct review_want want;
    (void)state;
    escaped_annotations(NULL);
    review_want_init(&want, keys, 2);
    escaped_annotations(&want);
}

static void test_warn_mode_allows_failed_checks(void **state)
{
    (void)state;
    struct review r = write_by("warned", "pod-b");
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, true, REASON_NOT_HOLDER);
    assert_true(d.failed);
    assert_string_equal(d.message,
                        "leasefence: replica \"pod-b\" is not the holder of lease demo/warned (held by "
                        "\"pod-a\"); write would be denied (fence mode warn)");
    r = write_by("warned", NULL);
    expect(run(&r, &s), true, REASON_UNTAGGED);
    s.known = false;
    r = write_by("warned", "pod-a");
    expect(run(&r, &s), true, REASON_UNKNOWN);
    s = held_by("pod-a");
    expect(run(&r, &s), true, REASON_HOLDER);
    assert_false(run(&r, &s).failed);
}

static void test_audit_mode_allows_failed_checks(void **state)
{
    (void)state;
    struct review r = write_by("audited", "pod-b");
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, true, REASON_NOT_HOLDER);
    assert_true(d.failed);
    assert_non_null(strstr(d.message, "(fence mode audit)"));
    s.exists = false;
    expect(run(&r, &s), true, REASON_NO_LEASE);
    s = held_by("");
    expect(run(&r, &s), true, REASON_NO_HOLDER);
    s = held_by("pod-b");
    s.changed_mono_ns = NOW - 60 * SEC;
    expect(run(&r, &s), true, REASON_EXPIRED);
}

static void test_enforce_denies_every_failed_row(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s;
    enum decide_reason seen[REASON_COUNT] = {0};
    s = held_by("pod-a");
    s.known = false;
    seen[run(&r, &s).reason]++;
    s = held_by("pod-a");
    s.exists = false;
    seen[run(&r, &s).reason]++;
    s = held_by("");
    seen[run(&r, &s).reason]++;
    s = held_by("pod-a");
    s.changed_mono_ns = 0;
    seen[run(&r, &s).reason]++;
    s = held_by("pod-z");
    seen[run(&r, &s).reason]++;
    assert_int_equal(seen[REASON_UNKNOWN], 1);
    assert_int_equal(seen[REASON_NO_LEASE], 1);
    assert_int_equal(seen[REASON_NO_HOLDER], 1);
    assert_int_equal(seen[REASON_EXPIRED], 1);
    assert_int_equal(seen[REASON_NOT_HOLDER], 1);
}

static void test_identity_with_quotes_and_long_values_is_bounded(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct review r = write_by("system:serviceaccount:demo:controller", big);
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, false, REASON_NOT_HOLDER);
    assert_true(strlen(d.message) < sizeof(d.message));
    assert_non_null(strstr(d.message, "write denied"));
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const want[] = {"holder",   "unfenced",  "lease",   "untagged",   "unknown",
                                       "no-lease", "no-holder", "expired", "not-holder", "stale-epoch"};
    for (int i = 0; i < REASON_COUNT; i++)
        assert_string_equal(decide_reason_name((enum decide_reason)i), want[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_writes_are_never_fenced),
        cmocka_unit_test(test_unfenced_writer),
        cmocka_unit_test(test_fence_by_group),
        cmocka_unit_test(test_user_match_wins_over_group),
        cmocka_unit_test(test_lowest_fence_among_groups),
        cmocka_unit_test(test_untagged),
        cmocka_unit_test(test_untagged_comes_before_unknown),
        cmocka_unit_test(test_unknown_not_synced),
        cmocka_unit_test(test_unknown_watch_lost_longer_than_lease_duration),
        cmocka_unit_test(test_unknown_uses_default_duration_without_lease),
        cmocka_unit_test(test_no_lease),
        cmocka_unit_test(test_no_holder),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_not_holder_message),
        cmocka_unit_test(test_holder),
        cmocka_unit_test(test_epoch),
        cmocka_unit_test(test_epoch_of_delete_is_on_old_object),
        cmocka_unit_test(test_epoch_not_checked_without_fence_setting),
        cmocka_unit_test(test_identity_username),
        cmocka_unit_test(test_identity_annotation),
        cmocka_unit_test(test_last_duplicate_annotation_wins),
        cmocka_unit_test(test_escaped_annotations),
        cmocka_unit_test(test_warn_mode_allows_failed_checks),
        cmocka_unit_test(test_audit_mode_allows_failed_checks),
        cmocka_unit_test(test_enforce_denies_every_failed_row),
        cmocka_unit_test(test_identity_with_quotes_and_long_values_is_bounded),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
