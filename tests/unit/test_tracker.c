/* Unit tests of the tracker that need no API server: names, indexes, snapshots before sync, unreachable
 * server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "kube.h"
#include "lease.h"
#include "lf_clock.h"
#include "testing.h"
#include "tracker.h"

#include "fake_server.h"

static struct kube_client *unreachable_client(void)
{
    char path[] = "/tmp/test_tracker.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *kc = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                     "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                     "users:\n- name: u\n  user: {token: t}\n";
    assert_true(write(fd, kc, strlen(kc)) == (ssize_t)strlen(kc));
    close(fd);
    char err[256];
    struct kube_client *c = kube_client_new(path, err, sizeof(err));
    unlink(path);
    assert_non_null(c);
    return c;
}

static void test_track_and_find(void **state)
{
    (void)state;
    struct kube_client *c = unreachable_client();
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "a", err, sizeof(err)), 0);
    assert_int_equal(tracker_track(t, "demo", "b.c-d", err, sizeof(err)), 1);
    assert_int_equal(tracker_track(t, "demo", "a", err, sizeof(err)), 0); /* idempotent */
    assert_int_equal(tracker_track(t, "Demo", "a", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "namespace"));
    assert_int_equal(tracker_track(t, "demo", "-a", err, sizeof(err)), -1);
    assert_int_equal(tracker_track(t, "demo", "", err, sizeof(err)), -1);
    assert_int_equal(tracker_track(t, "de.mo", "a", err, sizeof(err)), -1);
    assert_int_equal(tracker_find(t, "demo", "b.c-d"), 1);
    assert_int_equal(tracker_find(t, "demo", "zzz"), -1);
    assert_int_equal((int)tracker_count(t), 2);
    assert_false(tracker_all_synced(t));

    const struct lease_snapshot *s = tracker_acquire(t, 1);
    assert_non_null(s);
    assert_false(s->known);
    assert_string_equal(s->ns, "demo");
    assert_string_equal(s->name, "b.c-d");
    assert_string_equal(s->holder, "");
    assert_string_equal(s->epoch, "");
    tracker_release(t, s);
    s = tracker_acquire(t, 99); /* never NULL */
    assert_non_null(s);
    assert_false(s->known);
    tracker_release(t, s);
    tracker_free(t);
    kube_client_free(c);
}

static void test_unreachable_stays_unknown(void **state)
{
    (void)state;
    struct kube_client *c = unreachable_client();
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "a", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *held = tracker_acquire(t, 0);
    /* tracked after start too */
    assert_int_equal(tracker_track(t, "demo", "late", err, sizeof(err)), 1);
    usleep(600000);
    for (size_t i = 0; i < 2; i++) {
        const struct lease_snapshot *s = tracker_acquire(t, i);
        assert_false(s->known);
        assert_false(s->watching);
        tracker_release(t, s);
    }
    assert_false(tracker_all_synced(t));
    struct kube_code_count rows[4];
    size_t n = kube_client_request_counts(c, rows, 4);
    assert_int_equal((int)n, 1);
    assert_int_equal(rows[0].code, 0);
    assert_true(rows[0].count >= 2); /* retried with backoff */
    tracker_stop(t);
    /* a snapshot taken before stop stays valid */
    assert_string_equal(held->name, "a");
    tracker_release(t, held);
    tracker_free(t);
    kube_client_free(c);
}

/*
 * A fake API server over plain HTTP/1.1: the list returns a Lease with a
 * malformed renewTime; a watch then sends a well-formed MODIFIED event.
 */
struct fake_api {
    struct fake_server srv;
    atomic_int lists, watches;
    bool short_watches;      /* every watch answers 200 and ends at once */
    bool gone_watches;       /* every watch answers an ERROR 410 event at once */
    bool recreate;           /* the first watch: the Lease, the same record under a new uid, then DELETED */
    bool silent;             /* every watch answers 200, then nothing until the client hangs up */
    atomic_int hangups;      /* silent watches the client hung up on */
    const char *list_body;   /* instead of the list with a malformed Lease */
    const char *watch_body;  /* instead of the MODIFIED event of the default watch (lines, each with \n) */
    bool fail_relists;       /* lists after the first answer 500 */
    const char *relist_body; /* lists after the first answer this */
};

/* One watch event line for Lease demo/bad held by "h". */
static void send_event(int c, const char *type, const char *uid, int rv)
{
    char line[512];
    snprintf(
        line, sizeof(line),
        "{\"type\":\"%s\",\"object\":{\"metadata\":{\"name\":\"bad\",\"namespace\":\"demo\",\"uid\":"
        "\"%s\",\"resourceVersion\":\"%d\"},\"spec\":{\"holderIdentity\":\"h\",\"leaseDurationSeconds\":15,"
        "\"leaseTransitions\":2}}}\n",
        type, uid, rv);
    fake_server_send(c, line);
}

/* A list: the first one answers list_body (or a Lease with a malformed renewTime), later ones as set. */
static void fake_api_list(struct fake_api *fa, int c)
{
    bool relist = fa->lists++ > 0;
    if (relist && fa->relist_body != NULL)
        fake_server_send_json(c, "200 OK", fa->relist_body);
    else if (relist && fa->fail_relists)
        fake_server_send(
            c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    else
        fake_server_send_json(
            c, "200 OK",
            fa->list_body != NULL
                ? fa->list_body
                : "{\"kind\":\"LeaseList\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{"
                  "\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":{\"name\":\"bad\",\"namespace\":"
                  "\"demo\",\"uid\":\"u1\",\"resourceVersion\":\"9\"},\"spec\":{\"holderIdentity\":\"x\","
                  "\"leaseDurationSeconds\":15,\"renewTime\":\"garbage\"}}]}");
}

#define WATCH_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"

/* A watch that stays up, no byte coming, until the client hangs up. */
static void fake_api_silent_watch(struct fake_api *fa, int c)
{
    char buf[512];
    fake_server_send(c, WATCH_HEAD);
    while (!fa->srv.stop) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 50) > 0 && read(c, buf, sizeof(buf)) <= 0) {
            fa->hangups++;
            return;
        }
    }
}

static void fake_api_watch(struct fake_api *fa, int c)
{
    bool first = fa->watches++ == 0;
    if (fa->recreate && first) {
        fake_server_send(c, WATCH_HEAD);
        send_event(c, "MODIFIED", "u1", 11);
        fake_server_sleep_ms(300);
        send_event(c, "MODIFIED", "u2", 12); /* deleted and re-created, the DELETED event missed */
        fake_server_sleep_ms(300);
        send_event(c, "DELETED", "u2", 13);
        fake_server_nap(&fa->srv, 2000);
    } else if (fa->silent) {
        fake_api_silent_watch(fa, c);
    } else if (fa->gone_watches) {
        fake_server_send(c, WATCH_HEAD "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                                       "\"reason\":\"Expired\",\"message\":\"too old resource version\"}}\n");
    } else if (fa->short_watches) {
        fake_server_send(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n"
                            "Connection: close\r\n\r\n");
    } else {
        fake_server_send(c, WATCH_HEAD);
        fake_server_sleep_ms(300);
        fake_server_send(
            c, fa->watch_body != NULL
                   ? fa->watch_body
                   : "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bad\",\"namespace\":"
                     "\"demo\",\"uid\":\"u1\",\"resourceVersion\":\"11\"},\"spec\":{\"holderIdentity\":"
                     "\"good\",\"leaseDurationSeconds\":15,\"leaseTransitions\":2,"
                     "\"renewTime\":\"2026-11-24T06:12:00.123456Z\"}}}\n");
        fake_server_nap(&fa->srv, 2000);
    }
}

/* One connection at a time (fake_server_handler): a list or a watch. */
static void fake_api_serve(void *ctx, int c)
{
    struct fake_api *fa = ctx;
    char buf[4096];
    fake_server_read_request(c, buf, sizeof(buf), false);
    if (strstr(buf, "watch=1") == NULL)
        fake_api_list(fa, c);
    else
        fake_api_watch(fa, c);
}

static struct kube_client *fake_api_start(struct fake_api *fa)
{
    fake_server_start(&fa->srv, fake_api_serve, fa, false);
    return fake_server_client(&fa->srv);
}

