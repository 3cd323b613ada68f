#ifndef LEASEFENCE_CANDIDATE_H
#define LEASEFENCE_CANDIDATE_H
/*
 * One candidate in a Lease election, with client-go's rules (leaderelection.go):
 * create on 404; expiry by the local monotonic time the record was last seen
 * to change plus the holder's leaseDurationSeconds; leaseTransitions +1 only on
 * takeover; a 409 is a lost race; jittered retries (factor 1.2); a renewal that
 * cannot succeed within the renew deadline stops leading.  A candidate never
 * believes it leads without a successful write.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

struct candidate;

/** client-go's JitterFactor for the acquire loop. */
#define CANDIDATE_JITTER 1.2

/** Callbacks run on the candidate's thread (the one in candidate_run). */
struct candidate_callbacks {
    void (*started_leading)(void *ctx, const char *epoch); /* epoch "<uid>/<transitions>" */
    void (*stopped_leading)(void *ctx);
    /* HOLDER_LEN bytes at HOLDER (NUL-terminated, but may hold NUL bytes before): "" (released), ourselves,
     * or another */
    void (*new_leader)(void *ctx, const char *holder, size_t holder_len);
    void *ctx;
};

struct candidate_config {
    const char *ns, *name, *identity; /* copied by candidate_new; identity must be valid UTF-8 */
    int64_t lease_duration_ns;        /* default 15 s; written in whole seconds, like client-go */
    int64_t renew_deadline_ns;        /* default 10 s */
    int64_t retry_period_ns;          /* default 2 s */
    bool release_on_cancel;           /* default true via candidate_config_init */
    struct candidate_callbacks cb;
};

/** Fills CFG with the defaults (15 s / 10 s / 2 s, release on cancel). */
void candidate_config_init(struct candidate_config *cfg);

/** Checks names (the namespace an RFC 1123 label, the name an RFC 1123 subdomain, as the API server does)
 * and identity (non-empty, valid UTF-8), lease duration >= 1 s, lease duration > renew
 * deadline > 1.2 x retry period > 0.  0 or -1 with ERR. */
int candidate_config_validate(const struct candidate_config *cfg, char *err, size_t errlen);

/**
 * Parses a duration for the fields above in Go's grammar ("500ms", "2s", "1m30s", "1.5s"; units ns us µs ms
 * s m h; a bare number other than 0 is refused) into nanoseconds.  0 or -1.
 */
int candidate_parse_duration(const char *s, int64_t *ns);

/** A candidate on a borrowed CLIENT (client.h; it must outlive the candidate); CFG is copied.  NULL with ERR
 * if CFG is invalid. */
struct candidate *candidate_new(struct kube_client *client, const struct candidate_config *cfg, char *err,
                                size_t errlen);

/** Frees the candidate; candidate_run must have returned. */
void candidate_free(struct candidate *c);

/**
 * Runs the election until candidate_cancel: acquire, renew while leading,
 * back to acquiring after a loss.  A term ends when a renewal cannot succeed
 * within the renew deadline, at once when a renewal finds another holder (or
 * none) in the Lease (no later write could keep the term's epoch), and when a
 * renewal's write moves the epoch (the Lease was released or re-created under
 * us and we took it again: stopped leading, then started leading with the new
 * epoch).  On cancel while leading: stopped leading, then release
 * (holderIdentity "", leaseDurationSeconds 1, transitions kept).  Returns 0.
 */
int candidate_run(struct candidate *c);

/** Asks candidate_run to return; callable from any thread (not from a signal handler). */
void candidate_cancel(struct candidate *c);

/** What the candidate knows now, for status pages. */
struct candidate_status {
    /* client-go's IsLeader (the observed record's holderIdentity is our identity), and only within a term
     * (between started and stopped leading) while the lease of our last successful write has not expired
     * on our monotonic clock (a process resumed from a long pause does not claim a lease it may have lost) */
    bool leading;
    char *holder; /* last observed holderIdentity, "" before any; holder_len bytes, may hold NUL bytes */
    size_t holder_len;
    char epoch[320]; /* while leading, the term's epoch "<uid>/<transitions>" (what started leading announced
                        and the command got as LEASEFENCE_EPOCH); "" otherwise: never an epoch not held */
};

/** Fills OUT with the status now; free it with candidate_status_release.  Callable from any thread. */
void candidate_status(struct candidate *c, struct candidate_status *out);

/** Frees what candidate_status put in ST. */
void candidate_status_release(struct candidate_status *st);

#endif
