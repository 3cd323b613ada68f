/* Metrics: per-thread counters written with relaxed atomics by their owner only, summed at scrape. */
#include "metrics.h"
#include "xmem.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kube.h"
#include "lf_clock.h"
#include "lf_fatal.h"
#include "tracker.h"
#include "version.h"

#define MODES 3
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
/* The wait for a fresh read: from a loopback round trip to past any sane --strict-timeout. */
static const double strict_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
#define NSTRICT_BUCKETS (sizeof(strict_buckets) / sizeof(strict_buckets[0]))
static const char *const strict_results[STRICT_RESULTS] = {"fresh", "failed", "timeout", "gone"};

/* A histogram's bucket for a value of NS nanoseconds: the first upper bound (seconds) it does not pass, else
 * NB (+Inf). */
static size_t bucket_of(const double *bounds, size_t nb, uint64_t ns)
{
    size_t b = 0;
    while (b < nb && (double)ns / 1e9 > bounds[b])
        b++;
    return b;
}
/* 413 is answered by h2o itself before any handler runs: the access logger counts it (handlers.c). */
static const int bad_codes[] = {400, 404, 405, 413, 415};
#define NBAD (sizeof(bad_codes) / sizeof(bad_codes[0]))

struct lease_counters {
    _Atomic uint64_t c[MODES][2][REASON_COUNT];   /* requests this fence decided: [mode][allowed][reason] */
    _Atomic uint64_t checks[MODES][REASON_COUNT]; /* every time the fence was weighed: [mode][reason] */
};

/* Per-Lease counters are found through chunks of pointers made on first use, so that a thread that counts
 * for a few fences of 10,000 holds a few chunks, not a pointer per possible Lease. */
#define LEASE_CHUNK  1024
#define LEASE_CHUNKS (METRICS_MAX_LEASES / LEASE_CHUNK)

struct metrics_thread {
    _Atomic(struct lease_counters *) *_Atomic chunks[LEASE_CHUNKS]; /* published by the owner (release), as
                                                                     are the counters in them */
    _Atomic uint64_t none[2][REASON_COUNT]; /* unfenced, lease, and leases past the cap */
    _Atomic uint64_t bucket[NBUCKETS + 1];
    _Atomic uint64_t count, sum_ns;
    _Atomic uint64_t bad[NBAD];
    _Atomic uint64_t
        unexpected_unfenced; /* unfenced answers METRICS_SETTLE_S after the fences last changed */
    _Atomic uint64_t strict_waits[STRICT_RESULTS], strict_bucket[NSTRICT_BUCKETS + 1], strict_sum_ns,
        strict_overturned;
    _Atomic int64_t in_flight;
    struct metrics_thread *next;
} __attribute__((aligned(64)));

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct metrics_thread *) threads;
static _Atomic uint64_t config_reloads[2], cert_reloads[2]; /* [ok] */
static _Atomic uint64_t vwc_patches[2], status_writes[2];   /* [ok] */
static atomic_int leader, vwc_in_step = -1;                 /* -1: not known yet */
static _Atomic int64_t fences_changed_ns;
static _Atomic uint64_t leasefences[4];
static _Atomic int64_t cert_expiry;
static _Atomic int64_t max_skew_ns = 30 * 1000000000LL; /* serve's --max-clock-skew */
static double start_time;

/* Relaxed: each counter has one writer (its thread), so a load and a store make the increment. */
#define LOAD(x)     atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define BUMP(x, n)  STORE(x, LOAD(x) + (n))
#define ADD(x, n)   atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)

void metrics_init(void)
{
    start_time = (double)lf_clock_real_ns() / 1e9;
}

struct metrics_thread *metrics_thread_new(void)
{
    struct metrics_thread *m = aligned_alloc(64, sizeof(*m));
    if (m == NULL)
        lf_fatal_oom("aligned_alloc", sizeof(*m));
    memset(m, 0, sizeof(*m));
    pthread_mutex_lock(&threads_lock);
    m->next = threads;
    atomic_store_explicit(&threads, m, memory_order_release);
    pthread_mutex_unlock(&threads_lock);
    return m;
}