static void fake_api_stop(struct fake_api *fa)
{
    fake_server_stop(&fa->srv);
}

/* A LeaseList body holding the Lease demo/bad with SPEC (the inside of "spec"). */
static char *list_of(const char *spec)
{
    char *b = NULL;
    if (asprintf(&b,
                 "{\"kind\":\"LeaseList\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{"
                 "\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":{\"name\":\"bad\",\"namespace\":"
                 "\"demo\",\"uid\":\"u1\",\"resourceVersion\":\"9\",\"annotations\":{\"n\":\"a\\u0000b\"}},"
                 "\"spec\":{%s}}]}",
                 spec) < 0)
        fail_msg("asprintf");
    return b;
}

/* A server that ends every watch at once is retried with backoff, not in a busy loop. */
static void short_watches(bool gone)
{
    struct fake_api fa = {.short_watches = !gone, .gone_watches = gone};
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    fake_server_sleep_ms(1500);
    tracker_free(t);
    int watches = fa.watches;
    fake_api_stop(&fa);
    kube_client_free(c);
    /* backoff 200 ms doubling, jittered: at most a handful in 1.5 s (a busy loop makes hundreds) */
    assert_true(watches >= 2);
    if (watches > 10)
        fail_msg("%d watches in 1.5 s", watches);
}

static void test_short_watches_back_off(void **state)
{
    (void)state;
    short_watches(false);
}

/* The same when every watch is answered by 410 Gone: relists are spaced too. */
static void test_gone_watches_back_off(void **state)
{
    (void)state;
    short_watches(true);
}

static int64_t now_ms(void)
{
    return lf_clock_mono_ms();
}

/* Polls Lease 0 until its snapshot's watching and tracked are as wanted; fails after 3 s. */
static void wait_state(struct tracker *t, bool watching, bool tracked)
{
    for (int i = 0; i < 300; i++) {
        const struct lease_snapshot *s = tracker_acquire(t, 0);
        bool ok = s->watching == watching && s->tracked == tracked;
        tracker_release(t, s);
        if (ok)
            return;
        fake_server_sleep_ms(10);
    }
    fail_msg("lease 0 never reached watching=%d tracked=%d", watching, tracked);
}

/*
 * A watch that goes silent (a hung API server: the connection stays up, no
 * bookmark, no end) is abandoned once silent for its timeoutSeconds plus the
 * margin, and the Lease is listed again.
 */
static void test_silent_watch_abandoned(void **state)
{
    (void)state;
    struct fake_api fa = {.silent = true};
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    tracker_set_watch_timeout(t, 1, 1); /* timeoutSeconds 1: abandoned after 2 s of silence */
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    int64_t t0 = now_ms();
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_state(t, true, true); /* the silent watch counts as connected until it is abandoned */
    while (fa.hangups == 0 && now_ms() - t0 < 8000)
        fake_server_sleep_ms(10);
    int64_t abandoned = now_ms() - t0;
    while (fa.lists < 2 && now_ms() - t0 < 8000)
        fake_server_sleep_ms(10);
    int lists = fa.lists, hangups = fa.hangups;
    tracker_free(t);
    fake_api_stop(&fa);
    kube_client_free(c);
    if (hangups < 1 || lists < 2)
        fail_msg("silent watch not abandoned in 8 s: %d hang-ups, %d lists", hangups, lists);
    if (abandoned < 1900)
        fail_msg("watch abandoned after %lld ms, before 2 s of silence", (long long)abandoned);
}

/*
 * tracker_untrack ends the Lease's watch and starts nothing more; tracking it
 * again lists it afresh (unknown until then) and watches again.
 */
static void test_untrack_and_track_again(void **state)
{
    (void)state;
    char *list = list_of("\"holderIdentity\":\"h\",\"leaseDurationSeconds\":15");
    struct fake_api fa = {.silent = true, .list_body = list}; /* watches stay up until the client hangs up */
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_state(t, true, true);
    assert_int_equal((int)fa.lists, 1);
    assert_true(tracker_all_synced(t));

    tracker_untrack(t, 0);
    wait_state(t, false, false);
    for (int i = 0; i < 100 && fa.hangups == 0; i++)
        fake_server_sleep_ms(10);
    assert_int_equal((int)fa.hangups, 1); /* the watch's connection was closed */
    int lists = fa.lists, watches = fa.watches;
    fake_server_sleep_ms(1000);
    assert_int_equal((int)fa.lists, lists); /* nothing more is read */
    assert_int_equal((int)fa.watches, watches);
    assert_true(tracker_all_synced(t)); /* an untracked Lease does not count */
    assert_int_equal(tracker_find(t, "demo", "bad"), 0);

    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0); /* the same index */
    wait_state(t, true, true);
    assert_int_equal((int)fa.lists, lists + 1); /* listed afresh, not resumed */
    assert_int_equal((int)fa.watches, watches + 1);
    tracker_free(t);
    fake_api_stop(&fa);
    kube_client_free(c);
    free(list);
}

/* Polls Lease 0 until its epoch is EPOCH (exists) or, with EPOCH NULL, until it does not exist. */
static const struct lease_snapshot *wait_snapshot(struct tracker *t, const char *epoch)
{
    for (int i = 0; i < 300; i++) {
        const struct lease_snapshot *s = tracker_acquire(t, 0);
        if (s->known && (epoch != NULL ? s->exists && strcmp(s->epoch, epoch) == 0 : !s->exists))
            return s;
        tracker_release(t, s);
        fake_server_sleep_ms(10);
    }
    fail_msg("lease never reached epoch %s", epoch ? epoch : "(deleted)");
    return NULL;
}

/*
 * The same election record under a new uid is a new Lease (deleted and
 * re-created, the DELETED event missed): changed_mono_ns moves and the epoch
 * follows the uid.  DELETED then publishes exists false.
 */
static void test_recreated_lease_is_a_change(void **state)
{
    (void)state;
    struct fake_api fa = {.recreate = true};
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *s1 = wait_snapshot(t, "u1/2");
    const struct lease_snapshot *s2 = wait_snapshot(t, "u2/2");
    assert_true(s2->changed_mono_ns > s1->changed_mono_ns);
    assert_string_equal(s2->holder, "h");
    assert_string_equal(s2->uid, "u2");
    const struct lease_snapshot *s3 = wait_snapshot(t, NULL);
    assert_true(s3->changed_mono_ns > s2->changed_mono_ns);
    assert_string_equal(s3->epoch, "");
    assert_string_equal(s3->holder, "");
    tracker_release(t, s1);
    tracker_release(t, s2);
    tracker_release(t, s3);
    tracker_free(t);
    fake_api_stop(&fa);
    kube_client_free(c);
}

static void test_malformed_then_fixed(void **state)
{
    (void)state;
    struct fake_api fa = {0};
    struct kube_client *c = fake_api_start(&fa);
    char err[256];
    struct tracker *t = tracker_new(c);
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);

    /* listed, but the object is malformed: known false, so not synced; never a crash */
    const struct lease_snapshot *s = NULL;
    for (int i = 0; i < 100; i++) { /* the list's answer was applied once the API server was heard from */
        s = tracker_acquire(t, 0);
        if (s->contact_mono_ns != 0)
            break;
        tracker_release(t, s);
        s = NULL;
        fake_server_sleep_ms(10);
    }
    assert_non_null(s);
    assert_false(s->known);
    assert_false(s->exists);
    tracker_release(t, s);
    assert_false(tracker_all_synced(t));

    /* the watch delivers a good object: known, with its fields */
    bool known = false;
    for (int i = 0; i < 200 && !known; i++) {
        s = tracker_acquire(t, 0);
        known = s->known;
        if (known) {
            assert_true(s->exists);
            assert_true(s->watching);
            assert_string_equal(s->holder, "good");
            assert_int_equal(s->transitions, 2);
            assert_int_equal(s->lease_duration_s, 15);
            assert_string_equal(s->epoch, "u1/2");
            assert_string_equal(s->resource_version, "11");
            assert_true(s->renew_time_us > 0);
            assert_true(s->changed_mono_ns > 0 && s->contact_mono_ns >= s->changed_mono_ns);
        }
        tracker_release(t, s);
        if (!known)
            fake_server_sleep_ms(10);
    }
    assert_true(known);
    assert_true(tracker_all_synced(t)); /* synced once the last state read is known */
    assert_int_equal(fa.lists, 1);
    assert_true(fa.watches >= 1);
    tracker_free(t);
    kube_client_free(c);
    fake_api_stop(&fa);
}

