/* Unit tests of the candidate: durations, validation, and client-go's tryAcquireOrRenew against a fake store.
 */
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "candidate.h"
#include "lease.h"
#include "lf_clock.h"
#include "testing.h"

#define S 1000000000LL

/* A one-Lease API server: resourceVersion checks, 404, 409. */
struct store {
    json_t *obj; /* NULL: no Lease */
    int rv;
    int uid;
    int64_t mono; /* the fake clocks */
    int64_t wall_us;
    int fail_next; /* answer the next FAIL_COUNT (at least one) requests with this code */
    int fail_count;
    int writes;
    int64_t get_latency_ns; /* each get takes this long on the fake clocks */
    bool real_clocks;       /* for candidate_run, whose sleeps are real */
    int release_after;      /* after our write number N, a third party releases the Lease */
    int take_after;         /* after our write number N, "intruder" takes the Lease (for 30 s) */
    atomic_bool hold_gets;  /* gets wait while set (a get under way when the process pauses) */
    atomic_bool in_get;     /* a get is waiting on hold_gets */
    atomic_llong skew_ns;   /* added to the real monotonic clock: time that passed while paused */
    bool fail_updates;      /* every update answers 503 */
    atomic_int updates;     /* update calls, read by the test while candidate_run runs */
};

static int st_fail(struct store *s, char *err, size_t errlen)
{
    int c = s->fail_next;
    if (--s->fail_count <= 0)
        s->fail_next = 0;
    snprintf(err, errlen, "%d injected", c);
    return c;
}

static void bump(struct store *s, json_t *obj)
{
    char rv[32];
    snprintf(rv, sizeof(rv), "%d", ++s->rv);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
}

static int f_get(void *ctx, const char *ns, const char *name, long t, json_t **out, char *err, size_t errlen)
{
    (void)ns, (void)name, (void)t;
    struct store *s = ctx;
    while (atomic_load(&s->hold_gets)) {
        atomic_store(&s->in_get, true);
        nanosleep(&(struct timespec){0, 1000000L}, NULL);
    }
    atomic_store(&s->in_get, false);
    s->mono += s->get_latency_ns;
    s->wall_us += s->get_latency_ns / 1000;
    if (s->fail_next)
        return st_fail(s, err, errlen);
    if (s->obj == NULL) {
        snprintf(err, errlen, "404 NotFound");
        return 404;
    }
    *out = json_deep_copy(s->obj);
    return 200;
}

static int f_create(void *ctx, const char *ns, json_t *obj, long t, json_t **out, char *err, size_t errlen)
{
    (void)ns, (void)t;
    struct store *s = ctx;
    if (s->fail_next)
        return st_fail(s, err, errlen);
    if (s->obj != NULL) {
        snprintf(err, errlen, "409 AlreadyExists");
        return 409;
    }
    s->obj = json_deep_copy(obj);
    char uid[32];
    snprintf(uid, sizeof(uid), "uid-%d", ++s->uid);
    json_object_set_new(json_object_get(s->obj, "metadata"), "uid", json_string(uid));
    bump(s, s->obj);
    s->writes++;
    *out = json_deep_copy(s->obj);
    return 201;
}

static int f_update(void *ctx, const char *ns, const char *name, json_t *obj, long t, json_t **out, char *err,
                    size_t errlen)
{
    (void)ns, (void)name, (void)t;
    struct store *s = ctx;
    atomic_fetch_add(&s->updates, 1);
    if (s->fail_next)
        return st_fail(s, err, errlen);
    if (s->fail_updates) {
        snprintf(err, errlen, "503 injected");
        return 503;
    }
    if (s->obj == NULL) {
        snprintf(err, errlen, "404 NotFound");
        return 404;
    }
    const char *have =
        json_string_value(json_object_get(json_object_get(s->obj, "metadata"), "resourceVersion"));
    const char *want =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (want == NULL || strcmp(have, want) != 0) {
        snprintf(err, errlen, "409 Conflict");
        return 409;
    }
    json_decref(s->obj);
    s->obj = json_deep_copy(obj);
    bump(s, s->obj);
    s->writes++;
    *out = json_deep_copy(s->obj);
    if (s->writes == s->release_after) {
        json_t *spec = json_object_get(s->obj, "spec");
        json_object_set_new(spec, "holderIdentity", json_string(""));
        json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
        bump(s, s->obj);
    }
    if (s->writes == s->take_after) {
        json_t *spec = json_object_get(s->obj, "spec");
        json_object_set_new(spec, "holderIdentity", json_string("intruder"));
        json_object_set_new(spec, "leaseDurationSeconds", json_integer(30));
        json_object_set_new(spec, "leaseTransitions",
                            json_integer(json_integer_value(json_object_get(spec, "leaseTransitions")) + 1));
        bump(s, s->obj);
    }
    return 200;
}