/* The counters of Lease LEASE_IDX in M, made on first use; NULL past the cap. */
static struct lease_counters *lease_counters(struct metrics_thread *m, int lease_idx)
{
    if (lease_idx < 0 || lease_idx >= METRICS_MAX_LEASES)
        return NULL;
    _Atomic(struct lease_counters *) *chunk =
        atomic_load_explicit(&m->chunks[lease_idx / LEASE_CHUNK], memory_order_acquire);
    if (chunk == NULL) {
        chunk = xcalloc(LEASE_CHUNK, sizeof(*chunk));
        atomic_store_explicit(&m->chunks[lease_idx / LEASE_CHUNK], chunk, memory_order_release);
    }
    struct lease_counters *lc = atomic_load_explicit(&chunk[lease_idx % LEASE_CHUNK], memory_order_acquire);
    if (lc == NULL) {
        lc = xcalloc(1, sizeof(*lc));
        atomic_store_explicit(&chunk[lease_idx % LEASE_CHUNK], lc, memory_order_release);
    }
    return lc;
}

void metrics_count_check(struct metrics_thread *m, int lease_idx, enum fence_mode mode,
                         enum decide_reason reason)
{
    struct lease_counters *lc =
        (unsigned)mode < MODES && (unsigned)reason < REASON_COUNT ? lease_counters(m, lease_idx) : NULL;
    if (lc != NULL)
        BUMP(lc->checks[mode][reason], 1);
}

void metrics_count_request(struct metrics_thread *m, int lease_idx, enum fence_mode mode,
                           enum decide_reason reason, bool allowed, uint64_t duration_ns)
{
    struct lease_counters *lc;
    if ((unsigned)reason >= REASON_COUNT)
        return;
    if ((unsigned)mode < MODES && (lc = lease_counters(m, lease_idx)) != NULL) {
        BUMP(lc->c[mode][allowed][reason], 1);
    } else {
        BUMP(m->none[allowed][reason], 1);
    }
    if (reason == REASON_UNFENCED) {
        if (lf_clock_mono_ns() - LOAD(fences_changed_ns) > METRICS_SETTLE_S * 1000000000LL)
            BUMP(m->unexpected_unfenced, 1);
    }
    BUMP(m->bucket[bucket_of(buckets, NBUCKETS, duration_ns)], 1);
    BUMP(m->count, 1);
    BUMP(m->sum_ns, duration_ns);
}

void metrics_count_strict_wait(struct metrics_thread *m, enum metrics_strict_result result, uint64_t wait_ns,
                               unsigned overturned)
{
    if ((unsigned)result >= STRICT_RESULTS)
        return;
    BUMP(m->strict_waits[result], 1);
    BUMP(m->strict_bucket[bucket_of(strict_buckets, NSTRICT_BUCKETS, wait_ns)], 1);
    BUMP(m->strict_sum_ns, wait_ns);
    BUMP(m->strict_overturned, overturned);
}

void metrics_count_bad_request(struct metrics_thread *m, int code)
{
    for (size_t i = 0; i < NBAD; i++)
        if (bad_codes[i] == code)
            BUMP(m->bad[i], 1);
}

void metrics_in_flight(struct metrics_thread *m, int delta)
{
    BUMP(m->in_flight, delta);
}

void metrics_config_reload(bool ok)
{
    ADD(config_reloads[ok], 1);
}

void metrics_certificate_reload(bool ok)
{
    ADD(cert_reloads[ok], 1);
}

void metrics_set_max_clock_skew(int64_t ns)
{
    STORE(max_skew_ns, ns);
}

void metrics_fences_changed(void)
{
    STORE(fences_changed_ns, lf_clock_mono_ns());
}

void metrics_set_leader(bool leading)
{
    STORE(leader, leading ? 1 : 0);
}

void metrics_set_webhook_configuration(bool in_step)
{
    STORE(vwc_in_step, in_step ? 1 : 0);
}

