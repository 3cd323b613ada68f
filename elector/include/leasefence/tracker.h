#ifndef LEASEFENCE_TRACKER_H
#define LEASEFENCE_TRACKER_H
/*
 * The tracker watches a set of Leases and publishes, per Lease, an immutable
 * snapshot of what is known of it.  Readers on other threads (the h2o event
 * loops) take a snapshot without waiting on the tracker's I/O: the tracker
 * only ever swaps a pointer under a lock held for a few instructions.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

struct tracker;

/**
 * What is known of one Lease at one moment.  Immutable once published.
 *
 * The holder is the API server's string, which may hold NUL bytes (a Go string; "\u0000" in JSON): compare
 * and print it with holder_len, never with strlen or strcmp, or "pod-a\0x" would pass for "pod-a".
 */
struct lease_snapshot {
    bool known;                   /* synced: the last state read was decoded (a list or event whose Lease
                                     parsed, or the Lease's absence).  False until listed, and at once when
                                     a list, watch event or Lease cannot be decoded */
    bool exists;                  /* the Lease exists (only meaningful when known) */
    bool watching;                /* a watch on this Lease is connected now */
    bool tracked;                 /* false after tracker_untrack (until tracked again): nothing is read */
    const char *ns, *name;        /* never NULL */
    const char *holder;           /* spec.holderIdentity, "" when absent or released; never NULL; NUL-
                                     terminated after holder_len bytes, but may hold NUL bytes before */
    size_t holder_len;            /* bytes of holder */
    int32_t lease_duration_s;     /* spec.leaseDurationSeconds, 0 when absent */
    int32_t transitions;          /* spec.leaseTransitions, 0 when absent */
    const char *uid;              /* metadata.uid, "" when the Lease does not exist; never NULL (no NUL) */
    const char *resource_version; /* never NULL */
    const char *epoch;            /* "<uid>/<transitions>", "" when the Lease does not exist; never NULL */
    int64_t renew_time_us;        /* spec.renewTime as unix microseconds, 0 when absent */
    int64_t acquire_time_us;      /* spec.acquireTime as unix microseconds, 0 when absent */
    int64_t changed_mono_ns;      /* CLOCK_MONOTONIC when the record was last seen to change */
    int64_t renew_mono_ns;        /* spec.renewTime mapped onto CLOCK_MONOTONIC when the record was last seen
                                     to change (or first seen): mono_now - (wall_now - renewTime), so a
                                     renewTime an hour old reads as an hour before changed_mono_ns.  Never
                                     refreshed while the record stays the same.  Trusts the holder's clock
                                     (allow for skew); 0 exactly when renew_time_us is 0 */
    int64_t contact_mono_ns;      /* CLOCK_MONOTONIC when the API server last confirmed this state
                                     (list, watch event, bookmark, the end of a watch); not refreshed
                                     while watching: a connected watch is contact now */
};

/** Counters for metrics; read with tracker_stats(). */
struct tracker_stats {
    uint64_t watch_restarts; /* watches re-established after the first */
    uint64_t relists;        /* lists after the first (410 Gone, errors) */
    uint64_t changes;        /* snapshots published because the record changed */
    uint64_t
        fresh_reads[2]; /* GETs for tracker_refresh: [0] failed (error, timeout, undecodable), [1] read */
    uint64_t fresh_refreshes; /* tracker_refresh calls answered (coalesced: several per GET) */
    uint64_t fresh_applied;   /* GETs whose record was newer than the watched one and replaced it */
};

/**
 * One fresh read of a Lease, for a caller that must not decide on the watched state alone (strict fences).
 * The caller owns it and sets DONE (and CTX); the tracker sets the rest and calls DONE once, on the
 * tracker's thread, where it must not block (post to your own thread and return).  After DONE the
 * tracker no longer touches it.
 */