static int64_t f_mono(void *ctx)
{
    struct store *s = ctx;
    if (s->real_clocks)
        return lf_clock_mono_ns() + atomic_load(&s->skew_ns);
    return s->mono;
}

static int64_t f_wall(void *ctx)
{
    struct store *s = ctx;
    return s->real_clocks ? lf_clock_real_us() : s->wall_us;
}

static void advance(struct store *s, int64_t ns)
{
    s->mono += ns;
    s->wall_us += ns / 1000;
}

/* The defaults, for Lease demo/ctrl and identity ID (borrowed). */
static struct candidate_config config_for(const char *id)
{
    struct candidate_config cfg;
    candidate_config_init(&cfg);
    cfg.ns = "demo";
    cfg.name = "ctrl";
    cfg.identity = id;
    return cfg;
}

static struct candidate *cand(struct store *s, const char *id)
{
    struct candidate_config cfg = config_for(id);
    struct candidate_ops ops = {f_get, f_create, f_update, f_mono, f_wall, s};
    char err[256];
    struct candidate *c = candidate_new_ops(&cfg, &ops, err, sizeof(err));
    assert_non_null(c);
    return c;
}

static struct lease_record rec_of(struct store *s)
{
    struct lease_record r;
    char err[256];
    assert_non_null(s->obj);
    assert_int_equal(lease_parse(s->obj, &r, err, sizeof(err)), 0);
    return r;
}

/* The Lease in S is held by HOLDER (NULL: by anyone) with TRANSITIONS. */
static void expect_stored(struct store *s, const char *holder, int transitions)
{
    struct lease_record r = rec_of(s);
    if (holder != NULL)
        assert_string_equal(r.holder, holder);
    assert_int_equal(r.transitions, transitions);
    lease_record_release(&r);
}

static void test_durations(void **state)
{
    (void)state;
    int64_t ns;
    assert_int_equal(candidate_parse_duration("500ms", &ns), 0);
    assert_true(ns == 500000000LL);
    assert_int_equal(candidate_parse_duration("2s", &ns), 0);
    assert_true(ns == 2 * S);
    assert_int_equal(candidate_parse_duration("1m", &ns), 0);
    assert_true(ns == 60 * S);
    assert_int_equal(candidate_parse_duration("1m30s", &ns), 0);
    assert_true(ns == 90 * S);
    assert_int_equal(candidate_parse_duration("1.5s", &ns), 0);
    assert_true(ns == 1500000000LL);
    assert_int_equal(candidate_parse_duration("1h", &ns), 0);
    assert_true(ns == 3600 * S);
    assert_int_equal(candidate_parse_duration("250us", &ns), 0);
    assert_true(ns == 250000);
    assert_int_equal(candidate_parse_duration("0", &ns), 0);
    assert_true(ns == 0);
    const char *bad[] = {"", "5", "s", "2x", "-1s", "1.s5", "ms", "1s ", "1 s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (candidate_parse_duration(bad[i], &ns) == 0)
            fail_msg("accepted '%s'", bad[i]);
}

static void test_validate(void **state)
{
    (void)state;
    struct candidate_config cfg = config_for("me");
    char err[256];
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), 0);
    assert_true(cfg.lease_duration_ns == 15 * S && cfg.renew_deadline_ns == 10 * S &&
                cfg.retry_period_ns == 2 * S);
    /* the names go into the URL path: "x?y" would elect on Lease "x" (elect --lease 'demo/x?y') */
    cfg.name = "x?y";
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "name 'x?y' is not a valid Lease name (RFC 1123 subdomain)");
    cfg.name = "n";
    cfg.ns = "Demo";
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "namespace 'Demo' is not a valid namespace name (RFC 1123 label)");
    cfg.ns = "d";
    cfg.renew_deadline_ns = 15 * S;
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "lease duration must be greater than renew deadline");
    cfg.renew_deadline_ns = 2400000000LL; /* == 1.2 x 2s */
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "renew deadline must be greater than retry period"));
    cfg.renew_deadline_ns = 2400000001LL;
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), 0);
    /* the short durations the integration tests use */
    cfg.lease_duration_ns = 2 * S;
    cfg.renew_deadline_ns = 1500000000LL;
    cfg.retry_period_ns = 400000000LL;
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), 0);
    cfg.lease_duration_ns = 900000000LL;
    cfg.renew_deadline_ns = 600000000LL;
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), -1);
    cfg.lease_duration_ns = 2 * S;
    cfg.identity = "";
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), -1);
}

