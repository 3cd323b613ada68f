#ifndef LEASEFENCE_TESTING_H
#define LEASEFENCE_TESTING_H
/*
 * Internal to the elector library (never installed): the hooks its unit tests drive the candidate and the
 * tracker with, and the steps candidate_run is made of.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "candidate.h"
#include "tracker.h"

/** Lease I/O and clocks, replaceable for tests; the default is kube_lease_* and the real clocks. */
struct candidate_ops {
    int (*get)(void *ctx, const char *ns, const char *name, long timeout_ms, json_t **out, char *err,
               size_t errlen);
    int (*create)(void *ctx, const char *ns, json_t *obj, long timeout_ms, json_t **out, char *err,
                  size_t errlen);
    int (*update)(void *ctx, const char *ns, const char *name, json_t *obj, long timeout_ms, json_t **out,
                  char *err, size_t errlen);
    int64_t (*mono_ns)(void *ctx);
    int64_t (*wall_us)(void *ctx);
    void *ctx;
};

/** A candidate whose Lease I/O and clocks are OPS (copied); otherwise as candidate_new. */
struct candidate *candidate_new_ops(const struct candidate_config *cfg, const struct candidate_ops *ops,
                                    char *err, size_t errlen);

/**
 * One tryAcquireOrRenew step at the ops' current time (what candidate_run
 * repeats).  Returns true when this candidate holds the Lease after a
 * successful write.  For tests.
 */
bool candidate_try(struct candidate *c);

/** Releases the Lease if we hold it (for tests and candidate_run).  True on success or when not held. */
bool candidate_release(struct candidate *c);

/**
 * Watches ask the server for a timeoutSeconds drawn from [SECONDS, 1.5 x
 * SECONDS] (default 30) and are abandoned (and the Lease relisted) when
 * nothing came for that long plus MARGIN_S (default 10).  Call before
 * tracker_start; for tests.
 */
void tracker_set_watch_timeout(struct tracker *t, int seconds, int margin_s);

/**
 * A namespace's list is given up when no byte of it came for SILENCE_S seconds (default 10), or when it is
 * still coming after MAX_S (default 600).  Call before tracker_start; for tests.
 */
void tracker_set_list_timeouts(struct tracker *t, int silence_s, int max_s);

#endif
