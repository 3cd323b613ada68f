#ifndef LEASEFENCE_METRICS_H
#define LEASEFENCE_METRICS_H
/*
 * Prometheus metrics of `leasefence serve`.  Request counters live per event
 * loop thread (each thread writes only its own, so the hot path shares no
 * cache line) and are summed when /metrics is scraped.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decide.h"

struct tracker;
struct kube_client;
struct metrics_thread;

/** Leases with request counters: tracker indexes at or above this are counted under fence="" (a multiple of
 * 1024; far above the 10,000 fences the tracker is measured with). */
#define METRICS_MAX_LEASES (1 << 20)

/** Records the process start time; call once at startup, before any other metrics_ call. */
void metrics_init(void);

/** Counters for one event loop thread; lives as long as the process. */
struct metrics_thread *metrics_thread_new(void);

/**
 * Counts one decided request: LEASE_IDX is the fence's tracker index (-1 for
 * unfenced and Lease writes), MODE its mode, DURATION_NS the time taken.
 * Only the owning thread may call it.
 */
void metrics_count_request(struct metrics_thread *m, int lease_idx, enum fence_mode mode,
                           enum decide_reason reason, bool allowed, uint64_t duration_ns);

/**
 * Counts one fence weighed against a request (every fence naming the writer
 * is): LEASE_IDX and MODE as above, REASON the fence's own check.
 */
void metrics_count_check(struct metrics_thread *m, int lease_idx, enum fence_mode mode,
                         enum decide_reason reason);

/**
 * How often the fences of Lease LEASE_IDX were weighed since the start, summed over the threads: *PASSED
 * with reason holder, *FAILED with any other (denied, or let through by warn and audit).
 */
void metrics_fence_checks(int lease_idx, uint64_t *passed, uint64_t *failed);

/** How a review that waited for fresh reads (strict fences) ended. */
enum metrics_strict_result {
    STRICT_FRESH,   /* decided on the records read */
    STRICT_FAILED,  /* a read failed: unknown */
    STRICT_TIMEOUT, /* a read did not come within --strict-timeout: unknown */
    STRICT_GONE,    /* the client went away while it waited */
    STRICT_RESULTS
};

/**
 * Counts one review that waited WAIT_NS for fresh reads and ended as RESULT; OVERTURNED is how many of its
 * checks passed on the watched state and failed on the fresh record.  Only the owning thread may call it.
 */
void metrics_count_strict_wait(struct metrics_thread *m, enum metrics_strict_result result, uint64_t wait_ns,
                               unsigned overturned);

/** Counts a request answered with a 4xx HTTP status CODE. */
void metrics_count_bad_request(struct metrics_thread *m, int code);

/** Adds DELTA (+1/-1) to the requests in flight of the thread. */
void metrics_in_flight(struct metrics_thread *m, int delta);

/** Counts a configuration or certificate reload. */
void metrics_config_reload(bool ok);
void metrics_certificate_reload(bool ok);

/** Sets the clock-skew allowance leasefence_lease_expired applies, as the decision does (decide_valid_until).
 */
void metrics_set_max_clock_skew(int64_t ns);

/**
 * The fences in force changed now.  A review answered unfenced more than METRICS_SETTLE_S after the last
 * change is counted in leasefence_unexpected_unfenced_total: the webhook configuration's fenced-writers
 * sent a writer that no fence names (drift), not a call that crossed a change.
 */
#define METRICS_SETTLE_S 10
void metrics_fences_changed(void);

/** 1 while this replica is the elected one (it writes the webhook configuration and the status). */
void metrics_set_leader(bool leading);

/** Whether the webhook configuration's owned matchConditions name what the fences want. */
void metrics_set_webhook_configuration(bool in_step);

/** Counts one patch of the webhook configuration. */
void metrics_count_webhook_configuration_patch(bool ok);

/** The LeaseFences by what became of them: fencing, invalid, forbidden, conflict (fencesrc_state order). */
void metrics_set_leasefences(const uint64_t counts[4]);

/** Counts one write of a LeaseFence's status. */
void metrics_count_status_write(bool ok);

/** Sets the serving certificate's notAfter (unix seconds). */
void metrics_set_certificate_expiry(int64_t unix_s);

/** Memory for the rendered text: returns SIZE bytes or aborts; never freed by metrics_render. */
typedef void *(*metrics_alloc_fn)(void *ctx, size_t size);

/**
 * Renders every metric in the Prometheus text format (0.0.4).  T and KC may
 * be NULL.  Returns the text in *OUT (length *LEN) from ALLOC.
 */
void metrics_render(struct tracker *t, struct kube_client *kc, int64_t now_mono_ns, metrics_alloc_fn alloc,
                    void *ctx, char **out, size_t *len);

#endif