/* Polls Lease 0 until WANT(snapshot) holds; the snapshot is returned held, or the test fails after 3 s. */
static const struct lease_snapshot *wait_for(struct tracker *t, bool (*want)(const struct lease_snapshot *),
                                             const char *what)
{
    for (int i = 0; i < 300; i++) {
        const struct lease_snapshot *s = tracker_acquire(t, 0);
        if (want(s))
            return s;
        tracker_release(t, s);
        fake_server_sleep_ms(10);
    }
    fail_msg("lease never %s", what);
    return NULL;
}

static bool is_known(const struct lease_snapshot *s)
{
    return s->known;
}

static bool is_unknown(const struct lease_snapshot *s)
{
    return !s->known;
}

static bool is_good(const struct lease_snapshot *s)
{
    return s->known && s->holder_len == 4 && memcmp(s->holder, "good", 4) == 0;
}

/*
 * kube-apiserver accepts "\u0000" in any string of a Lease.  Such a Lease is decoded (known, synced), and
 * its holder "replica-a\0x" keeps its length: no NUL-truncating reader can take it for "replica-a".
 */
static void test_nul_in_strings(void **state)
{
    (void)state;
    char *list = list_of("\"holderIdentity\":\"replica-a\\u0000x\",\"leaseDurationSeconds\":15,"
                         "\"leaseTransitions\":1,\"strategy\":\"\\u0000\"");
    struct fake_api fa = {.silent = true, .list_body = list};
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *s = wait_for(t, is_known, "known");
    assert_true(s->exists);
    assert_int_equal((int)s->holder_len, 11);
    assert_memory_equal(s->holder, "replica-a\0x", 12);
    assert_string_equal(s->epoch, "u1/1");
    tracker_release(t, s);
    assert_true(tracker_all_synced(t));
    tracker_free(t);
    fake_api_stop(&fa);
    kube_client_free(c);
    free(list);
}

/*
 * A Lease that truly cannot be decoded is unknown at once, whatever cannot be decoded: a field of the
 * wrong type, an event that is not JSON, a list that is not JSON.  Not synced either, for readiness.  The
 * Lease is known first (a good list); then the watch brings WATCH_BODY and relists answer RELIST_BODY, or
 * fail with 500 (so that what was known before cannot come back by itself).
 */
static void undecodable(const char *watch_body, const char *relist_body)
{
    char *good = list_of("\"holderIdentity\":\"good\",\"leaseDurationSeconds\":15");
    struct fake_api fa = {
        .list_body = good, .watch_body = watch_body, .fail_relists = true, .relist_body = relist_body};
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *s = wait_for(t, is_good, "known with holder \"good\"");
    tracker_release(t, s);
    assert_true(tracker_all_synced(t));
    s = wait_for(t, is_unknown, "unknown");
    assert_false(s->exists);
    assert_int_equal((int)s->holder_len, 0);
    tracker_release(t, s);
    assert_false(tracker_all_synced(t));
    fake_server_sleep_ms(300); /* and it stays so: nothing readable came since */
    s = tracker_acquire(t, 0);
    assert_false(s->known);
    tracker_release(t, s);
    assert_false(tracker_all_synced(t));
    tracker_free(t);
    fake_api_stop(&fa);
    kube_client_free(c);
    free(good);
}

static void test_undecodable_field_is_unknown(void **state)
{
    (void)state;
    undecodable("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bad\",\"namespace\":\"demo\","
                "\"uid\":\"u1\",\"resourceVersion\":\"11\"},\"spec\":{\"holderIdentity\":\"good\","
                "\"leaseDurationSeconds\":\"15\"}}}\n",
                NULL);
}

static void test_undecodable_event_is_unknown(void **state)
{
    (void)state;
    undecodable("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bad\"},\"spec\":{\"holder\n",
                NULL);
}

static void test_undecodable_list_is_unknown(void **state)
{
    (void)state;
    /* the watch expires (410): the relist's answer is not JSON */
    undecodable("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n",
                "{\"kind\":\"LeaseList\",\"items\":[{\"metadata\":");
}

/*
 * First sight: renewTime is mapped onto the monotonic clock when the record is first seen or changes.  A
 * Lease listed with a renewTime an hour old gets renew_mono_ns an hour before it was seen; the fresh
 * renewal the watch then brings gets renew_mono_ns about when it was seen.
 */
static void test_renew_time_on_the_monotonic_clock(void **state)
{
    (void)state;
    char old[48], fresh[48], spec[256], *event = NULL;
    int64_t wall = lf_clock_real_us();
    lease_format_microtime(wall - 3600LL * 1000000, old, sizeof(old));
    lease_format_microtime(wall, fresh, sizeof(fresh));
    snprintf(spec, sizeof(spec), "\"holderIdentity\":\"h\",\"leaseDurationSeconds\":15,\"renewTime\":\"%s\"",
             old);
    char *list = list_of(spec);
    if (asprintf(&event,
                 "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bad\",\"namespace\":\"demo\","
                 "\"uid\":\"u1\",\"resourceVersion\":\"11\"},\"spec\":{\"holderIdentity\":\"good\","
                 "\"leaseDurationSeconds\":15,\"renewTime\":\"%s\"}}}\n",
                 fresh) < 0)
        fail_msg("asprintf");
    struct fake_api fa = {.list_body = list, .watch_body = event};
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *s = wait_for(t, is_known, "known");
    int64_t ago = s->changed_mono_ns - s->renew_mono_ns;
    if (ago < 3598 * 1000000000LL || ago > 3602 * 1000000000LL)
        fail_msg("renewTime an hour old mapped to %.3f s before it was seen", (double)ago / 1e9);
    assert_true(s->renew_time_us == wall - 3600LL * 1000000);
    tracker_release(t, s);
    s = wait_for(t, is_good, "renewed by the watch");
    ago = s->changed_mono_ns - s->renew_mono_ns;
    if (ago < -2 * 1000000000LL || ago > 2 * 1000000000LL)
        fail_msg("a fresh renewTime mapped to %.3f s before it was seen", (double)ago / 1e9);
    tracker_release(t, s);
    tracker_free(t);
    fake_api_stop(&fa);
    kube_client_free(c);
    free(list);
    free(event);
}

/*
 * Fresh reads (tracker_refresh) against a fake API server that serves each connection on its own thread:
 * the list, a watch that sends EVENTS (each after its delay) and then stays open, and GETs of demo/bad
 * answered by GET_ANSWER, numbered from 1, each after its delay.
 */
struct fresh_event {
    int delay_ms;
    const char *line; /* with its \n; NULL ends the list */
};

struct fresh_api {
    struct fake_server srv; /* a thread per connection */
    atomic_int gets, lists, watches;
    char *list_body;            /* owned: set and freed by fresh_tracker, fresh_tracker_free */
    bool list_pause_all;        /* every list's body pauses, not only the first's */
    int list_drip_ms;           /* when set, every list's body comes in 64 KiB pieces, this long apart */
    size_t list_pause_at;       /* when set, the first list's body stops after this many bytes, */
    int list_pause_ms;          /* for this long, then goes on */
    struct kube_client *client; /* set and freed by fresh_tracker, fresh_tracker_free */
    const struct fresh_event *events;
    /* GET number N (from 1): sets *DELAY_MS and returns the whole HTTP response */
    const char *(*get_answer)(int n, int *delay_ms);
    int64_t get_at[16]; /* CLOCK_MONOTONIC ns at which GET number N+1 came */
};

static int64_t mono_now(void)
{
    return lf_clock_mono_ns();
}

/* The request line of a list of namespace demo's Leases (the tracker lists and watches by namespace). */
#define LIST_DEMO "GET /apis/coordination.k8s.io/v1/namespaces/demo/leases HTTP/"

