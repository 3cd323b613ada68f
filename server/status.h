#ifndef LEASEFENCE_STATUS_H
#define LEASEFENCE_STATUS_H
/*
 * Each LeaseFence's status, written by the elected replica (leader.h): the
 * Lease's holder and epoch, observedGeneration, the Ready condition (with a
 * reason when false) and the writes allowed and failed in the last 10
 * minutes.  A status is written only when it differs from the stored one, at
 * most once a second per object (and only once a minute when just the counts
 * changed), at most STATUS_MAX_WRITES per pass; what is written is what the
 * next read must show, so a write never causes another.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct kube_client;
struct tracker;
struct lease_snapshot;
struct fencesrc_object;
struct fencesrc_view;
struct vwc_state;
struct status;

/** Status writes of one pass at most; the rest wait for the next (a second later). */
#define STATUS_MAX_WRITES 20

/** The counts cover this long. */
#define STATUS_COUNT_WINDOW_S 600

/** Why the fence is (not) ready. */
struct status_ready {
    bool ready;
    const char *reason; /* static: "Fencing", "InvalidSpec", "LeaseNotFound", ... */
    char message[1024];
};

/**
 * The Ready condition of object O whose Lease is SNAP (NULL: not tracked) at NOW_MONO_NS, with the webhook
 * configuration VS (NULL when leasefence does not keep one).  Pure.
 */
void status_ready(const struct fencesrc_object *o, const struct lease_snapshot *snap,
                  const struct vwc_state *vs, int64_t now_mono_ns, int64_t max_skew_ns,
                  struct status_ready *out);

/**
 * The status object for O (new): holder and epoch from SNAP, observedGeneration, Ready from R with its
 * lastTransitionTime kept from O's stored status while the condition's status stays (else NOW_RFC3339),
 * and the counts ALLOWED and DENIED.  Pure.
 */
json_t *status_object(const struct fencesrc_object *o, const struct lease_snapshot *snap,
                      const struct status_ready *r, uint64_t allowed, uint64_t denied,
                      const char *now_rfc3339);

/** A status writer; KC and T are borrowed. */
struct status *status_new(struct kube_client *kc, struct tracker *t, int64_t max_skew_ns);

/**
 * Writes the status of the objects of V that need it (see above).  VS as for status_ready.  Returns when it
 * wants to run again at the latest (monotonic ns; 0: no hurry).  One caller.
 */
int64_t status_sync(struct status *s, const struct fencesrc_view *v, const struct vwc_state *vs,
                    int64_t now_ns);

/** Frees S; NULL is fine. */
void status_free(struct status *s);

#endif
