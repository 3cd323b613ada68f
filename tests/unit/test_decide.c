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
#include "fixture.h"

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
    "  \"identity\": {\"annotation\": \"example.com/replica\"}, \"epochAnnotation\": \"example.com/epoch\"},"
    /* 5, 6: one writer in two teams, each team fenced by its own Lease */
    " {\"lease\": \"demo/team-a\", \"writers\": {\"groups\": [\"team-a\"]}},"
    " {\"lease\": \"demo/team-b\", \"writers\": {\"groups\": [\"team-b\"]}},"
    /* 7, 8: an audit fence listed before an enforce fence for the same group */
    " {\"lease\": \"demo/audit-first\", \"writers\": {\"groups\": [\"shared\"]}, \"mode\": \"audit\"},"
    " {\"lease\": \"demo/enforce-second\", \"writers\": {\"groups\": [\"shared\"]}},"
    /* 9: podName compared exactly; 10: a warn fence over the same group as 5 */
    " {\"lease\": \"demo/exact\", \"writers\": {\"users\": [\"exact-user\"]}, \"holderMatch\": \"exact\"},"
    " {\"lease\": \"demo/team-a-warn\", \"writers\": {\"groups\": [\"team-a\"]}, \"mode\": \"warn\"}"
    "]}";

#define SKEW (30 * SEC)

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
static struct review_str write_groups[1];
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

/* write_by() from a member of GROUP. */
static struct review write_in_group(const char *group, const char *user, const char *pod)
{
    struct review r = write_by(user, pod);
    write_groups[0] = S(group);
    r.groups = write_groups;
    r.ngroups = 1;
    return r;
}

/* Adds annotation KEY: VALUE to R's object (annotate) or its oldObject (annotate_old), as slot
 * n(old_)annotations of the arrays above, which the review borrows. */
static void annotate(struct review *r, const char *key, const char *value)
{
    assert_true(r->nannotations < 2);
    annotations[r->nannotations].key = S(key);
    annotations[r->nannotations].value = S(value);
    r->annotations = annotations;
    r->nannotations++;
}

static void annotate_old(struct review *r, const char *key, const char *value)
{
    assert_true(r->nold_annotations < 2);
    old_annotations[r->nold_annotations].key = S(key);
    old_annotations[r->nold_annotations].value = S(value);
    r->old_annotations = old_annotations;
    r->nold_annotations++;
    r->has_old_object = true;
}

/* A healthy, watched Lease held by HOLDER, changed 1 s ago, 15 s duration, uid u1, 3 transitions. */
static struct lease_snapshot held_by(const char *holder)
{
    return fixture_lease_held("demo", "controller-leader", holder, NOW);
}

/* Snapshot per fence index for the multi-fence tests; NULL: the one handed to run(). */
static const struct lease_snapshot *fence_snap[16];
/* What the last run() weighed. */
static struct fence_check checks[16];
static size_t nchecks;

static struct decision run(const struct review *r, const struct lease_snapshot *s)
{
    struct decision d;
    const struct lease_snapshot *snaps[16];
    int idx[16];
    nchecks = decide_fences(r, table, idx, 16);
    assert_true(nchecks <= 16);
    for (size_t i = 0; i < nchecks; i++) {
        snaps[i] = fence_snap[idx[i]] != NULL ? fence_snap[idx[i]] : s;
        decide_check(r, table, idx[i], snaps[i], NOW, SKEW, &checks[i]);
    }
    decide(r, table, checks, snaps, nchecks, &d);
    return d;
}

/* The check of fence F in the last run(). */
static const struct fence_check *check_of(int f)
{
    for (size_t i = 0; i < nchecks; i++)
        if (checks[i].fence == f)
            return &checks[i];
    fail_msg("fence %d was not weighed", f);
    return NULL;
}

static void expect(struct decision d, bool allowed, enum decide_reason reason)
{
    assert_string_equal(decide_reason_name(d.reason), decide_reason_name(reason));
    assert_int_equal(d.allowed, allowed);
}