/* A watch: the events, each after its delay, then quiet until the client hangs up. */
static void fresh_watch(struct fresh_api *fa, int c)
{
    char buf[512];
    fa->watches++;
    fake_server_send(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
    for (const struct fresh_event *e = fa->events; e != NULL && e->line != NULL && !fa->srv.stop; e++) {
        fake_server_nap(&fa->srv, e->delay_ms);
        fake_server_send(c, e->line);
    }
    while (!fa->srv.stop) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 50) > 0 && read(c, buf, sizeof(buf)) <= 0)
            break;
    }
}

/* One connection (fake_server_handler): a watch, the list, or a GET of demo/bad. */
static void fresh_serve(void *ctx, int c)
{
    struct fresh_api *fa = ctx;
    char buf[4096];
    fake_server_read_request(c, buf, sizeof(buf), false);
    if (strstr(buf, "watch=1") != NULL) {
        fresh_watch(fa, c);
    } else if (strncmp(buf, LIST_DEMO, strlen(LIST_DEMO)) == 0) { /* a list of the namespace's Leases */
        if (fa->list_drip_ms > 0) {
            fa->lists++;
            char head[256];
            size_t bl = strlen(fa->list_body);
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     bl);
            fake_server_send(c, head);
            for (size_t off = 0; off < bl && !fa->srv.stop; off += 65536) {
                size_t n = bl - off < 65536 ? bl - off : 65536;
                if (send(c, fa->list_body + off, n, MSG_NOSIGNAL) != (ssize_t)n)
                    break;
                fake_server_nap(&fa->srv, fa->list_drip_ms);
            }
        } else if ((fa->lists++ == 0 || fa->list_pause_all) && fa->list_pause_at > 0) {
            char head[256], *part = strndup(fa->list_body, fa->list_pause_at);
            assert_non_null(part);
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     strlen(fa->list_body));
            fake_server_send(c, head);
            fake_server_send(c, part);
            free(part);
            fake_server_nap(&fa->srv, fa->list_pause_ms);
            fake_server_send(c, fa->list_body + fa->list_pause_at);
        } else {
            fake_server_send_json(c, "200 OK", fa->list_body);
        }
    } else if (strncmp(buf, "GET /apis/coordination.k8s.io/v1/namespaces/demo/leases/bad ", 60) == 0) {
        int k = ++fa->gets, delay = 0;
        if (k <= 16)
            fa->get_at[k - 1] = mono_now();
        const char *resp = fa->get_answer(k, &delay);
        fake_server_nap(&fa->srv, delay);
        fake_server_send(c, resp);
    } else {
        fake_server_send(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

static struct kube_client *fresh_api_start(struct fresh_api *fa)
{
    fake_server_start(&fa->srv, fresh_serve, fa, true);
    return fake_server_client(&fa->srv);
}

static void fresh_api_stop(struct fresh_api *fa)
{
    fake_server_stop(&fa->srv);
}

/* An HTTP response carrying Lease demo/bad (uid UID, resourceVersion RV) held by HOLDER; static storage. */
static const char *lease_response(int slot, const char *uid, int rv, const char *holder)
{
    static char bufs[8][1024];
    char body[512];
    int n = snprintf(
        body, sizeof(body),
        "{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"bad\","
        "\"namespace\":\"demo\",\"uid\":\"%s\",\"resourceVersion\":\"%d\"},\"spec\":{\"holderIdentity\":"
        "\"%s\",\"leaseDurationSeconds\":15,\"leaseTransitions\":1}}",
        uid, rv, holder);
    snprintf(bufs[slot], sizeof(bufs[slot]),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: "
             "close\r\n\r\n%s",
             n, body);
    return bufs[slot];
}

/* A LeaseList at revision LIST_RV holding demo/bad (uid u1, resourceVersion RV) held by HOLDER. */
static char *fresh_list(int list_rv, int rv, const char *holder)
{
    char *b = NULL;
    if (asprintf(
            &b,
            "{\"kind\":\"LeaseList\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{"
            "\"resourceVersion\":\"%d\"},\"items\":[{\"metadata\":{\"name\":\"bad\",\"namespace\":\"demo\","
            "\"uid\":\"u1\",\"resourceVersion\":\"%d\"},\"spec\":{\"holderIdentity\":\"%s\","
            "\"leaseDurationSeconds\":15,\"leaseTransitions\":1}}]}",
            list_rv, rv, holder) < 0)
        fail_msg("asprintf");
    return b;
}

/* One refresh as a test waits for it. */
struct waiter {
    struct tracker_refresh rf;
    atomic_int done;
    int64_t asked; /* CLOCK_MONOTONIC ns just before tracker_refresh */
    int64_t done_at;
};

static void waiter_done(struct tracker_refresh *rf)
{
    struct waiter *w = rf->ctx;
    w->done_at = mono_now();
    atomic_store(&w->done, 1);
}

static void ask(struct tracker *t, struct waiter *w)
{
    memset(w, 0, sizeof(*w));
    w->rf.done = waiter_done;
    w->rf.ctx = w;
    w->asked = mono_now();
    tracker_refresh(t, 0, &w->rf);
}

static void wait_done(struct waiter *w, int ms)
{
    for (int i = 0; i < ms / 5 && !atomic_load(&w->done); i++)
        fake_server_sleep_ms(5);
    if (!atomic_load(&w->done))
        fail_msg("refresh not answered within %d ms", ms);
}

static bool holder_is(const struct lease_snapshot *s, const char *h)
{
    return s != NULL && s->known && s->exists && s->holder_len == strlen(h) &&
           memcmp(s->holder, h, s->holder_len) == 0;
}

/* Polls Lease 0 until its holder is H; fails after 3 s. */
static void wait_holder(struct tracker *t, const char *h)
{
    for (int i = 0; i < 300; i++) {
        const struct lease_snapshot *s = tracker_acquire(t, 0);
        bool ok = holder_is(s, h);
        tracker_release(t, s);
        if (ok)
            return;
        fake_server_sleep_ms(10);
    }
    fail_msg("lease never held by %s", h);
}

/*
 * The fresh-read fixture: serves FA (its events and GET answers as the caller set them) with a LeaseList at
 * LIST_RV holding demo/bad at RV held by HOLDER, and returns a tracker of demo/bad on it with a refresh
 * budget of TIMEOUT_MS (0: the default).  When START, it is started and has seen HOLDER.  Free with
 * fresh_tracker_free.
 */
static struct tracker *fresh_tracker(struct fresh_api *fa, int list_rv, int rv, const char *holder,
                                     int timeout_ms, bool start)
{
    char err[256];
    fa->list_body = fresh_list(list_rv, rv, holder);
    fa->client = fresh_api_start(fa);
    struct tracker *t = tracker_new(fa->client);
    if (timeout_ms > 0)
        tracker_set_refresh_timeout(t, timeout_ms);
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    if (start) {
        assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
        wait_holder(t, holder);
    }
    return t;
}

/* Frees T, stops FA and frees what fresh_tracker made for it. */
static void fresh_tracker_free(struct tracker *t, struct fresh_api *fa)
{
    tracker_free(t);
    fresh_api_stop(fa);
    kube_client_free(fa->client);
    free(fa->list_body);
}

/* GET N answers after 300 ms with holder "hN" at resourceVersion 100 + N. */
static const char *numbered_gets(int n, int *delay_ms)
{
    char h[16];
    snprintf(h, sizeof(h), "h%d", n);
    *delay_ms = 300;
    return lease_response(n % 8, "u1", 100 + n, h);
}

/*
 * The coalescing rule: one GET in flight per Lease, and a refresh asked for while it is in flight is not
 * answered by it (that GET may have read the Lease before the refresh was asked for) but by the next,
 * which is sent after it was asked for; the refreshes asked for meanwhile share that next GET.
 */
static void test_refresh_coalesced(void **state)
{
    (void)state;
    struct fresh_api fa = {.get_answer = numbered_gets};
    struct tracker *t = fresh_tracker(&fa, 10, 9, "h0", 0, true);
    wait_state(t, true, true);

    struct waiter w1, w2, w3, w4;
    ask(t, &w1);
    fake_server_sleep_ms(100); /* GET 1 is in flight (answered at ~300 ms) */
    ask(t, &w2);
    fake_server_sleep_ms(50);
    ask(t, &w3);
    wait_done(&w1, 3000);
    wait_done(&w2, 3000);
    wait_done(&w3, 3000);
    assert_int_equal((int)fa.gets, 2);
    assert_true(holder_is(w1.rf.snap, "h1"));
    if (!holder_is(w2.rf.snap, "h2") || !holder_is(w3.rf.snap, "h2"))
        fail_msg("refreshes asked for while GET 1 was in flight were answered by it: %.*s, %.*s",
                 (int)w2.rf.snap->holder_len, w2.rf.snap->holder, (int)w3.rf.snap->holder_len,
                 w3.rf.snap->holder);
    /* each answered by a GET that came after it was asked for */
    assert_true(fa.get_at[0] > w1.asked && w1.rf.sent_mono_ns > w1.asked);
    assert_true(fa.get_at[1] > w3.asked && w2.rf.sent_mono_ns > w3.asked);
    assert_true(w2.rf.sent_mono_ns >= w1.done_at - 5000000); /* the second GET starts when the first ends */
    assert_int_equal(w1.rf.code, 200);
    assert_string_equal(w1.rf.err, "");

    /* the reads were newer than the watch (resourceVersion 101, 102 > 10): the watched state follows */
    const struct lease_snapshot *s = tracker_acquire(t, 0);
    assert_true(holder_is(s, "h2"));
    assert_string_equal(s->resource_version, "102");
    tracker_release(t, s);

    /* nothing in flight: the next refresh gets a GET of its own at once */
    ask(t, &w4);
    wait_done(&w4, 3000);
    assert_int_equal((int)fa.gets, 3);
    assert_true(holder_is(w4.rf.snap, "h3"));
    assert_true(w4.done_at - w4.asked < 600000000LL);

    struct tracker_stats st;
    tracker_stats(t, 0, &st);
    assert_int_equal((int)st.fresh_reads[1], 3);
    assert_int_equal((int)st.fresh_reads[0], 0);
    assert_int_equal((int)st.fresh_refreshes, 4);
    assert_int_equal((int)st.fresh_applied, 3);
    struct waiter *ws[] = {&w1, &w2, &w3, &w4};
    for (size_t i = 0; i < 4; i++)
        tracker_release(t, ws[i]->rf.snap);
    fresh_tracker_free(t, &fa);
}

/* The GET answers at once: holder "new" at resourceVersion 20. */
static const char *read_new(int n, int *delay_ms)
{
    (void)n;
    *delay_ms = 0;
    return lease_response(0, "u1", 20, "new");
}

#define EVENT(rv, holder)                                                                                    \
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"bad\",\"namespace\":\"demo\",\"uid\":"      \
    "\"u1\","                                                                                                \
    "\"resourceVersion\":\"" #rv "\"},\"spec\":{\"holderIdentity\":\"" holder                                \
    "\",\"leaseDurationSeconds\":15,"                                                                        \
    "\"leaseTransitions\":1}}}\n"

/*
 * A fresh read newer than the watch replaces the watched state at once, and the watch's later delivery of
 * older events (a lagging watch cache) does not move it back; events past it apply as usual.
 */
static void test_refresh_never_backwards(void **state)
{
    (void)state;
    static const struct fresh_event events[] = {{600, EVENT(15, "mid")}, {300, EVENT(25, "last")}, {0, NULL}};
    struct fresh_api fa = {.events = events, .get_answer = read_new};
    struct tracker *t = fresh_tracker(&fa, 10, 9, "old", 0, true);
    struct waiter w;
    ask(t, &w);
    wait_done(&w, 3000);
    assert_true(holder_is(w.rf.snap, "new"));
    const struct lease_snapshot *s = tracker_acquire(t, 0);
    assert_true(holder_is(s, "new")); /* published for everyone */
    int64_t changed = s->changed_mono_ns;
    tracker_release(t, s);
    while (mono_now() - w.done_at < 750000000LL) { /* "mid" (15) comes meanwhile and is not applied */
        s = tracker_acquire(t, 0);
        bool ok = holder_is(s, "new") && s->changed_mono_ns == changed;
        tracker_release(t, s);
        if (!ok)
            fail_msg("the watch's older event moved the state back");
        fake_server_sleep_ms(10);
    }
    wait_holder(t, "last"); /* 25: newer than the read */
    struct tracker_stats st;
    tracker_stats(t, 0, &st);
    assert_int_equal((int)st.fresh_applied, 1);
    tracker_release(t, w.rf.snap);
    fresh_tracker_free(t, &fa);
}

/* Events of Leases nobody tracks in the watched namespace: a change, one that is not JSON, one whose name has
 * an escape (the peek cannot name it: decoded whole, then dropped), a deletion. */
#define OTHER(type, name, rv)                                                                                \
    "{\"type\":\"" type "\",\"object\":{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"demo\","         \
    "\"uid\":\"u7\",\"resourceVersion\":\"" #rv "\"},\"spec\":{\"holderIdentity\":\"x\"}}}\n"

/*
 * EVENTS (the first at 400 ms, the tracked Lease's change to holder "b" at resourceVersion 15 last, at
 * 800 ms) come on the watch of a namespace whose list gave the tracked Lease holder "a".  Whatever the
 * events before the last are, they publish nothing (the tracked Lease's snapshot stays the same object),
 * end no watch and forget nothing; the watch goes on to deliver the tracked Lease's change.
 */
static void untracked_events_change_nothing(const struct fresh_event *events)
{
    char *list = fresh_list(10, 9, "a");
    struct fresh_api fa = {.list_body = list, .events = events, .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *s1 = NULL;
    for (int i = 0; i < 300 && s1 == NULL;
         i++, fake_server_sleep_ms(10)) { /* known from the list, and watching */
        const struct lease_snapshot *s = tracker_acquire(t, 0);
        if (holder_is(s, "a") && s->watching)
            s1 = s;
        else
            tracker_release(t, s);
    }
    if (s1 == NULL)
        fail_msg("never synced and watching");
    fake_server_sleep_ms(600); /* the other Leases' events came at 400 ms; bad's comes at 800 */
    const struct lease_snapshot *s2 = tracker_acquire(t, 0);
    assert_ptr_equal(s1, s2); /* nothing forgotten, nothing published */
    assert_true(s2->known);
    tracker_release(t, s2);
    assert_true(tracker_all_synced(t));
    wait_holder(t, "b");
    const struct lease_snapshot *s3 = tracker_acquire(t, 0);
    assert_string_equal(s3->resource_version, "15");
    assert_true(s3->watching);
    tracker_release(t, s3);
    struct tracker_stats st;
    tracker_stats(t, 0, &st);
    assert_int_equal((int)st.watch_restarts, 0); /* no line of theirs ended the watch */
    assert_int_equal((int)st.relists, 0);
    assert_int_equal((int)fa.lists, 1);
    tracker_release(t, s1);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(list);
}

/* One watch serves a namespace: events of its Leases that are not tracked, even undecodable ones. */
static void test_untracked_leases_ignored(void **state)
{
    (void)state;
    static const struct fresh_event events[] = {{400, OTHER("MODIFIED", "other", 11)},
                                                {0, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{"
                                                    "\"name\":\"other\",\"resourceVersion\":\"12\"},{\n"},
                                                {0, OTHER("ADDED", "\\u006fther", 13)},
                                                {0, OTHER("DELETED", "other", 14)},
                                                {400, EVENT(15, "b")},
                                                {0, NULL}};
    untracked_events_change_nothing(events);
}

/* A MODIFIED event of Lease NAME at resourceVersion RV, longer than the tracker's 2 MiB cap on an event
 * (a holderIdentity of 2 MiB + 4 KiB); you own it. */
static char *oversized_event(const char *name, int rv)
{
    size_t pad = (2u << 20) + 4096;
    char *head = NULL;
    int n = asprintf(&head,
                     "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"%s\",\"namespace\":"
                     "\"demo\",\"uid\":\"u7\",\"resourceVersion\":\"%d\"},\"spec\":{\"holderIdentity\":\"",
                     name, rv);
    assert_true(n > 0);
    char *s = malloc((size_t)n + pad + 8);
    assert_non_null(s);
    memcpy(s, head, (size_t)n);
    memset(s + n, 'x', pad);
    memcpy(s + n + pad, "\"}}}\n", 6);
    free(head);
    return s;
}

/*
 * An event longer than the cap, of a Lease nobody tracks (anyone who may write a Lease in the namespace
 * can send one): read past and dropped, its resourceVersion kept.
 */
static void test_oversized_untracked_event(void **state)
{
    (void)state;
    char *big = oversized_event("other", 11);
    const struct fresh_event events[] = {{400, big}, {400, EVENT(15, "b")}, {0, NULL}};
    untracked_events_change_nothing(events);
    free(big);
}

/* The same of the tracked Lease: it cannot be read, so it is unknown (and not synced) at once. */
static void test_oversized_tracked_event(void **state)
{
    (void)state;
    char *big = oversized_event("bad", 11);
    char *good = list_of("\"holderIdentity\":\"good\",\"leaseDurationSeconds\":15");
    struct fake_api fa = {.list_body = good, .watch_body = big, .fail_relists = true};
    struct kube_client *c = fake_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *s = wait_for(t, is_unknown, "unknown");
    assert_false(s->exists);
    tracker_release(t, s);
    assert_false(tracker_all_synced(t));
    tracker_free(t);
    fake_api_stop(&fa);
    kube_client_free(c);
    free(good);
    free(big);
}

/*
 * A list item of Lease NAME at resourceVersion RV held by HOLDER, followed by a comma; with PAD, a holder of
 * PAD bytes instead: "\\u0000" escapes (six bytes each) when NULS, else 'x'.  Appended to *BUF (LEN, CAP).
 */
static void add_item(char **buf, size_t *len, size_t *cap, const char *name, int rv, const char *holder,
                     size_t pad, bool nuls)
{
    char head[512];
    int n =
        snprintf(head, sizeof(head),
                 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"demo\",\"uid\":\"u-%s\","
                 "\"resourceVersion\":\"%d\"},\"spec\":{\"leaseDurationSeconds\":15,\"holderIdentity\":\"%s",
                 name, name, rv, pad ? "" : holder);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    if (*len + (size_t)n + pad + 16 > *cap) {
        *cap = (*len + (size_t)n + pad + 16) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, head, (size_t)n);
    *len += (size_t)n;
    for (size_t i = 0; i < pad; i += nuls ? 6 : 1)
        memcpy(*buf + *len + i, nuls ? "\\u0000" : "x", nuls ? 6 : 1);
    *len += pad;
    memcpy(*buf + *len, "\"}},", 5);
    *len += 4;
    (*buf)[*len] = '\0';
}

/* Opens a list for add_item in *BUF (you own it), its metadata (resourceVersion 10) before the items unless
 * METADATA_LAST (end_list then writes it). */
static void begin_list(char **buf, size_t *len, size_t *cap, bool metadata_last)
{
    const char *head = metadata_last
                           ? "{\"kind\":\"LeaseList\",\"apiVersion\":\"coordination.k8s.io/v1\",\"items\":["
                           : "{\"kind\":\"LeaseList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[";
    *len = strlen(head);
    *cap = *len + 1;
    *buf = malloc(*cap);
    assert_non_null(*buf);
    memcpy(*buf, head, *cap);
}

/* Closes a list made with add_item over its last comma: with the metadata after the items when
 * METADATA_LAST (as begin_list was told); you own it. */
static char *end_list(char *buf, size_t len, bool metadata_last)
{
    const char *tail = metadata_last ? "],\"metadata\":{\"resourceVersion\":\"10\"}}" : "]}";
    buf = realloc(buf, len + strlen(tail) + 1);
    assert_non_null(buf);
    memcpy(buf + len - 1, tail, strlen(tail) + 1); /* over the last comma */
    return buf;
}

/* Polls Lease IDX until it is known, exists and is held by H while its namespace is watched; 10 s. */
static void wait_watched_holder(struct tracker *t, size_t idx, const char *h)
{
    for (int i = 0; i < 1000; i++) {
        const struct lease_snapshot *s = tracker_acquire(t, idx);
        bool ok = holder_is(s, h) && s->watching;
        tracker_release(t, s);
        if (ok)
            return;
        fake_server_sleep_ms(10);
    }
    fail_msg("lease %zu never held by %s and watched", idx, h);
}

/*
 * A namespace's list may be far larger than anything the tracker keeps: anyone who may write Leases there
 * can make it so.  33 Leases nobody tracks, each longer than the 2 MiB cap on an item (holders of NULs, six
 * bytes each as JSON, or of 'x'), make a list of more than 64 MiB; the tracked Lease after them is known from
 * it, its metadata coming last, and the watch starts from its resourceVersion.
 */
static void test_list_larger_than_64_mib(void **state)
{
    (void)state;
    char *body = NULL, name[32];
    size_t len = 0, cap = 0;
    begin_list(&body, &len, &cap, true);
    for (int i = 0; i < 33; i++) {
        snprintf(name, sizeof(name), "other-%d", i);
        add_item(&body, &len, &cap, name, 3, NULL, (2u << 20) + 4096, i % 2 == 0);
    }
    add_item(&body, &len, &cap, "small", 4, "s", 0, false);
    add_item(&body, &len, &cap, "bad", 9, "a", 0, false);
    body = end_list(body, len, true);
    assert_true(strlen(body) > (64u << 20));
    static const struct fresh_event events[] = {{400, EVENT(15, "b")}, {0, NULL}};
    struct fresh_api fa = {.list_body = body, .events = events, .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_watched_holder(t, 0, "a");
    const struct lease_snapshot *s = tracker_acquire(t, 0);
    assert_string_equal(s->resource_version, "9");
    assert_string_equal(s->epoch, "u-bad/0");
    tracker_release(t, s);
    assert_true(tracker_all_synced(t));
    wait_holder(t, "b"); /* the watch, from the list's resourceVersion, delivers the next change */
    struct tracker_stats st;
    tracker_stats(t, 0, &st);
    assert_int_equal((int)st.relists, 0);
    assert_int_equal((int)fa.lists, 1);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(body);
}

/*
 * The tracked Lease's own item is longer than the cap: that Lease is unknown (and not synced), heard from;
 * the namespace's other tracked Lease is known from the same list, and the watch starts.  The Lease's next
 * event that can be read makes it known again.
 */
static void test_list_oversized_tracked_item(void **state)
{
    (void)state;
    char *body = NULL;
    size_t len = 0, cap = 0;
    begin_list(&body, &len, &cap, false);
    add_item(&body, &len, &cap, "bad", 9, NULL, (2u << 20) + 4096, false);
    add_item(&body, &len, &cap, "ok", 8, "o", 0, false);
    body = end_list(body, len, false);
    static const struct fresh_event events[] = {{600, EVENT(15, "b")}, {0, NULL}};
    struct fresh_api fa = {.list_body = body, .events = events, .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_track(t, "demo", "ok", err, sizeof(err)), 1);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_watched_holder(t, 1, "o"); /* the list was applied, all at once */
    const struct lease_snapshot *s = tracker_acquire(t, 0);
    assert_false(s->known);
    assert_false(s->exists);
    assert_true(s->contact_mono_ns != 0); /* heard from: the list said it cannot be read */
    assert_true(s->watching);
    tracker_release(t, s);
    assert_false(tracker_all_synced(t));
    assert_int_equal((int)fa.lists, 1); /* not retried: the list itself was good */
    wait_holder(t, "b");
    assert_true(tracker_all_synced(t));
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(body);
}

/*
 * A Lease tracked while its namespace's list streams in: the list may have gone past its item, dropped
 * then as nobody's, so it is listed anew, and the Lease is known from that list (not taken for absent from
 * the first).
 */
static void test_tracked_while_listing(void **state)
{
    (void)state;
    char *body = NULL;
    size_t len = 0, cap = 0;
    begin_list(&body, &len, &cap, false);
    add_item(&body, &len, &cap, "late", 8, "l", 0, false);
    add_item(&body, &len, &cap, "bad", 9, "a", 0, false);
    size_t pause_at = len; /* the list stops after both items */
    body = end_list(body, len, false);
    struct fresh_api fa = {
        .list_body = body, .list_pause_at = pause_at, .list_pause_ms = 800, .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    fake_server_sleep_ms(400); /* both items came, "late" not tracked then */
    assert_int_equal((int)fa.lists, 1);
    assert_int_equal(tracker_track(t, "demo", "late", err, sizeof(err)), 1);
    wait_watched_holder(t, 1, "l");
    wait_watched_holder(t, 0, "a");
    assert_int_equal((int)fa.lists, 2);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(body);
}

/* A list of the demo namespace: 16 Leases nobody tracks with holders of PAD bytes each, then "bad" held by
 * "a"; *PAUSE_AT (may be NULL) gets the offset just before "bad"'s item; you own it. */
static char *padded_list(size_t pad, size_t *pause_at)
{
    char *body = NULL, name[32];
    size_t len = 0, cap = 0;
    begin_list(&body, &len, &cap, false);
    for (int i = 0; i < 16 && pad > 0; i++) {
        snprintf(name, sizeof(name), "other-%d", i);
        add_item(&body, &len, &cap, name, 3, NULL, pad, false);
    }
    if (pause_at != NULL)
        *pause_at = len;
    add_item(&body, &len, &cap, "bad", 9, "a", 0, false);
    body = end_list(body, len, false);
    return body;
}

/*
 * Leases tracked one after another in a namespace, faster than its list takes (anyone who may create
 * LeaseFences there can do it): a list under way is not restarted for them, so the Lease tracked before it
 * is known from it, and the later ones from the next list.  (Restarting the list for each kept the
 * namespace from ever being listed: 12 lists in 3.6 s and "bad" never known.)
 */
static void test_tracking_does_not_starve_the_list(void **state)
{
    (void)state;
    size_t pause_at = 0;
    char *body = padded_list(0, &pause_at);
    struct fresh_api fa = {.list_body = body,
                           .list_pause_at = pause_at,
                           .list_pause_ms = 800,
                           .list_pause_all = true,
                           .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256], name[32];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    bool known = false;
    for (int i = 0; i < 12; i++) {
        fake_server_sleep_ms(300);
        const struct lease_snapshot *s = tracker_acquire(t, 0);
        known |= holder_is(s, "a");
        tracker_release(t, s);
        snprintf(name, sizeof(name), "churn-%d", i);
        assert_true(tracker_track(t, "demo", name, err, sizeof(err)) > 0);
    }
    assert_true(known);
    assert_true(fa.lists <= 6); /* one list per 800 ms at most, each completed */
    const struct lease_snapshot *s = tracker_acquire(t, 1);
    assert_false(s->known && s->exists); /* churn-0 is in no list: unknown, or known not to exist */
    tracker_release(t, s);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(body);
}

/* A list that keeps coming for longer than the silence window is read whole (lists have no size cap, so no
 * short bound on their time): 1 s window, ~1.6 MB in 64 KiB pieces 100 ms apart, ~2.5 s in all. */
static void test_slow_list_read_whole(void **state)
{
    (void)state;
    char *body = padded_list(100000, NULL);
    struct fresh_api fa = {.list_body = body, .list_drip_ms = 100, .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    tracker_set_list_timeouts(t, 1, 0);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    int64_t t0 = mono_now();
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_watched_holder(t, 0, "a");
    assert_true(mono_now() - t0 > 2000000000LL); /* it did take longer than the window */
    assert_int_equal((int)fa.lists, 1);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(body);
}

/* A list from which nothing comes for the silence window is given up and listed again: the first list stops
 * for 3 s before "bad"'s item; with a 1 s window the second list, complete, makes it known before that. */
static void test_silent_list_given_up(void **state)
{
    (void)state;
    size_t pause_at = 0;
    char *body = padded_list(0, &pause_at);
    struct fresh_api fa = {
        .list_body = body, .list_pause_at = pause_at, .list_pause_ms = 3000, .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    tracker_set_list_timeouts(t, 1, 0);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    int64_t t0 = mono_now();
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_watched_holder(t, 0, "a");
    assert_true(mono_now() - t0 < 2900000000LL); /* not by waiting out the stall */
    assert_int_equal((int)fa.lists, 2);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(body);
}

/*
 * A tracked Lease's list item that jansson cannot read (an object key holding \u0000, which JSON allows and
 * jansson refuses) makes that Lease unknown, not its neighbours: the other tracked Lease of the list is known
 * from it, and the list is not retried for it.
 */
static void test_unreadable_item_is_its_lease_alone(void **state)
{
    (void)state;
    const char *body =
        "{\"kind\":\"LeaseList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
        "{\"metadata\":{\"name\":\"bad\",\"namespace\":\"demo\",\"uid\":\"u-bad\",\"resourceVersion\":\"9\","
        "\"managedFields\":[{\"manager\":\"m\",\"operation\":\"Update\",\"fieldsType\":\"FieldsV1\","
        "\"fieldsV1\":{\"f:\\u0000\":{}}}]},"
        "\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":15}},"
        "{\"metadata\":{\"name\":\"ok\",\"namespace\":\"demo\",\"uid\":\"u-ok\",\"resourceVersion\":\"8\"},"
        "\"spec\":{\"holderIdentity\":\"o\",\"leaseDurationSeconds\":15}}]}";
    struct fresh_api fa = {.list_body = strdup(body), .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_track(t, "demo", "ok", err, sizeof(err)), 1);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_watched_holder(t, 1, "o");
    const struct lease_snapshot *s = tracker_acquire(t, 0);
    assert_false(s->known);
    tracker_release(t, s);
    assert_int_equal((int)fa.lists, 1);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(fa.list_body);
}

/* A listed Lease whose name is the tracked one's with more after a NUL byte is another Lease. */
static void test_name_with_nul_is_another_lease(void **state)
{
    (void)state;
    static const char list[] =
        "{\"kind\":\"LeaseList\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"resourceVersion\":"
        "\"10\"},\"items\":[{\"metadata\":{\"name\":\"bad\\u0000x\",\"namespace\":\"demo\",\"uid\":\"u1\","
        "\"resourceVersion\":\"9\"},\"spec\":{\"holderIdentity\":\"impostor\",\"leaseDurationSeconds\":15}}]"
        "}";
    struct fresh_api fa = {.list_body = strdup(list), .get_answer = read_new};
    struct kube_client *c = fresh_api_start(&fa);
    struct tracker *t = tracker_new(c);
    char err[256];
    assert_int_equal(tracker_track(t, "demo", "bad", err, sizeof(err)), 0);
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    const struct lease_snapshot *s = NULL;
    for (int i = 0; i < 300; i++, fake_server_sleep_ms(10)) {
        s = tracker_acquire(t, 0);
        if (s->known)
            break;
        tracker_release(t, s);
        s = NULL;
    }
    assert_non_null(s);
    assert_false(s->exists); /* not "bad": absent from the list */
    tracker_release(t, s);
    tracker_free(t);
    fresh_api_stop(&fa);
    kube_client_free(c);
    free(fa.list_body);
}

/* GET 1: the same Lease at an older resourceVersion (20) than the watch's (30); GET 2: a Lease of another uid
 * at resourceVersion 20 (deleted and re-created, the watch not caught up). */
static const char *read_older(int n, int *delay_ms)
{
    *delay_ms = 0;
    return n == 1 ? lease_response(1, "u1", 20, "older") : lease_response(2, "u9", 20, "other-lease");
}

/*
 * A read older than the watch: the watch's later change of the same Lease answers (it is as fresh); the
 * watched state is not moved back.  A read of another Lease under the name (another uid) decides on its own
 * record, seen now, and leaves the watched state alone.
 */
static void test_refresh_older_read(void **state)
{
    (void)state;
    struct fresh_api fa = {.get_answer = read_older};
    struct tracker *t = fresh_tracker(&fa, 30, 30, "cur", 0, true);
    struct waiter w1, w2;
    ask(t, &w1);
    wait_done(&w1, 3000);
    assert_true(holder_is(w1.rf.snap, "cur"));
    ask(t, &w2);
    wait_done(&w2, 3000);
    assert_true(holder_is(w2.rf.snap, "other-lease"));
    assert_string_equal(w2.rf.snap->uid, "u9");
    assert_string_equal(w2.rf.snap->epoch, "u9/1");
    int64_t now = mono_now();
    assert_true(w2.rf.snap->changed_mono_ns <= now && now - w2.rf.snap->changed_mono_ns < 1000000000LL);
    const struct lease_snapshot *s = tracker_acquire(t, 0);
    assert_true(holder_is(s, "cur"));
    assert_string_equal(s->uid, "u1");
    tracker_release(t, s);
    struct tracker_stats st;
    tracker_stats(t, 0, &st);
    assert_int_equal((int)st.fresh_applied, 0);
    assert_int_equal((int)st.fresh_reads[1], 2);
    tracker_release(t, w1.rf.snap);
    tracker_release(t, w2.rf.snap);
    fresh_tracker_free(t, &fa);
}

/* An HTTP response with STATUS ("500 Internal Server Error") and BODY; static storage, one per SLOT. */
static const char *http_response(int slot, const char *status, const char *body)
{
    static char bufs[4][1024];
    snprintf(
        bufs[slot], sizeof(bufs[slot]),
        "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
        status, strlen(body), body);
    return bufs[slot];
}

/* A 200 whose body (spaces) is larger than a Lease read may be (2 MiB); static storage. */
static const char *oversized_response(void)
{
    static char *big;
    const size_t n = (2u << 20) + 1;
    if (big == NULL) {
        big = malloc(n + 256);
        int h = snprintf(big, 256,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n",
                         n);
        memset(big + h, ' ', n);
        big[h + n] = '\0';
    }
    return big;
}

/* GET 1: 500; 2: 404; 3: held past the budget; 4: not JSON; 5: a Lease that cannot be decoded; 6: a body
 * past the cap. */
static const char *read_failures(int n, int *delay_ms)
{
    *delay_ms = n == 3 ? 1500 : 0;
    switch (n) {
    case 1:
        return http_response(0, "500 Internal Server Error",
                             "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"etcd is down\","
                             "\"reason\":\"InternalError\",\"code\":500}");
    case 2:
        return http_response(
            1, "404 Not Found",
            "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}");
    case 4:
        return http_response(2, "200 OK", "{\"kin");
    case 5:
        return http_response(3, "200 OK",
                             "{\"metadata\":{\"name\":\"bad\",\"namespace\":\"demo\",\"uid\":\"u1\","
                             "\"resourceVersion\":\"40\"},\"spec\":{\"leaseDurationSeconds\":\"15\"}}");
    case 6:
        return oversized_response();
    default:
        return lease_response(3, "u1", 9, "h0");
    }
}

/* A read that fails (error status, no answer within the budget, a body that cannot be decoded) gives no
 * snapshot and says why; a 404 says the Lease does not exist (the watched state waits for the watch). */
static void test_refresh_failures(void **state)
{
    (void)state;
    struct fresh_api fa = {.get_answer = read_failures};
    struct tracker *t = fresh_tracker(&fa, 10, 9, "h0", 200, true);
    struct waiter w;

    ask(t, &w);
    wait_done(&w, 3000);
    assert_null(w.rf.snap);
    assert_int_equal(w.rf.code, 500);
    assert_non_null(strstr(w.rf.err, "etcd is down"));
    assert_false(w.rf.timed_out);

    ask(t, &w);
    wait_done(&w, 3000);
    assert_non_null(w.rf.snap);
    assert_true(w.rf.snap->known);
    assert_false(w.rf.snap->exists);
    assert_int_equal(w.rf.code, 404);
    tracker_release(t, w.rf.snap);
    const struct lease_snapshot *s = tracker_acquire(t, 0);
    assert_true(holder_is(s, "h0")); /* a 404 has no revision to order it by: the watch decides */
    tracker_release(t, s);

    ask(t, &w);
    wait_done(&w, 3000);
    assert_null(w.rf.snap);
    assert_string_equal(w.rf.err, "no answer within 200 ms");
    assert_true(w.rf.timed_out);
    if (w.done_at - w.asked < 190000000LL || w.done_at - w.asked > 700000000LL)
        fail_msg("the budget of 200 ms failed the read after %lld ms",
                 (long long)((w.done_at - w.asked) / 1000000));

    ask(t, &w);
    wait_done(&w, 3000);
    assert_null(w.rf.snap);
    assert_non_null(strstr(w.rf.err, "not JSON"));

    ask(t, &w);
    wait_done(&w, 3000);
    assert_null(w.rf.snap);
    assert_non_null(strstr(w.rf.err, "cannot be decoded"));

    ask(t, &w); /* said as such, not as curl's write error */
    wait_done(&w, 3000);
    assert_null(w.rf.snap);
    assert_string_equal(w.rf.err, "response larger than 2097152 bytes");

    struct tracker_stats st;
    tracker_stats(t, 0, &st);
    assert_int_equal((int)st.fresh_reads[0], 5);
    assert_int_equal((int)st.fresh_reads[1], 1);
    s = tracker_acquire(t, 0);
    assert_true(holder_is(s, "h0")); /* failed reads leave the watched state alone */
    tracker_release(t, s);
    fresh_tracker_free(t, &fa);
}

/* GET answered after 2 s. */
static const char *read_slow(int n, int *delay_ms)
{
    (void)n;
    *delay_ms = 2000;
    return lease_response(4, "u1", 9, "h0");
}

/* A tracker that is not running answers at once, failed; stopping it fails the refreshes under way. */
static void test_refresh_not_running(void **state)
{
    (void)state;
    struct fresh_api fa = {.get_answer = read_slow};
    struct tracker *t = fresh_tracker(&fa, 10, 9, "h0", 5000, false);
    char err[256];
    struct waiter w1, w2, w3;
    ask(t, &w1);
    assert_true(atomic_load(&w1.done)); /* answered before tracker_refresh returned */
    assert_null(w1.rf.snap);
    assert_string_equal(w1.rf.err, "the tracker is not running");
    assert_int_equal(tracker_start(t, err, sizeof(err)), 0);
    wait_holder(t, "h0");
    ask(t, &w2);
    fake_server_sleep_ms(100);
    ask(t, &w3); /* queued behind the GET in flight */
    fake_server_sleep_ms(100);
    tracker_stop(t);
    assert_true(atomic_load(&w2.done) && atomic_load(&w3.done));
    assert_null(w2.rf.snap);
    assert_null(w3.rf.snap);
    assert_string_equal(w2.rf.err, "the tracker stopped");
    assert_string_equal(w3.rf.err, "the tracker stopped");
    ask(t, &w1);
    assert_true(atomic_load(&w1.done));
    assert_string_equal(w1.rf.err, "the tracker is not running");
    fresh_tracker_free(t, &fa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_track_and_find),
        cmocka_unit_test(test_unreachable_stays_unknown),
        cmocka_unit_test(test_malformed_then_fixed),
        cmocka_unit_test(test_short_watches_back_off),
        cmocka_unit_test(test_gone_watches_back_off),
        cmocka_unit_test(test_recreated_lease_is_a_change),
        cmocka_unit_test(test_silent_watch_abandoned),
        cmocka_unit_test(test_untrack_and_track_again),
        cmocka_unit_test(test_nul_in_strings),
        cmocka_unit_test(test_undecodable_field_is_unknown),
        cmocka_unit_test(test_undecodable_event_is_unknown),
        cmocka_unit_test(test_undecodable_list_is_unknown),
        cmocka_unit_test(test_renew_time_on_the_monotonic_clock),
        cmocka_unit_test(test_refresh_coalesced),
        cmocka_unit_test(test_refresh_never_backwards),
        cmocka_unit_test(test_untracked_leases_ignored),
        cmocka_unit_test(test_oversized_untracked_event),
        cmocka_unit_test(test_oversized_tracked_event),
        cmocka_unit_test(test_list_larger_than_64_mib),
        cmocka_unit_test(test_list_oversized_tracked_item),
        cmocka_unit_test(test_tracked_while_listing),
        cmocka_unit_test(test_tracking_does_not_starve_the_list),
        cmocka_unit_test(test_slow_list_read_whole),
        cmocka_unit_test(test_silent_list_given_up),
        cmocka_unit_test(test_unreadable_item_is_its_lease_alone),
        cmocka_unit_test(test_name_with_nul_is_another_lease),
        cmocka_unit_test(test_refresh_older_read),
        cmocka_unit_test(test_refresh_failures),
        cmocka_unit_test(test_refresh_not_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