static void test_election(void **state)
{
    (void)state;
    struct store s = {.mono = 1000 * S, .wall_us = 1700000000000000LL};
    struct candidate *a = cand(&s, "a"), *b = cand(&s, "b");

    /* create on 404 */
    assert_true(candidate_try(a));
    struct lease_record r = rec_of(&s);
    assert_string_equal(r.holder, "a");
    assert_int_equal(r.duration_s, 15);
    assert_int_equal(r.transitions, 0);
    assert_true(r.acquire_us == s.wall_us && r.renew_us == s.wall_us);
    assert_string_equal(r.uid, "uid-1");
    int64_t acquired = r.acquire_us;
    lease_record_release(&r);

    /* renew keeps acquireTime and transitions, moves renewTime */
    advance(&s, 2 * S);
    assert_true(candidate_try(a));
    r = rec_of(&s);
    assert_true(r.acquire_us == acquired);
    assert_true(r.renew_us == s.wall_us);
    assert_int_equal(r.transitions, 0);
    lease_record_release(&r);

    /* b sees a valid lease: no write */
    int writes = s.writes;
    assert_false(candidate_try(b));
    assert_int_equal(s.writes, writes);
    struct candidate_status st;
    candidate_status(b, &st);
    assert_string_equal(st.holder, "a");
    assert_false(st.leading);
    assert_string_equal(st.epoch, "");
    candidate_status_release(&st);

    /* a stops renewing; b waits a full duration from ITS observation */
    advance(&s, 14 * S);
    assert_false(candidate_try(b));
    advance(&s, 2 * S);
    assert_true(candidate_try(b));
    r = rec_of(&s);
    assert_string_equal(r.holder, "b");
    assert_int_equal(r.transitions, 1);
    assert_true(r.acquire_us == s.wall_us);
    lease_record_release(&r);

    /* a's optimistic renew hits 409, the slow path sees b: a does not lead */
    writes = s.writes;
    assert_false(candidate_try(a));
    assert_int_equal(s.writes, writes);
    r = rec_of(&s);
    assert_string_equal(r.holder, "b");
    lease_record_release(&r);

    /* release: holder "", duration 1, transitions kept; a then takes over at once */
    assert_true(candidate_release(b));
    r = rec_of(&s);
    assert_string_equal(r.holder, "");
    assert_int_equal(r.duration_s, 1);
    assert_int_equal(r.transitions, 1);
    lease_record_release(&r);
    assert_true(candidate_try(a));
    expect_stored(&s, "a", 2);

    /* deleted: re-created with transitions 0 and a new uid */
    json_decref(s.obj);
    s.obj = NULL;
    advance(&s, 1 * S);
    assert_true(candidate_try(a));
    r = rec_of(&s);
    assert_int_equal(r.transitions, 0);
    assert_string_equal(r.uid, "uid-2");
    lease_record_release(&r);

    /* API errors: no write believed */
    advance(&s, 1 * S);
    s.fail_next = 500;
    /* the fast-path update fails; the slow path's get succeeds and renews */
    assert_true(candidate_try(a));
    /* the fast path and the get both fail: not leading on this step, nothing written */
    s.fail_next = 503;
    s.fail_count = 2;
    writes = s.writes;
    assert_false(candidate_try(a));
    assert_int_equal(s.writes, writes);

    candidate_free(a);
    candidate_free(b);
    json_decref(s.obj);
}

static void test_expiry_is_local(void **state)
{
    (void)state;
    /* A Lease whose renewTime is an hour old but which we have only just seen is not expired. */
    struct store s = {.mono = 50 * S, .wall_us = 1700000000000000LL};
    char old[48];
    lease_format_microtime(s.wall_us - 3600000000LL, old, sizeof(old));
    char text[512];
    snprintf(
        text, sizeof(text),
        "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"ctrl\","
        "\"namespace\":\"demo\",\"uid\":\"u0\",\"resourceVersion\":\"7\"},\"spec\":{\"holderIdentity\":\"x\","
        "\"leaseDurationSeconds\":5,\"renewTime\":\"%s\",\"acquireTime\":\"%s\",\"leaseTransitions\":9}}",
        old, old);
    s.obj = json_loads(text, 0, NULL);
    s.rv = 7;
    struct candidate *b = cand(&s, "b");
    assert_false(candidate_try(b));
    advance(&s, 4 * S);
    assert_false(candidate_try(b));
    advance(&s, 2 * S);
    assert_true(candidate_try(b));
    struct lease_record r = rec_of(&s);
    assert_int_equal(r.transitions, 10);
    assert_string_equal(r.uid, "u0");
    lease_record_release(&r);

    /* a change of the record restarts the clock */
    candidate_free(b);
    json_decref(s.obj);
    s.obj = NULL;
}