static void test_election_writes_are_exempt(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-b");
    struct lease_snapshot s = held_by("pod-a");
    r.res_group = S("coordination.k8s.io");
    r.res_resource = S("leases");
    r.name = S("controller-leader");
    struct decision d = run(&r, &s);
    expect(d, true, REASON_LEASE);
    assert_false(d.fenced);
    assert_int_equal(d.fence, -1);
    assert_int_equal(nchecks, 0);
    /* any fence's Lease is an election, whoever writes it */
    r.name = S("team-b");
    expect(run(&r, &s), true, REASON_LEASE);
    /* Coordinated Leader Election: standbys register as leasecandidates */
    r.res_resource = S("leasecandidates");
    r.name = S("controller-leader-pod-b");
    expect(run(&r, &s), true, REASON_LEASE);
    /* a Lease no fence watches (shard assignment, data) is fenced like any object */
    r.res_resource = S("leases");
    r.name = S("shard-7");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* the same name in another namespace is another Lease */
    r.name = S("controller-leader");
    r.namespace_ = S("other");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* a CREATE with generateName has no name yet: no fence can watch it */
    r.namespace_ = S("demo");
    r.name = S("");
    r.operation = S("CREATE");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    r.name = S(NULL);
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* another group's "leases" is not the coordination Lease */
    r.res_group = S("example.com");
    r.name = S("controller-leader");
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

static void test_user_and_group_fences_are_both_weighed(void **state)
{
    (void)state;
    struct review r = write_in_group("demo-writers", "warned", "pod-b");
    int idx[4];
    assert_int_equal(decide_fences(&r, table, idx, 4), 2);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 1);
    /* too small a buffer: nothing written, a size that suffices returned */
    idx[0] = -7;
    assert_true(decide_fences(&r, table, idx, 1) > 1);
    assert_int_equal(idx[0], -7);
    /* the enforce fence denies though the writer's own user fence only warns */
    struct lease_snapshot s = held_by("pod-a");
    struct decision d = run(&r, &s);
    expect(d, false, REASON_NOT_HOLDER);
    assert_int_equal(d.fence, 0);
}

static void test_every_group_fence_is_weighed_once(void **state)
{
    (void)state;
    struct review_str groups[] = {S("annotated"), S("by-user-group"), S("demo-writers"), S("annotated")};
    struct review r = write_by("not-listed", "pod-b");
    int idx[8];
    r.groups = groups;
    r.ngroups = 4;
    assert_int_equal(decide_fences(&r, table, idx, 8), 3);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 4);
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
    struct fence_check c;
    decide_check(&r, table, 0, NULL, NOW, SKEW, &c);
    assert_int_equal(c.reason, REASON_UNTAGGED);
    assert_true(c.failed);
}

static void test_unknown_not_synced(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    struct fence_check c;
    s.known = false;
    struct decision d = run(&r, &s);
    expect(d, false, REASON_UNKNOWN);
    assert_non_null(strstr(d.message, "not known"));
    decide_check(&r, table, 0, NULL, NOW, SKEW, &c);
    assert_int_equal(c.reason, REASON_UNKNOWN);
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
    assert_int_equal(checks[0].identity.len, 5);
    assert_memory_equal(checks[0].identity.ptr, "pod-a", 5);
}