void metrics_count_webhook_configuration_patch(bool ok)
{
    ADD(vwc_patches[ok], 1);
}

void metrics_set_leasefences(const uint64_t counts[4])
{
    for (int i = 0; i < 4; i++)
        STORE(leasefences[i], counts[i]);
}

void metrics_count_status_write(bool ok)
{
    ADD(status_writes[ok], 1);
}

void metrics_set_certificate_expiry(int64_t unix_s)
{
    STORE(cert_expiry, unix_s);
}

/* ---- rendering ---- */

struct out {
    char *buf;
    size_t len, cap;
    metrics_alloc_fn alloc;
    void *ctx;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 8192;
        while (cap < o->len + n)
            cap *= 2;
        char *p = o->alloc(o->ctx, cap);
        if (o->len)
            memcpy(p, o->buf, o->len);
        o->buf = p;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A label value S[0..LEN), escaped as the text format wants (\\, \", \n); other control bytes (a
 * holderIdentity may hold NUL) are written as the text \xNN, so no two values print alike. */
static void put_label_n(struct out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\')
            put(o, "\\\\", 2);
        else if (ch == '"')
            put(o, "\\\"", 2);
        else if (ch == '\n')
            put(o, "\\n", 2);
        else if (ch < 0x20 || ch == 0x7f)
            putf(o, "\\\\x%02x", ch);
        else
            put(o, s + i, 1);
    }
}