/*
 * A change is observed when the answer arrives (client-go's setObservedRecord
 * reads the clock then): a get that took 9 s must not make the holder's lease
 * look 9 s older to us, or we take over while it is still valid.
 */
static void test_slow_get_observed_late(void **state)
{
    (void)state;
    struct store s = {.mono = 1000 * S, .wall_us = 1700000000000000LL};
    struct candidate *a = cand(&s, "a"), *b = cand(&s, "b");
    assert_true(candidate_try(a)); /* a holds for 15 s from now */
    s.get_latency_ns = 9 * S;
    assert_false(candidate_try(b)); /* b's get answers 9 s later: a renewed nothing, but b saw it only now */
    s.get_latency_ns = 0;
    advance(&s, 14 * S); /* 23 s after a's write, 14 s after b first saw it */
    int writes = s.writes;
    assert_false(candidate_try(b));
    assert_int_equal(s.writes, writes);
    advance(&s, 2 * S);
    assert_true(candidate_try(b));
    candidate_free(a);
    candidate_free(b);
    json_decref(s.obj);
}

/* candidate_run on its own thread with short real durations; the callbacks count into atomics. */
struct run {
    struct store *s;
    struct candidate *c;
    pthread_t th;
    atomic_int started, stopped, new_leaders;
    char last_epoch[64]; /* written by the candidate thread, read after join */
    /* the status right after the candidate observed "intruder" (read in the new-leader callback) */
    bool saw_intruder, intruder_leading;
    char intruder_epoch[320];
    int64_t intruder_ns, stopped_ns; /* real monotonic times of the observation and of stopped leading */
};

static int64_t real_now_ns(void)
{
    return lf_clock_mono_ns();
}

static void r_started(void *ctx, const char *epoch)
{
    struct run *r = ctx;
    snprintf(r->last_epoch, sizeof(r->last_epoch), "%s", epoch);
    atomic_fetch_add(&r->started, 1);
}

static void r_stopped(void *ctx)
{
    struct run *r = ctx;
    if (r->stopped_ns == 0)
        r->stopped_ns = real_now_ns();
    atomic_fetch_add(&r->stopped, 1);
}

static void r_new_leader(void *ctx, const char *holder, size_t holder_len)
{
    struct run *r = ctx;
    if (holder_len == 8 && memcmp(holder, "intruder", 8) == 0 && !r->saw_intruder) {
        struct candidate_status st;
        candidate_status(r->c, &st);
        r->saw_intruder = true;
        r->intruder_ns = real_now_ns();
        r->intruder_leading = st.leading;
        snprintf(r->intruder_epoch, sizeof(r->intruder_epoch), "%s", st.epoch);
        candidate_status_release(&st);
    }
    atomic_fetch_add(&r->new_leaders, 1);
}

static void *run_main(void *arg)
{
    candidate_run(((struct run *)arg)->c);
    return NULL;
}

static void run_start(struct run *r, struct store *s, const char *id)
{
    struct candidate_config cfg = config_for(id);
    cfg.lease_duration_ns = 2 * S;
    cfg.renew_deadline_ns = 1500000000LL;
    cfg.retry_period_ns = 200000000LL;
    cfg.release_on_cancel = false;
    cfg.cb = (struct candidate_callbacks){r_started, r_stopped, r_new_leader, r};
    struct candidate_ops ops = {f_get, f_create, f_update, f_mono, f_wall, s};
    char err[256];
    r->s = s;
    s->real_clocks = true;
    r->c = candidate_new_ops(&cfg, &ops, err, sizeof(err));
    assert_non_null(r->c);
    assert_int_equal(pthread_create(&r->th, NULL, run_main, r), 0);
}

static void run_stop(struct run *r)
{
    candidate_cancel(r->c);
    pthread_join(r->th, NULL);
    candidate_free(r->c);
}