static void test_epoch(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    annotate(&r, "other", "u1/2");
    annotate(&r, "leasefence.io/epoch", "u1/2");
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

/* Issue 12: the holder in term 2 DELETEs or data-patches an object tagged in term 1.  That epoch was set
 * by an earlier write, not this one: it is not this write's epoch. */
static void test_epoch_this_write_did_not_set_does_not_count(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    r.operation = S("DELETE");
    r.has_object = false;
    annotate_old(&r, "leasefence.io/epoch", "u1/1");
    expect(run(&r, &s), true, REASON_HOLDER);
    assert_null(checks[0].epoch.ptr);
    /* a merge patch of data only: the object keeps the stored tag */
    r.operation = S("UPDATE");
    r.has_object = true;
    annotate(&r, "leasefence.io/epoch", "u1/1");
    expect(run(&r, &s), true, REASON_HOLDER);
    /* a write that sets the stale tag anew is stale */
    old_annotations[0].value = S("u1/0");
    expect(run(&r, &s), false, REASON_STALE_EPOCH);
    /* ... and one that adds it where there was none */
    r.nold_annotations = 0;
    expect(run(&r, &s), false, REASON_STALE_EPOCH);
    /* the current epoch set anew passes */
    annotations[0].value = S("u1/3");
    expect(run(&r, &s), true, REASON_HOLDER);
    /* a non-holder is denied whatever the tags say */
    r = write_by("system:serviceaccount:demo:controller", "pod-b");
    r.operation = S("DELETE");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
}

static void test_epoch_not_checked_without_fence_setting(void **state)
{
    (void)state;
    struct review r = write_by("replica-1", NULL);
    struct lease_snapshot s = held_by("replica-1");
    annotate(&r, "leasefence.io/epoch", "stale/0");
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
    r = write_in_group("by-user-group", "replica-2", NULL);
    s = held_by("replica-2");
    expect(run(&r, &s), true, REASON_HOLDER);
}

static void test_identity_annotation(void **state)
{
    (void)state;
    struct review r = write_in_group("annotated", "anyone", "pod-ignored");
    struct lease_snapshot s = held_by("replica-7");
    struct decision d = run(&r, &s);
    expect(d, false, REASON_UNTAGGED);
    assert_non_null(strstr(d.message, "has no annotation 'example.com/replica'"));
    annotate(&r, "example.com/replica", "replica-7");
    expect(run(&r, &s), true, REASON_HOLDER);
    annotations[0].value = S("replica-8");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* a tag the write changed counts */
    annotate_old(&r, "example.com/replica", "replica-8");
    annotations[0].value = S("replica-7");
    expect(run(&r, &s), true, REASON_HOLDER);
    /* "IDENTITY#NONCE": the holder writes a new value each time; the nonce is not compared */
    old_annotations[0].value = S("replica-7#41");
    annotations[0].value = S("replica-7#42");
    expect(run(&r, &s), true, REASON_HOLDER);
    assert_int_equal(checks[0].identity.len, 9);
    annotations[0].value = S("replica-8#43");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    annotations[0].value = S("#43");
    expect(run(&r, &s), false, REASON_UNTAGGED);
}

/* Issue 12: a stale non-holder's merge patch that changes only data leaves the holder's stored tag in
 * the object; the write did not set it, so it is no identity of this write. */
static void test_identity_annotation_inherited_is_untagged(void **state)
{
    (void)state;
    struct review r = write_in_group("annotated", "anyone", NULL);
    struct lease_snapshot s = held_by("replica-7");
    annotate(&r, "example.com/replica", "replica-7");
    annotate_old(&r, "example.com/replica", "replica-7");
    struct decision d = run(&r, &s);
    expect(d, false, REASON_UNTAGGED);
    assert_non_null(strstr(d.message, "did not set annotation 'example.com/replica'"));
    /* /status: kube-apiserver reset metadata to the stored object's before admission */
    r.sub_resource = S("status");
    expect(run(&r, &s), false, REASON_UNTAGGED);
    /* /scale: a Scale object carries no annotations */
    r.sub_resource = S("scale");
    r.nannotations = 0;
    r.nold_annotations = 0;
    expect(run(&r, &s), false, REASON_UNTAGGED);
    /* DELETE: the only object is oldObject, which the writer did not write */
    r.sub_resource = S(NULL);
    r.operation = S("DELETE");
    r.has_object = false;
    r.nold_annotations = 1;
    d = run(&r, &s);
    expect(d, false, REASON_UNTAGGED);
    assert_non_null(strstr(d.message, "which a DELETE cannot carry"));
    /* eviction and binding are CREATEs of a new object: a tag on it is this write's */
    r = write_in_group("annotated", "anyone", NULL);
    r.operation = S("CREATE");
    r.res_resource = S("pods");
    r.sub_resource = S("eviction");
    expect(run(&r, &s), false, REASON_UNTAGGED);
    annotate(&r, "example.com/replica", "replica-7");
    expect(run(&r, &s), true, REASON_HOLDER);
    r.sub_resource = S("binding");
    annotations[0].value = S("replica-8");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
}

static void test_last_duplicate_annotation_wins(void **state)
{
    (void)state;
    struct review r = write_in_group("annotated", "anyone", NULL);
    struct lease_snapshot s = held_by("replica-7");
    annotate(&r, "example.com/replica", "replica-8");
    annotate(&r, "example.com/replica", "replica-7");
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

/* Decodes the N bytes of BUF into R (keeping the annotations WANT names), from the arena at USED. */
static void decode_into(struct review *r, const char *buf, int n, const struct review_want *want,
                        size_t *used)
{
    char err[256];
    assert_true(n > 0);
    if (review_decode(r, buf, (size_t)n, want, arena_alloc, used, err, sizeof(err)) != 0)
        fail_msg("review_decode: %s", err);
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
 * epoch alike, in object and oldObject: keeping every annotation (WANT NULL)
 * or only the fences' keys. */
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
        "[\"pod-a\"]}},\"object\":{\"metadata\":{\"annotations\":{\"leasefence.io/epoch\":\"u1\\/%c\"}}},"
        "\"oldObject\":{\"metadata\":{\"annotations\":{\"leasefence.io/epoch\":\"u1/%c\"}}}}}";
    struct lease_snapshot s = held_by("replica-7");
    struct review r;
    char buf[1024];
    size_t used = 0;
    int n;

    n = snprintf(buf, sizeof(buf), json, "UPDATE", '7', '8');
    decode_into(&r, buf, n, want, &used);
    assert_true(kv_of(&r, "example.com/replica")->escaped); /* as written: "replica\u002d7" */
    struct decision d = run(&r, &s);
    expect(d, true, REASON_HOLDER);
    assert_int_equal(checks[0].identity.len, 9);
    assert_memory_equal(checks[0].identity.ptr, "replica-7", 9);
    n = snprintf(buf, sizeof(buf), json, "UPDATE", '8', '7');
    decode_into(&r, buf, n, want, &used);
    d = run(&r, &s);
    expect(d, false, REASON_NOT_HOLDER);
    assert_non_null(strstr(d.message, "replica \"replica-8\" is not the holder"));
    /* escaped in object, plain in oldObject, the same value once decoded: inherited */
    n = snprintf(buf, sizeof(buf), json, "UPDATE", '7', '7');
    decode_into(&r, buf, n, want, &used);
    expect(run(&r, &s), false, REASON_UNTAGGED);

    s = held_by("pod-a");
    n = snprintf(buf, sizeof(buf), epoch_json, '3', '1');
    decode_into(&r, buf, n, want, &used);
    assert_true(kv_of(&r, "leasefence.io/epoch")->escaped); /* as written: "u1\/3" */
    d = run(&r, &s);
    expect(d, true, REASON_HOLDER);
    assert_int_equal(checks[0].epoch.len, 4);
    assert_memory_equal(checks[0].epoch.ptr, "u1/3", 4);
    n = snprintf(buf, sizeof(buf), epoch_json, '2', '1');
    decode_into(&r, buf, n, want, &used);
    d = run(&r, &s);
    expect(d, false, REASON_STALE_EPOCH);
    assert_non_null(strstr(d.message, "epoch \"u1/2\""));
    /* the stored tag, escaped differently: not set by this write */
    n = snprintf(buf, sizeof(buf), epoch_json, '2', '2');
    decode_into(&r, buf, n, want, &used);
    expect(run(&r, &s), true, REASON_HOLDER);
}

static void test_escaped_annotations(void **state)
{
    struct review_str keys[8];
    struct review_want want;
    (void)state;
    escaped_annotations(NULL);
    /* the fences' own keys, as serve passes them */
    assert_true(table->nannotation_keys <= 8);
    for (size_t i = 0; i < table->nannotation_keys; i++)
        keys[i] = S(table->annotation_keys[i]);
    review_want_init(&want, keys, table->nannotation_keys);
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
    /* two identities that differ past the cut print differently: the cut is marked with its size */
    big[300] = '\0';
    r = write_by("system:serviceaccount:demo:controller", big);
    d = run(&r, &s);
    assert_non_null(strstr(d.message, "...(47 more bytes)"));
    big[300] = 'x';
    big[400] = '\0';
    r = write_by("system:serviceaccount:demo:controller", big);
    d = run(&r, &s);
    assert_non_null(strstr(d.message, "...(147 more bytes)"));
    /* the holder too */
    s = held_by(big);
    r = write_by("system:serviceaccount:demo:controller", "pod-a");
    d = run(&r, &s);
    assert_non_null(strstr(d.message, "...(147 more bytes)\")"));
    /* exactly 253 bytes: no mark */
    big[253] = '\0';
    s = held_by(big);
    d = run(&r, &s);
    assert_null(strstr(d.message, "more bytes"));
    /* a cut never splits a UTF-8 character: 252 x then a 2-byte character */
    char utf[300];
    memset(utf, 'x', 252);
    memcpy(utf + 252, "\xc3\xa9tail", 7);
    s = held_by(utf);
    d = run(&r, &s);
    assert_non_null(strstr(d.message, "xxx...(6 more bytes)"));
}

/* A holderIdentity may hold NUL (kube-apiserver stores any string): "pod-a\0x" is not "pod-a", and the
 * message shows the byte rather than stopping at it. */
static void test_holder_with_nul(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    s.holder = "pod-a\0x";
    s.holder_len = 7;
    struct decision d = run(&r, &s);
    expect(d, false, REASON_NOT_HOLDER);
    assert_non_null(strstr(d.message, "held by \"pod-a\\x00x\""));
    /* with hostname matching neither: '\0' is not '_' */
    s.holder = "pod-a\0_1";
    s.holder_len = 8;
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* a pod name with NUL (the token's extra holds any string) against a plain holder */
    struct review_str pod = {"pod-a\0", 6};
    r.pod_names = &pod;
    s = held_by("pod-a");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
}

/* client-go, controller-runtime, kube-scheduler, kube-controller-manager: identity "<hostname>_<uuid>"; a
 * pod's hostname is its name.  podName fences match that by default (holderMatch "hostname"). */
static void test_holder_match_hostname(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a_3f2c9a6e-2b1d-4c7e-9f0a-1d2e3f4a5b6c");
    expect(run(&r, &s), true, REASON_HOLDER);
    s = held_by("pod-a_");
    expect(run(&r, &s), true, REASON_HOLDER);
    s = held_by("pod-ab_3f2c");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    s = held_by("pod-a-x");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    s = held_by("xpod-a_3f2c");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    s = held_by("pod-");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* the other way round is no match: the holder is a prefix of the identity */
    r = write_by("system:serviceaccount:demo:controller", "pod-a_3f2c");
    s = held_by("pod-a");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    /* holderMatch exact */
    r = write_by("exact-user", "pod-a");
    s = held_by("pod-a_3f2c");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
    s = held_by("pod-a");
    expect(run(&r, &s), true, REASON_HOLDER);
    /* username and annotation identities default to exact */
    r = write_by("replica-1", NULL);
    s = held_by("replica-1_3f2c");
    expect(run(&r, &s), false, REASON_NOT_HOLDER);
}

/* Issue 12: a webhook replica that starts (or relists) long after the holder stopped renewing must not
 * give it a whole lease duration from first sight. */
static void test_first_sight_bounded_by_renew_time(void **state)
{
    (void)state;
    struct review r = write_by("system:serviceaccount:demo:controller", "pod-a");
    struct lease_snapshot s = held_by("pod-a");
    s.changed_mono_ns = NOW - 1 * SEC;  /* first seen a second ago */
    s.renew_mono_ns = NOW - 3600 * SEC; /* renewed an hour before that */
    struct decision d = run(&r, &s);
    expect(d, false, REASON_EXPIRED);
    assert_non_null(strstr(d.message, "expired 3555.0s ago"));
    /* within renewTime + duration + skew: a holder whose clock lags ours by up to the allowance */
    s.renew_mono_ns = NOW - 15 * SEC - 29 * SEC;
    expect(run(&r, &s), true, REASON_HOLDER);
    s.renew_mono_ns = NOW - 15 * SEC - 31 * SEC;
    expect(run(&r, &s), false, REASON_EXPIRED);
    /* a renewTime ahead of our clock never extends validity past the observed-time rule */
    s.renew_mono_ns = NOW + 3600 * SEC;
    s.changed_mono_ns = NOW - 16 * SEC;
    expect(run(&r, &s), false, REASON_EXPIRED);
    /* no renewTime: the observed-time rule alone */
    s.renew_mono_ns = 0;
    s.changed_mono_ns = NOW - 14 * SEC;
    expect(run(&r, &s), true, REASON_HOLDER);
    /* the allowance is --max-clock-skew's: the earlier of the two bounds, for 30 s (the default), 10 s and 0
     */
    s.changed_mono_ns = NOW - 1 * SEC;
    s.renew_mono_ns = NOW - 40 * SEC;
    assert_true(decide_valid_until(&s, 30 * SEC) == NOW + 5 * SEC);
    assert_true(decide_valid_until(&s, 10 * SEC) == NOW - 15 * SEC);
    assert_true(decide_valid_until(&s, 0) == NOW - 25 * SEC);
    assert_true(decide_valid_until(&s, 3600 * SEC) == NOW + 14 * SEC); /* never past first sight + duration */
}

/* Issue 12: groups team-a and team-b, each with its own Lease; an audit fence listed before an enforce
 * fence for the same group.  Every fence naming the writer is weighed. */
static void test_every_fence_naming_the_writer_is_weighed(void **state)
{
    (void)state;
    struct review_str groups[] = {S("team-b"), S("team-a")};
    struct review r = write_by("member", "pod-a");
    struct lease_snapshot a = held_by("pod-a"), b = held_by("pod-b"), warn = held_by("pod-a");
    r.groups = groups;
    r.ngroups = 2;
    fence_snap[5] = &a;
    fence_snap[6] = &b;
    fence_snap[10] = &warn;
    /* holds team-a's Lease but not team-b's: denied by team-b's fence */
    struct decision d = run(&r, &a);
    expect(d, false, REASON_NOT_HOLDER);
    assert_int_equal(d.fence, 6);
    assert_int_equal(nchecks, 3);
    assert_int_equal(check_of(5)->reason, REASON_HOLDER);
    assert_int_equal(check_of(6)->reason, REASON_NOT_HOLDER);
    assert_non_null(strstr(d.message, "lease demo/team-b"));
    /* holding both passes both */
    b = held_by("pod-a");
    expect(run(&r, &a), true, REASON_HOLDER);
    /* the warn fence fails and the enforce fences pass: allowed, the warn fence decides (its warning) */
    warn = held_by("pod-z");
    d = run(&r, &a);
    expect(d, true, REASON_NOT_HOLDER);
    assert_int_equal(d.fence, 10);
    assert_true(d.failed);
    assert_non_null(strstr(d.message, "(fence mode warn)"));
    /* an enforce failure outranks the warning */
    b = held_by("pod-b");
    d = run(&r, &a);
    expect(d, false, REASON_NOT_HOLDER);
    assert_int_equal(d.fence, 6);

    /* audit listed first, enforce second: the enforce fence is not skipped */
    struct lease_snapshot audit = held_by("pod-a"), enforce = held_by("pod-b");
    r = write_in_group("shared", "member", "pod-a");
    fence_snap[7] = &audit;
    fence_snap[8] = &enforce;
    d = run(&r, &audit);
    expect(d, false, REASON_NOT_HOLDER);
    assert_int_equal(d.fence, 8);
    /* the other way round: the audit fence fails, enforce passes: allowed, reported by the audit fence */
    audit = held_by("pod-b");
    enforce = held_by("pod-a");
    d = run(&r, &audit);
    expect(d, true, REASON_NOT_HOLDER);
    assert_int_equal(d.fence, 7);
    assert_non_null(strstr(d.message, "(fence mode audit)"));
    memset(fence_snap, 0, sizeof(fence_snap));
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const want[] = {"holder",   "unfenced",  "lease",   "untagged",   "unknown",
                                       "no-lease", "no-holder", "expired", "not-holder", "stale-epoch"};
    for (int i = 0; i < REASON_COUNT; i++)
        assert_string_equal(decide_reason_name((enum decide_reason)i), want[i]);
}

/*
 * Strict fences: which checks must be made again on a fresh record before the answer (the passing checks
 * of strict fences, unless the watched state already denies), and the unknown check of a failed read.
 */
static void test_strict_pending(void **state)
{
    (void)state;
    static const char cfg[] =
        "{\"fences\": ["
        " {\"lease\": \"demo/a\", \"writers\": {\"users\": [\"w\"]}, \"consistency\": \"strict\"},"
        " {\"lease\": \"demo/b\", \"writers\": {\"users\": [\"w\"]}},"
        " {\"lease\": \"demo/c\", \"writers\": {\"groups\": [\"g\"]}, \"mode\": \"audit\", \"consistency\": "
        "\"strict\"},"
        " {\"lease\": \"demo/d\", \"writers\": {\"groups\": [\"g\"]}, \"mode\": \"warn\", \"consistency\": "
        "\"strict\"}"
        "]}";
    char err[256], msg[768];
    struct fence_table *t = config_parse(cfg, strlen(cfg), "test", err, sizeof(err));
    assert_non_null(t);
    struct review r = write_in_group("g", "w", "pod-a");
    struct lease_snapshot mine = held_by("pod-a"), other = held_by("pod-b");
    const struct lease_snapshot *snaps[4];
    struct fence_check c[4];
    struct decision d;
    int idx[4];
    size_t pending[4];
    assert_int_equal((int)decide_fences(&r, t, idx, 4), 4);

    /* every fence passes on the watched state: the strict ones are made again, the watch fence is not */
    for (size_t i = 0; i < 4; i++) {
        snaps[i] = &mine;
        decide_check(&r, t, idx[i], snaps[i], NOW, SKEW, &c[i]);
    }
    decide(&r, t, c, snaps, 4, &d);
    assert_true(d.allowed);
    assert_int_equal((int)decide_strict_pending(t, c, 4, &d, pending), 3);
    assert_int_equal((int)pending[0], 0);
    assert_int_equal((int)pending[1], 2);
    assert_int_equal((int)pending[2], 3);

    /* the audit fence fails on the watched state: allowed, and its check stands; the others are made again */
    snaps[2] = &other;
    decide_check(&r, t, idx[2], snaps[2], NOW, SKEW, &c[2]);
    decide(&r, t, c, snaps, 4, &d);
    assert_true(d.allowed);
    assert_int_equal((int)decide_strict_pending(t, c, 4, &d, pending), 2);
    assert_int_equal((int)pending[0], 0);
    assert_int_equal((int)pending[1], 3);

    /* the watch fence denies on the watched state: answered at once, no fresh read */
    snaps[1] = &other;
    decide_check(&r, t, idx[1], snaps[1], NOW, SKEW, &c[1]);
    decide(&r, t, c, snaps, 4, &d);
    assert_false(d.allowed);
    assert_int_equal(d.reason, REASON_NOT_HOLDER);
    assert_int_equal((int)decide_strict_pending(t, c, 4, &d, pending), 0);

    /* a strict fence whose read failed: unknown, denied, and the message says why */
    snaps[1] = &mine;
    decide_check(&r, t, idx[1], snaps[1], NOW, SKEW, &c[1]);
    decide_check_unread(&r, t, idx[0], "no answer within 1000 ms", &c[0]);
    snaps[0] = NULL;
    decide(&r, t, c, snaps, 4, &d);
    assert_false(d.allowed);
    assert_int_equal(d.reason, REASON_UNKNOWN);
    assert_int_equal(d.fence, 0);
    assert_string_equal(d.message,
                        "leasefence: the state of lease demo/a could not be read from the API server "
                        "before deciding (strict consistency: no answer within 1000 ms); replica "
                        "\"pod-a\"; write denied");

    /* made again on a fresh record held by another: not-holder, with the fresh holder in the message */
    snaps[0] = &other;
    decide_check(&r, t, idx[0], snaps[0], NOW, SKEW, &c[0]);
    decide(&r, t, c, snaps, 4, &d);
    assert_false(d.allowed);
    assert_int_equal(d.reason, REASON_NOT_HOLDER);
    decide_message(&r, t, &c[0], snaps[0], msg, sizeof(msg));
    assert_string_equal(
        msg, "leasefence: replica \"pod-a\" is not the holder of lease demo/a (held by \"pod-b\"); "
             "write denied");
    config_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election_writes_are_exempt),
        cmocka_unit_test(test_unfenced_writer),
        cmocka_unit_test(test_fence_by_group),
        cmocka_unit_test(test_user_and_group_fences_are_both_weighed),
        cmocka_unit_test(test_every_group_fence_is_weighed_once),
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
        cmocka_unit_test(test_epoch_this_write_did_not_set_does_not_count),
        cmocka_unit_test(test_epoch_not_checked_without_fence_setting),
        cmocka_unit_test(test_identity_username),
        cmocka_unit_test(test_identity_annotation),
        cmocka_unit_test(test_identity_annotation_inherited_is_untagged),
        cmocka_unit_test(test_last_duplicate_annotation_wins),
        cmocka_unit_test(test_escaped_annotations),
        cmocka_unit_test(test_warn_mode_allows_failed_checks),
        cmocka_unit_test(test_audit_mode_allows_failed_checks),
        cmocka_unit_test(test_enforce_denies_every_failed_row),
        cmocka_unit_test(test_identity_with_quotes_and_long_values_is_bounded),
        cmocka_unit_test(test_holder_with_nul),
        cmocka_unit_test(test_holder_match_hostname),
        cmocka_unit_test(test_first_sight_bounded_by_renew_time),
        cmocka_unit_test(test_every_fence_naming_the_writer_is_weighed),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_strict_pending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
