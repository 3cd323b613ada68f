#ifndef LEASEFENCE_DECIDE_H
#define LEASEFENCE_DECIDE_H
/*
 * The fence decision (docs/design.md, "The decision") as a pure function of the decoded
 * review, the fence table, the Lease snapshots and the monotonic time: no
 * I/O, no globals.  A write is weighed against every fence that names its
 * writer; any failing enforce fence denies it.
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

/** Identities and holders longer than this are cut in messages, with a mark saying how much was cut. */
#define DECIDE_SHOW_MAX 253

/** One fence weighed against one write. */
struct fence_check {
    int fence; /* index in the fence table */
    enum decide_reason reason;
    bool failed;                /* the fence's check failed (reason is not holder) */
    struct review_str identity; /* the replica identity this write carries for the fence (ptr NULL: none) */
    struct review_str epoch;    /* the epoch tag this write set (ptr NULL: none) */
    int64_t late_ns;            /* expired: how long ago validity ended; unknown: how long without contact */
    const char *unread; /* unknown because a strict fence's fresh read failed: why (borrowed); else NULL */
};

struct decision {
    bool allowed;              /* the answer given (warn and audit allow what enforce denies) */
    bool fenced;               /* some fence names the writer (reason is neither lease nor unfenced) */
    bool failed;               /* the deciding fence's check failed */
    enum decide_reason reason; /* the deciding fence's reason, or lease / unfenced */
    int fence;                 /* the deciding fence's index in the fence table, -1 when none */
    int check;                 /* the deciding fence's index in the checks, -1 when none */
    char message[768]; /* for people: the deciding fence's denial or warning; "" when allowed cleanly */
};

/** "holder", "unfenced", "lease", "untagged", ... */
const char *decide_reason_name(enum decide_reason r);

/** True when R writes an election object, exempt from every fence: a Lease that a fence of T watches, or
 * a coordination.k8s.io leasecandidate. */
bool decide_exempt(const struct review *r, const struct fence_table *t);

/**
 * The fences of T that name the writer of R (by username or any of its
 * groups), ascending and each once: writes them to OUT and returns how many.
 * When CAP may be too small, writes nothing and returns a CAP that suffices
 * (more than CAP): call again with that.  0 for exempt writes.  Cost
 * independent of the number of fences.
 */
size_t decide_fences(const struct review *r, const struct fence_table *t, int *out, size_t cap);

/**
 * CLOCK_MONOTONIC after which the holder of SNAP (known, existing, held) is
 * expired: leaseDurationSeconds after the record was seen to change
 * (client-go's rule), and no later than renewTime + leaseDurationSeconds +
 * MAX_SKEW_NS when renewTime is set (a record first seen long after it was
 * written).
 */
int64_t decide_valid_until(const struct lease_snapshot *snap, int64_t max_skew_ns);

/**
 * The Lease's own rows of the decision for SNAP (NULL when not tracked) at NOW_MONO_NS: unknown,
 * no-lease, no-holder or expired (*LATE_NS as fence_check's late_ns), else holder (its holder is valid and
 * only the writer's identity remains to be compared).  MAX_SKEW_NS as for decide_check.
 */
enum decide_reason decide_lease(const struct lease_snapshot *snap, int64_t now_mono_ns, int64_t max_skew_ns,
                                int64_t *late_ns);

/**
 * Weighs R against fence FENCE of T whose Lease snapshot is SNAP (NULL when
 * not tracked).  NOW_MONO_NS is CLOCK_MONOTONIC; MAX_SKEW_NS the clock-skew
 * allowance by which a record's renewTime may lag our clock (first-sight
 * validity ends renewTime + leaseDurationSeconds + MAX_SKEW_NS).
 */
void decide_check(const struct review *r, const struct fence_table *t, int fence,
                  const struct lease_snapshot *snap, int64_t now_mono_ns, int64_t max_skew_ns,
                  struct fence_check *out);

/**
 * The decision for R from the checks of every fence naming its writer
 * (CHECKS[0..N), in fence order, from decide_check; N 0 when none does).
 * SNAPS[i] is the snapshot CHECKS[i] was made with, for the message.
 */
void decide(const struct review *r, const struct fence_table *t, const struct fence_check *checks,
            const struct lease_snapshot *const *snaps, size_t n, struct decision *out);

/**
 * Strict fences (consistency "strict"): the checks of CHECKS[0..N) that D, decided on the watched
 * snapshots, must not be answered on before each is made again (decide_check) on a record read afresh.
 * Writes their indexes in CHECKS to OUT (room for N) and returns how many: every check of a strict fence
 * that passed, unless D denies (a denial on the watched state stands: fresh records could only add
 * failures).  0: answer D now.
 */
size_t decide_strict_pending(const struct fence_table *t, const struct fence_check *checks, size_t n,
                             const struct decision *d, size_t *out);

/**
 * The check of strict fence FENCE when the fresh read of its Lease failed or came too late: fails with
 * reason unknown (fail closed), WHY (borrowed: it must outlive OUT) naming the failure in the message.
 */
void decide_check_unread(const struct review *r, const struct fence_table *t, int fence, const char *why,
                         struct fence_check *out);

/**
 * Formats the message of a failed CHECK into BUF[LEN]: "leasefence: replica
 * \"pod-b\" is not the holder of lease demo/x (held by \"pod-a\"); write
 * denied" (or "write would be denied (fence mode warn)").  SNAP as for decide.
 */
void decide_message(const struct review *r, const struct fence_table *t, const struct fence_check *check,
                    const struct lease_snapshot *snap, char *buf, size_t len);

#endif