static void wait_until(atomic_int *v, int want, int max_ms)
{
    for (int i = 0; i < max_ms / 10 && atomic_load(v) < want; i++)
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
}

/*
 * The Lease is released under the leader (a third party writes holder "") and
 * the leader's next renewal takes it again with leaseTransitions + 1: the epoch
 * it announced is gone, so the term ends and a new one starts with the new epoch.
 */
static void test_epoch_moves_while_renewing(void **state)
{
    (void)state;
    struct store s = {.release_after = 2};
    struct run r = {0};
    run_start(&r, &s, "a");
    wait_until(&r.started, 2, 5000);
    run_stop(&r);
    assert_int_equal(atomic_load(&r.started), 2);
    assert_true(atomic_load(&r.stopped) >= 1);
    assert_string_equal(r.last_epoch, "uid-1/1");
    expect_stored(&s, "a", 1);
    json_decref(s.obj);
}

/* client-go reports a new leader only when the holder differs from the last one reported, initially "". */
static void test_released_is_no_new_leader(void **state)
{
    (void)state;
    struct store s = {.fail_updates = true, .rv = 3};
    s.obj = json_loads("{\"metadata\":{\"name\":\"ctrl\",\"namespace\":\"demo\",\"uid\":\"u\","
                       "\"resourceVersion\":\"3\"},\"spec\":{\"holderIdentity\":\"\","
                       "\"leaseDurationSeconds\":1,\"leaseTransitions\":4}}",
                       0, NULL);
    struct run r = {0};
    run_start(&r, &s, "b");
    wait_until(&s.updates, 1, 5000); /* b saw the released Lease and tried to take it */
    run_stop(&r);
    assert_true(atomic_load(&s.updates) >= 1);
    assert_int_equal(atomic_load(&r.started), 0);
    assert_int_equal(atomic_load(&r.new_leaders), 0);
    json_decref(s.obj);
}

/*
 * Someone else writes themselves into the Lease while the candidate leads: as soon as the candidate has
 * observed that record, its status says not leader (client-go's IsLeader: the observed holder is not us)
 * and reports no epoch (never the new holder's), and the term ends then, not at the renew deadline.
 */
static void test_taken_while_leading(void **state)
{
    (void)state;
    struct store s = {.take_after = 2};
    struct run r = {0};
    run_start(&r, &s, "a");
    wait_until(&r.stopped, 1, 5000);
    run_stop(&r);
    assert_int_equal(atomic_load(&r.started), 1);
    assert_string_equal(r.last_epoch, "uid-1/0");
    assert_true(r.saw_intruder);
    assert_false(r.intruder_leading);
    assert_string_equal(r.intruder_epoch, "");
    assert_true(atomic_load(&r.stopped) >= 1);
    /* at once: well inside the renew deadline (1.5 s) */
    if (r.stopped_ns - r.intruder_ns > 300000000LL)
        fail_msg("stopped leading %lld ms after observing the new holder",
                 (long long)((r.stopped_ns - r.intruder_ns) / 1000000));
    expect_stored(&s, "intruder", 1);
    json_decref(s.obj);
}

/*
 * A leader resumed from a pause longer than its lease, before its first request after the pause has
 * answered: its status no longer claims the Lease (it may have been taken).  Once the Lease turns out to
 * still be its own and is renewed, the term goes on with the same epoch.
 */
static void test_status_after_pause(void **state)
{
    (void)state;
    struct store s = {0};
    struct run r = {0};
    run_start(&r, &s, "a");
    wait_until(&r.started, 1, 5000);
    wait_until(&s.updates, 2, 5000); /* renewing */
    struct candidate_status st;
    candidate_status(r.c, &st);
    assert_true(st.leading);
    assert_string_equal(st.epoch, "uid-1/0");
    candidate_status_release(&st);

    atomic_store(&s.hold_gets, true);
    /* 3 s "paused", the lease is 2 s (again if a renewal was under way as the clock jumped: it then read
     * the new time, and its lease is valid from there) */
    for (int i = 0; i < 500 && !atomic_load(&s.in_get); i++) {
        if (i % 100 == 0)
            atomic_fetch_add(&s.skew_ns, 3 * S);
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
    }
    assert_true(atomic_load(&s.in_get)); /* its lease expired on its clock: it reads the Lease again */
    candidate_status(r.c, &st);
    assert_false(st.leading);
    assert_string_equal(st.epoch, "");
    assert_string_equal(st.holder, "a");
    candidate_status_release(&st);

    int updates = atomic_load(&s.updates);
    atomic_store(&s.hold_gets, false);
    wait_until(&s.updates, updates + 1, 5000);
    bool leading = false;
    for (int i = 0; i < 100 && !leading; i++) {
        candidate_status(r.c, &st);
        leading = st.leading;
        if (leading)
            assert_string_equal(st.epoch, "uid-1/0");
        candidate_status_release(&st);
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
    }
    assert_true(leading);
    run_stop(&r);
    assert_int_equal(atomic_load(&r.started), 1);
    json_decref(s.obj);
}