struct tracker_refresh {
    void (*done)(struct tracker_refresh *rf);
    void *ctx;
    /* set by the tracker, valid in DONE: */
    const struct lease_snapshot
        *snap;            /* a new reference (tracker_release it), or NULL when the read failed */
    int code;             /* HTTP status of the GET, 0 when none came */
    bool timed_out;       /* the read failed because the GET got no answer within the budget */
    char err[192];        /* why the read failed ("no answer within 1000 ms", "500 ...") */
    int64_t sent_mono_ns; /* when the GET that answered was started (CLOCK_MONOTONIC) */
    /* the tracker's: */
    size_t idx;
    struct tracker_refresh *next;
};

/** Creates a tracker on a borrowed client (must outlive the tracker); nothing runs until tracker_start. */
struct tracker *tracker_new(struct kube_client *client);

/**
 * Tracks the Lease NAMESPACE/NAME; returns its index, stable for the tracker's
 * life.  Idempotent: the same Lease gives the same index.  Callable from any
 * thread, before or after tracker_start.  Returns -1 only when NS or NAME is not
 * a valid Kubernetes name (err filled).
 */
int tracker_track(struct tracker *t, const char *ns, const char *name, char *err, size_t errlen);

/**
 * Stops reading the Lease at IDX (its list or watch ends); tracker_track of the
 * same Lease resumes it with a fresh list.  The index stays valid; its snapshot
 * keeps the last state with tracked = false and watching = false.  Callable
 * from any thread.
 */
void tracker_untrack(struct tracker *t, size_t idx);

/** Index of NAMESPACE/NAME, or -1 when it is not tracked. */
int tracker_find(struct tracker *t, const char *ns, const char *name);

/** Number of Lease indexes (tracked or untracked). */
size_t tracker_count(struct tracker *t);

/** Starts the tracker's thread.  Returns 0, or -1 with err filled. */
int tracker_start(struct tracker *t, char *err, size_t errlen);

/** Stops the thread and waits for it; snapshots already taken stay valid until released. */
void tracker_stop(struct tracker *t);

/** Stops the tracker if running and frees it. */
void tracker_free(struct tracker *t);

/**
 * The current snapshot of Lease IDX: a new reference, never NULL (a Lease
 * not yet listed gives a snapshot with known == false).  Give it back with
 * tracker_release().  Never blocks on I/O.
 */
const struct lease_snapshot *tracker_acquire(struct tracker *t, size_t idx);

/** Drops a reference taken with tracker_acquire. */
void tracker_release(struct tracker *t, const struct lease_snapshot *s);

/**
 * True when every tracked Lease is synced: its current snapshot is known (the one definition of synced,
 * also what leasefence_lease_synced shows).  A Lease that is listed but cannot be decoded is not synced.
 */
bool tracker_all_synced(struct tracker *t);

/** Counters of Lease IDX. */
void tracker_stats(struct tracker *t, size_t idx, struct tracker_stats *out);

/**
 * Reads Lease IDX afresh: a GET of the Lease with resourceVersion unset (a quorum read), started after this
 * call, then RF->done.  Callable from any thread; never blocks on I/O.  Coalesced: one GET per Lease is in
 * flight at a time; the refreshes asked for while one is in flight are answered together by the next, which
 * starts when it ends.  So no refresh is answered by a GET sent before it was asked for.
 *
 * A read that is newer than the watched state (the Lease's resourceVersion is above every revision the
 * watch delivered) also replaces the watched state and is published; an older one never moves it back.
 * RF->snap is the watched snapshot when it holds the record read or a later modification of the same
 * Lease, else a snapshot of the record read (seen now); a Lease that is not found gives exists = false.
 * The GET fails after tracker_set_refresh_timeout's budget; a failed read, or one asked for of a tracker
 * not running (or an unknown IDX), gives RF->snap NULL with RF->err set (then DONE may run on the caller's
 * thread, before tracker_refresh returns).
 */
void tracker_refresh(struct tracker *t, size_t idx, struct tracker_refresh *rf);

/** How long a fresh read may take before it fails (default 1000 ms).  Call before tracker_start. */
void tracker_set_refresh_timeout(struct tracker *t, long ms);

#endif
