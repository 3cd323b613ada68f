#ifndef LEASEFENCE_STRICT_H
#define LEASEFENCE_STRICT_H
/*
 * Waiting for fresh Lease reads (strict fences) without blocking an event loop.  A review that must not be
 * answered on the watched state alone is parked: the tracker's thread reads the Leases (tracker_refresh),
 * and the results come back to the review's own loop thread as one h2o message.  The loop keeps serving
 * meanwhile; a per-loop timer fails the wait closed after the budget; and a request whose client goes away
 * is never touched again (a dispose callback on its memory pool detaches it).
 */
#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker.h"

/** The waits of one event-loop thread. */
struct strict_loop;

/**
 * Sets up the waits of the loop of CTX (call on that loop's thread, after h2o_context_init): fresh reads
 * come from T and a wait ends after BUDGET_MS.
 */
struct strict_loop *strict_loop_new(h2o_context_t *ctx, struct tracker *t, uint64_t budget_ms);

/** Reviews of this loop waiting now (shutdown lets them end). */
unsigned strict_loop_waiting(const struct strict_loop *sl);

/** One Lease read for a waiting review, as the review's callbacks see it. */
struct strict_read {
    size_t lease_idx;
    const struct lease_snapshot *snap; /* the record read (borrowed from the wait), NULL when none came */
    const char *why;                   /* when SNAP is NULL: why ("no answer within 1000 ms", "500 ...") */
    bool late;                         /* when SNAP is NULL: no answer came within the budget */
};

/** What the caller of strict_wait does; every callback runs on the loop's thread. */
struct strict_ops {
    /**
     * Every read came, or the budget passed first (TIMED_OUT: the reads that did not come have SNAP NULL);
     * REQ is alive: answer it here.  WAITED_NS since strict_wait.
     */
    void (*done)(void *ctx, h2o_req_t *req, const struct strict_read *reads, size_t n, bool timed_out,
                 uint64_t waited_ns);
    /** The request went away before DONE (the client closed, the stream was reset): do not touch it. */
    void (*gone)(void *ctx, uint64_t waited_ns);
    /** The wait is freed (after DONE or GONE, once every read came back): release what CTX holds. */
    void (*cleanup)(void *ctx);
};

/**
 * Parks REQ until the Leases LEASE_IDX[0..N) (distinct, N > 0) are read afresh, each by a GET sent after
 * this call, then calls OPS->done (or OPS->gone).  Returns CTX_SIZE zeroed bytes of caller context that live
 * with the wait (freed after OPS->cleanup).  OPS must outlive the wait.
 */
void *strict_wait(struct strict_loop *sl, h2o_req_t *req, const size_t *lease_idx, size_t n, size_t ctx_size,
                  const struct strict_ops *ops);

#endif