/*
 * A holder with a NUL byte ("a\u0000x", which kube-apiserver accepts) is not "a": candidate "a" does not
 * renew it as its own, and takes it over only once it expires, writing back the other fields (an
 * annotation and a strategy with NUL bytes) as it read them.  Then it renews it.
 */
static void test_nul_holder_is_another(void **state)
{
    (void)state;
    struct store s = {.mono = 1000 * S, .wall_us = 1700000000000000LL, .rv = 3};
    s.obj = json_loads("{\"metadata\":{\"name\":\"ctrl\",\"namespace\":\"demo\",\"uid\":\"u\","
                       "\"resourceVersion\":\"3\",\"annotations\":{\"n\":\"x\\u0000y\"}},"
                       "\"spec\":{\"holderIdentity\":\"a\\u0000x\",\"leaseDurationSeconds\":15,"
                       "\"leaseTransitions\":4,\"strategy\":\"s\\u0000\"}}",
                       JSON_ALLOW_NUL, NULL);
    assert_non_null(s.obj);
    struct candidate *a = cand(&s, "a");
    assert_false(candidate_try(a));
    assert_int_equal(s.writes, 0);
    struct candidate_status st;
    candidate_status(a, &st);
    assert_int_equal((int)st.holder_len, 3);
    assert_memory_equal(st.holder, "a\0x", 3);
    candidate_status_release(&st);
    advance(&s, 14 * S);
    assert_false(candidate_try(a));
    advance(&s, 2 * S);
    assert_true(candidate_try(a));
    struct lease_record r = rec_of(&s);
    assert_string_equal(r.holder, "a");
    assert_int_equal((int)r.holder_len, 1);
    assert_int_equal(r.transitions, 5);
    assert_int_equal((int)r.strategy_len, 2);
    assert_memory_equal(r.strategy, "s\0", 2);
    lease_record_release(&r);
    json_t *note = json_object_get(json_object_get(json_object_get(s.obj, "metadata"), "annotations"), "n");
    assert_int_equal((int)json_string_length(note), 3);
    assert_memory_equal(json_string_value(note), "x\0y", 3);
    advance(&s, 2 * S);
    int writes = s.writes;
    assert_true(candidate_try(a)); /* renewal */
    assert_int_equal(s.writes, writes + 1);
    expect_stored(&s, NULL, 5);
    candidate_free(a);
    json_decref(s.obj);
}

static void test_validate_identity_utf8(void **state)
{
    (void)state;
    struct candidate_config cfg = config_for("pod-\xff");
    char err[256];
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), -1);
    assert_string_equal(err, "identity is not valid UTF-8");
    cfg.identity = "pod-\xc3\xa9";
    assert_int_equal(candidate_config_validate(&cfg, err, sizeof(err)), 0);
}

static void test_malformed_not_touched(void **state)
{
    (void)state;
    struct store s = {.mono = 50 * S, .wall_us = 1700000000000000LL};
    s.obj = json_loads("{\"metadata\":{\"name\":\"ctrl\",\"namespace\":\"demo\",\"resourceVersion\":\"1\"},"
                       "\"spec\":{\"holderIdentity\":\"x\",\"renewTime\":\"garbage\"}}",
                       0, NULL);
    s.rv = 1;
    struct candidate *b = cand(&s, "b");
    advance(&s, 100 * S);
    assert_false(candidate_try(b));
    assert_int_equal(s.writes, 0);
    candidate_free(b);
    json_decref(s.obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_election),
        cmocka_unit_test(test_expiry_is_local),
        cmocka_unit_test(test_malformed_not_touched),
        cmocka_unit_test(test_slow_get_observed_late),
        cmocka_unit_test(test_epoch_moves_while_renewing),
        cmocka_unit_test(test_released_is_no_new_leader),
        cmocka_unit_test(test_taken_while_leading),
        cmocka_unit_test(test_status_after_pause),
        cmocka_unit_test(test_nul_holder_is_another),
        cmocka_unit_test(test_validate_identity_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
