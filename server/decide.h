#ifndef LEASEFENCE_DECIDE_H
#define LEASEFENCE_DECIDE_H
/*
 * The fence decision (DESIGN.md "The decision") as a pure function of the
 * decoded review, the fence table, the Lease snapshot and the monotonic
 * time: no I/O, no globals.
 */
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "review.h"
#include "tracker.h"

/** Why; also the `reason` label of leasefence_admission_requests_total. */
enum decide_reason {
    REASON_HOLDER,
    REASON_UNFENCED,
    REASON_LEASE,
    REASON_UNTAGGED,
    REASON_UNKNOWN,
    REASON_NO_LEASE,
    REASON_NO_HOLDER,
    REASON_EXPIRED,
    REASON_NOT_HOLDER,
    REASON_STALE_EPOCH,
    REASON_COUNT
};

/** Lease duration assumed while the Lease's own is unknown (client-go's default). */
#define DECIDE_DEFAULT_LEASE_DURATION_S 15

struct decision {
    bool allowed; /* the answer given (warn and audit allow what enforce denies) */
    bool fenced;  /* a fence names the writer (reason is neither lease nor unfenced) */
    bool failed;  /* the fence check failed (denied in enforce, warned in warn, noted in audit) */
    enum decide_reason reason;
    int fence;                  /* index in the fence table, -1 when none */
    struct review_str identity; /* the replica identity read from the review (ptr NULL when none) */
    struct review_str epoch;    /* the epoch tag the write carries (ptr NULL when none) */
    char message[768];          /* for people: the denial message or the warning; "" when allowed cleanly */
};

/** "holder", "unfenced", "lease", "untagged", ... */
const char *decide_reason_name(enum decide_reason r);

/**
 * Index of the fence that names the writer of R: by username first, then the
 * first of its groups that some fence names; -1 when none.  Writes to
 * coordination.k8s.io leases are never fenced (-1).
 */
int decide_fence(const struct review *r, const struct fence_table *t);

/**
 * The decision for R.  FENCE is decide_fence(R, T); SNAP the snapshot of that
 * fence's Lease (may be NULL when FENCE is -1).  NOW_MONO_NS is CLOCK_MONOTONIC.
 */
void decide(const struct review *r, const struct fence_table *t, int fence, const struct lease_snapshot *snap,
            int64_t now_mono_ns, struct decision *out);

#endif