static void put_label(struct out *o, const char *s)
{
    put_label_n(o, s, strlen(s));
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *mode_label(int mode)
{
    return mode < 0 ? "" : config_mode_name((enum fence_mode)mode);
}

static void put_requests(struct out *o, const char *fence, int mode, int allowed, int reason, uint64_t v)
{
    putf(o, "leasefence_admission_requests_total{decision=\"%s\",reason=\"%s\",fence=\"",
         allowed ? "allowed" : "denied", decide_reason_name((enum decide_reason)reason));
    put_label(o, fence);
    putf(o, "\",mode=\"%s\"} %llu\n", mode_label(mode), (unsigned long long)v);
}

/* The counters of Lease I summed over the threads; false when no thread counted any. */
static bool lease_sum(struct metrics_thread *list, size_t i, struct lease_counters *sum)
{
    bool any = false;
    memset(sum, 0, sizeof(*sum));
    for (struct metrics_thread *m = list; m; m = m->next) {
        _Atomic(struct lease_counters *) *chunk =
            atomic_load_explicit(&m->chunks[i / LEASE_CHUNK], memory_order_acquire);
        struct lease_counters *lc =
            chunk ? atomic_load_explicit(&chunk[i % LEASE_CHUNK], memory_order_acquire) : NULL;
        if (lc == NULL)
            continue;
        any = true;
        for (int mode = 0; mode < MODES; mode++)
            for (int r = 0; r < REASON_COUNT; r++) {
                sum->c[mode][0][r] += LOAD(lc->c[mode][0][r]);
                sum->c[mode][1][r] += LOAD(lc->c[mode][1][r]);
                sum->checks[mode][r] += LOAD(lc->checks[mode][r]);
            }
    }
    return any;
}

void metrics_fence_checks(int lease_idx, uint64_t *passed, uint64_t *failed)
{
    struct lease_counters sum;
    *passed = *failed = 0;
    if (lease_idx < 0 || lease_idx >= METRICS_MAX_LEASES ||
        !lease_sum(atomic_load_explicit(&threads, memory_order_acquire), (size_t)lease_idx, &sum))
        return;
    for (int mode = 0; mode < MODES; mode++)
        for (int r = 0; r < REASON_COUNT; r++) {
            if (r == REASON_HOLDER)
                *passed += sum.checks[mode][r];
            else
                *failed += sum.checks[mode][r];
        }
}

/* The fence label of tracker Lease I: "NS/NAME". */
static void fence_label(struct tracker *t, size_t i, char *buf, size_t len)
{
    const struct lease_snapshot *s = tracker_acquire(t, i);
    snprintf(buf, len, "%s/%s", s->ns, s->name);
    tracker_release(t, s);
}

static void render_requests(struct out *o, struct metrics_thread *list, struct tracker *t)
{
    size_t nleases = t ? tracker_count(t) : 0;
    struct lease_counters sum;
    head(o, "leasefence_admission_requests_total", "counter",
         "AdmissionReview requests decided, by decision, reason, fence (Lease) and fence mode.");
    for (int a = 0; a < 2; a++) {
        for (int r = 0; r < REASON_COUNT; r++) {
            uint64_t v = 0;
            for (struct metrics_thread *m = list; m; m = m->next)
                v += LOAD(m->none[a][r]);
            /* the two rows that are always there, so that rates work from the start */
            if (v || (a && (r == REASON_UNFENCED || r == REASON_LEASE)))
                put_requests(o, "", -1, a, r, v);
        }
    }
    for (size_t i = 0; i < nleases && i < METRICS_MAX_LEASES; i++) {
        char fence[512];
        if (!lease_sum(list, i, &sum))
            continue;
        fence_label(t, i, fence, sizeof(fence));
        for (int mode = 0; mode < MODES; mode++)
            for (int a = 0; a < 2; a++)
                for (int r = 0; r < REASON_COUNT; r++)
                    if (sum.c[mode][a][r])
                        put_requests(o, fence, mode, a, r, sum.c[mode][a][r]);
    }
}

static void render_checks(struct out *o, struct metrics_thread *list, struct tracker *t)
{
    size_t nleases = t ? tracker_count(t) : 0;
    struct lease_counters sum;
    head(o, "leasefence_fence_checks_total", "counter",
         "Fences weighed against requests (every fence naming the writer is), by fence (Lease), fence mode "
         "and the fence's own reason.");
    for (size_t i = 0; i < nleases && i < METRICS_MAX_LEASES; i++) {
        char fence[512];
        if (!lease_sum(list, i, &sum))
            continue;
        fence_label(t, i, fence, sizeof(fence));
        for (int mode = 0; mode < MODES; mode++)
            for (int r = 0; r < REASON_COUNT; r++) {
                if (sum.checks[mode][r] == 0)
                    continue;
                putf(o, "leasefence_fence_checks_total{fence=\"");
                put_label(o, fence);
                putf(o, "\",mode=\"%s\",reason=\"%s\"} %llu\n", mode_label(mode),
                     decide_reason_name((enum decide_reason)r), (unsigned long long)sum.checks[mode][r]);
            }
    }
}

/*
 * The histogram NAME summed over the threads of LIST: the counters of each thread are the NB + 1 at
 * BUCKET_OFF in struct metrics_thread (NB upper bounds BOUNDS in seconds, then +Inf) and the nanoseconds at
 * SUM_OFF; COUNT observations in all.
 */
static void render_histogram(struct out *o, const char *name, const char *help, const double *bounds,
                             size_t nb, struct metrics_thread *list, size_t bucket_off, size_t sum_off,
                             uint64_t count)
{
    uint64_t cum = 0, sum_ns = 0;
    head(o, name, "histogram", help);
    for (size_t b = 0; b <= nb; b++) {
        for (struct metrics_thread *m = list; m; m = m->next)
            cum += LOAD(((_Atomic uint64_t *)((char *)m + bucket_off))[b]);
        if (b < nb)
            putf(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b], (unsigned long long)cum);
        else
            putf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    for (struct metrics_thread *m = list; m; m = m->next)
        sum_ns += LOAD(*(_Atomic uint64_t *)((char *)m + sum_off));
    putf(o, "%s_sum %.9f\n", name, (double)sum_ns / 1e9);
    putf(o, "%s_count %llu\n", name, (unsigned long long)count);
}

static void render_latency(struct out *o, struct metrics_thread *list)
{
    uint64_t count = 0;
    int64_t in_flight = 0;
    for (struct metrics_thread *m = list; m; m = m->next) {
        count += LOAD(m->count);
        in_flight += LOAD(m->in_flight);
    }
    render_histogram(o, "leasefence_admission_request_duration_seconds",
                     "Time from a complete AdmissionReview request to its answer, in seconds.", buckets,
                     NBUCKETS, list, offsetof(struct metrics_thread, bucket),
                     offsetof(struct metrics_thread, sum_ns), count);
    head(o, "leasefence_admission_in_flight_requests", "gauge",
         "AdmissionReview requests being answered now.");
    putf(o, "leasefence_admission_in_flight_requests %lld\n", (long long)(in_flight > 0 ? in_flight : 0));
    head(o, "leasefence_bad_requests_total", "counter",
         "Requests answered with a 4xx HTTP status, by status.");
    for (size_t i = 0; i < NBAD; i++) {
        uint64_t v = 0;
        for (struct metrics_thread *m = list; m; m = m->next)
            v += LOAD(m->bad[i]);
        putf(o, "leasefence_bad_requests_total{code=\"%d\"} %llu\n", bad_codes[i], (unsigned long long)v);
    }
}

static void render_strict(struct out *o, struct metrics_thread *list, struct tracker *t)
{
    uint64_t reads[2] = {0, 0}, count = 0, overturned = 0;
    size_t n = t ? tracker_count(t) : 0;
    for (size_t i = 0; i < n; i++) {
        struct tracker_stats st;
        tracker_stats(t, i, &st);
        reads[0] += st.fresh_reads[0];
        reads[1] += st.fresh_reads[1];
    }
    head(
        o, "leasefence_strict_reads_total", "counter",
        "Leases read afresh from the API server for strict fences (one read answers every review that waited "
        "for it), by result: read, or failed (error, timeout, undecodable).");
    putf(o, "leasefence_strict_reads_total{result=\"read\"} %llu\n", (unsigned long long)reads[1]);
    putf(o, "leasefence_strict_reads_total{result=\"failed\"} %llu\n", (unsigned long long)reads[0]);
    head(o, "leasefence_strict_waits_total", "counter",
         "Reviews that waited for fresh reads (strict fences), by how the wait ended: fresh (decided on the "
         "records read), failed or timeout (denied unknown), gone (the client went away).");
    for (int r = 0; r < STRICT_RESULTS; r++) {
        uint64_t v = 0;
        for (struct metrics_thread *m = list; m; m = m->next)
            v += LOAD(m->strict_waits[r]);
        count += v;
        putf(o, "leasefence_strict_waits_total{result=\"%s\"} %llu\n", strict_results[r],
             (unsigned long long)v);
    }
    render_histogram(o, "leasefence_strict_wait_duration_seconds",
                     "Time a review waited for fresh reads of its strict fences' Leases, in seconds.",
                     strict_buckets, NSTRICT_BUCKETS, list, offsetof(struct metrics_thread, strict_bucket),
                     offsetof(struct metrics_thread, strict_sum_ns), count);
    for (struct metrics_thread *m = list; m; m = m->next)
        overturned += LOAD(m->strict_overturned);
    head(o, "leasefence_strict_overturned_total", "counter",
         "Checks of strict fences that passed on the watched Lease state and failed on the record read "
         "afresh: "
         "writes the watch alone would have let through.");
    putf(o, "leasefence_strict_overturned_total %llu\n", (unsigned long long)overturned);
}

static void lease_label(struct out *o, const char *name, const struct lease_snapshot *s)
{
    putf(o, "%s{lease=\"", name);
    put_label(o, s->ns);
    put(o, "/", 1);
    put_label(o, s->name);
    put(o, "\"", 1);
}

static void render_leases(struct out *o, struct tracker *t, int64_t now)
{
    size_t n = t ? tracker_count(t) : 0;
    static const char *const names[] = {"leasefence_lease_holder_info",
                                        "leasefence_lease_transitions",
                                        "leasefence_lease_last_change_age_seconds",
                                        "leasefence_lease_synced",
                                        "leasefence_lease_expired",
                                        "leasefence_watch_restarts_total"};
    static const char *const types[] = {"gauge", "gauge", "gauge", "gauge", "gauge", "counter"};
    static const char *const helps[] = {
        "The current holder of each fenced Lease (holder=\"\" when released or absent).",
        "spec.leaseTransitions of each fenced Lease.",
        "Seconds since the Lease record was last seen to change (monotonic clock).",
        "1 when the Lease has been listed and its state is known.",
        "1 when the Lease has a holder that did not renew within leaseDurationSeconds.",
        "Watches of the Lease's namespace re-established after the first (one serves all its Leases).",
    };
    for (int k = 0; k < 6; k++) {
        head(o, names[k], types[k], helps[k]);
        for (size_t i = 0; i < n; i++) {
            const struct lease_snapshot *s = tracker_acquire(t, i);
            struct tracker_stats st;
            if (!s->tracked) { /* its fence was removed: no series for a Lease nobody reads */
                tracker_release(t, s);
                continue;
            }
            lease_label(o, names[k], s);
            switch (k) {
            case 0:
                put(o, ",holder=\"", 9);
                put_label_n(o, s->holder, s->holder_len);
                put(o, "\"} 1\n", 5);
                break;
            case 1:
                putf(o, "} %d\n", (int)s->transitions);
                break;
            case 2:
                putf(o, "} %.3f\n", s->known ? (double)(now - s->changed_mono_ns) / 1e9 : 0.0);
                break;
            case 3:
                putf(o, "} %d\n", s->known ? 1 : 0);
                break;
            case 4:
                putf(o, "} %d\n",
                     s->known && s->exists && s->holder_len > 0 &&
                         now > decide_valid_until(s, LOAD(max_skew_ns)));
                break;
            default:
                tracker_stats(t, i, &st);
                putf(o, "} %llu\n", (unsigned long long)st.watch_restarts);
                break;
            }
            tracker_release(t, s);
        }
    }
}

static void render_process(struct out *o)
{
    char buf[1024];
    double cpu = 0, rss = 0;
    long fds = 0;
    struct rlimit rl;
    FILE *fp = fopen("/proc/self/stat", "r");
    if (fp != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        char *p = strrchr(buf, ')');
        unsigned long utime = 0, stime = 0;
        long rss_pages = 0;
        /* after ") ": state(3) ppid ... utime(14) stime(15) ... rss(24) */
        if (p &&
            sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
                   &utime, &stime, &rss_pages) == 3) {
            cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
            rss = (double)rss_pages * (double)sysconf(_SC_PAGESIZE);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory itself */
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    head(o, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    putf(o, "process_cpu_seconds_total %.2f\n", cpu);
    head(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    putf(o, "process_resident_memory_bytes %.0f\n", rss);
    head(o, "process_open_fds", "gauge", "Number of open file descriptors.");
    putf(o, "process_open_fds %ld\n", fds);
    head(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    putf(o, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    head(o, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    putf(o, "process_start_time_seconds %.3f\n", start_time);
}

void metrics_render(struct tracker *t, struct kube_client *kc, int64_t now_mono_ns, metrics_alloc_fn alloc,
                    void *ctx, char **out, size_t *len)
{
    struct out o = {NULL, 0, 0, alloc, ctx};
    struct metrics_thread *list = atomic_load_explicit(&threads, memory_order_acquire);
    render_requests(&o, list, t);
    render_checks(&o, list, t);
    render_latency(&o, list);
    render_strict(&o, list, t);
    render_leases(&o, t, now_mono_ns);

    head(&o, "leasefence_kube_api_requests_total", "counter",
         "Requests to the Kubernetes API server, by HTTP status (0: no response).");
    if (kc != NULL) {
        struct kube_code_count rows[64];
        size_t n = kube_client_request_counts(kc, rows, 64);
        for (size_t i = 0; i < n; i++)
            putf(&o, "leasefence_kube_api_requests_total{code=\"%d\"} %llu\n", rows[i].code,
                 (unsigned long long)rows[i].count);
    }
    head(&o, "leasefence_config_reloads_total", "counter", "Fence configuration reloads, by result.");
    putf(&o, "leasefence_config_reloads_total{result=\"ok\"} %llu\n",
         (unsigned long long)LOAD(config_reloads[1]));
    putf(&o, "leasefence_config_reloads_total{result=\"failed\"} %llu\n",
         (unsigned long long)LOAD(config_reloads[0]));
    head(&o, "leasefence_certificate_reloads_total", "counter", "Serving certificate reloads, by result.");
    putf(&o, "leasefence_certificate_reloads_total{result=\"ok\"} %llu\n",
         (unsigned long long)LOAD(cert_reloads[1]));
    putf(&o, "leasefence_certificate_reloads_total{result=\"failed\"} %llu\n",
         (unsigned long long)LOAD(cert_reloads[0]));
    head(&o, "leasefence_certificate_expiry_timestamp_seconds", "gauge",
         "notAfter of the serving certificate in use, in unix seconds.");
    putf(&o, "leasefence_certificate_expiry_timestamp_seconds %lld\n", (long long)LOAD(cert_expiry));
    {
        uint64_t v = 0;
        for (struct metrics_thread *m = list; m; m = m->next)
            v += LOAD(m->unexpected_unfenced);
        head(&o, "leasefence_unexpected_unfenced_total", "counter",
             "Reviews answered unfenced while the fences had not changed for 10 s: the webhook configuration "
             "sent a writer that no fence names.");
        putf(&o, "leasefence_unexpected_unfenced_total %llu\n", (unsigned long long)v);
    }
    head(&o, "leasefence_leader", "gauge",
         "1 on the elected replica, which keeps the webhook configuration and writes LeaseFence status.");
    putf(&o, "leasefence_leader %d\n", LOAD(leader));
    if (LOAD(vwc_in_step) >= 0) {
        head(
            &o, "leasefence_webhook_configuration_in_step", "gauge",
            "1 when the webhook configuration's fenced-writers and not-elections name what the fences want.");
        putf(&o, "leasefence_webhook_configuration_in_step %d\n", LOAD(vwc_in_step));
    }
    head(&o, "leasefence_webhook_configuration_patches_total", "counter",
         "Patches of the webhook configuration by this replica, by result.");
    putf(&o, "leasefence_webhook_configuration_patches_total{result=\"ok\"} %llu\n",
         (unsigned long long)LOAD(vwc_patches[1]));
    putf(&o, "leasefence_webhook_configuration_patches_total{result=\"failed\"} %llu\n",
         (unsigned long long)LOAD(vwc_patches[0]));
    head(&o, "leasefence_leasefences", "gauge",
         "LeaseFence objects by state: fencing, invalid (refused by the validator), forbidden (a writer "
         "outside "
         "the namespace), conflict (the --config file fences the same Lease).");
    static const char *const lf_states[] = {"fencing", "invalid", "forbidden", "conflict"};
    for (int i = 0; i < 4; i++)
        putf(&o, "leasefence_leasefences{state=\"%s\"} %llu\n", lf_states[i],
             (unsigned long long)LOAD(leasefences[i]));
    head(&o, "leasefence_leasefence_status_writes_total", "counter",
         "Writes of LeaseFence status by this replica, by result.");
    putf(&o, "leasefence_leasefence_status_writes_total{result=\"ok\"} %llu\n",
         (unsigned long long)LOAD(status_writes[1]));
    putf(&o, "leasefence_leasefence_status_writes_total{result=\"failed\"} %llu\n",
         (unsigned long long)LOAD(status_writes[0]));
    head(&o, "leasefence_build_info", "gauge", "Build information; always 1.");
    putf(&o, "leasefence_build_info{version=\"%s\",commit=\"%s\"} 1\n", LEASEFENCE_VERSION,
         LEASEFENCE_COMMIT);
    render_process(&o);
    if (o.buf == NULL)
        put(&o, "", 0);
    *out = o.buf;
    *len = o.len;
}
