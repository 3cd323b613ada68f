#ifndef LEASEFENCE_VWC_H
#define LEASEFENCE_VWC_H
/*
 * The ValidatingWebhookConfiguration kept in step with the fences.  leasefence
 * owns two matchConditions of each webhook in it, by name, and nothing else:
 *   fenced-writers  the union of every fence's writers (users and groups);
 *   not-elections   the exemption of election writes, naming exactly the fenced Leases.
 * A condition that is missing is reported, never added.  Every replica watches
 * the configuration and can say whether it is in step; only the elected one
 * patches it (a JSON patch that tests each owned condition's name and replaces
 * its expression), at most once a second, backing off after failures.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct fencesrc_view;
struct vwc;

/** The names of the two matchConditions leasefence owns. */
#define VWC_FENCED_WRITERS "fenced-writers"
#define VWC_NOT_ELECTIONS  "not-elections"

/** S[0..LEN) as a CEL string literal in single quotes; you own it. */
char *vwc_cel_string(const char *s, size_t len);

/** The fenced-writers expression naming USERS and GROUPS (manifests/base/webhook.yaml's form); you own it. */
char *vwc_fenced_writers(char *const *users, size_t nusers, char *const *groups, size_t ngroups);

/** The not-elections expression naming LEASES ("NS/NAME"); you own it. */
char *vwc_not_elections(char *const *leases, size_t nleases);

/**
 * The JSON patch (a new array) that gives every owned matchCondition of configuration OBJ (borrowed) the
 * expression WRITERS or ELECTIONS, or NULL when all have it already.  PROBLEM gets "" or what cannot be
 * fixed by a patch ("webhook 'x' has no matchCondition 'fenced-writers'"; "no webhook").
 */
json_t *vwc_patch_for(json_t *obj, const char *writers, const char *elections, char *problem, size_t len);

/** How the configuration stands, for metrics and the LeaseFences' conditions. */
struct vwc_state {
    bool known;       /* the configuration has been read */
    bool in_step;     /* every owned condition names what the fences want */
    char error[1400]; /* when not in step: why ("cannot patch ...: 403 Forbidden: ..."); "" otherwise */
    char *writers_expr, *elections_expr; /* the configuration's current expressions (the first webhook's),
                                            NULL when unknown; you own them (vwc_state_release) */
};

/** Frees what vwc_state put in ST. */
void vwc_state_release(struct vwc_state *st);

/**
 * Keeps configuration NAME (borrowed KC outlives it).  WAKE(CTX) is called from the watch thread whenever
 * the configuration changes (to let the caller run vwc_sync).
 */
struct vwc *vwc_new(struct kube_client *kc, const char *name, void (*wake)(void *ctx), void *ctx);

/** Starts watching the configuration.  0 or -1 with ERR. */
int vwc_start(struct vwc *v, char *err, size_t errlen);

/** Ends the watch vwc_start started (its thread is joined); idempotent. */
void vwc_stop(struct vwc *v);

/**
 * Brings the configuration in step with view V when LEADING and the rate limits allow (patching it), or
 * only checks it when not.  NOW_NS is CLOCK_MONOTONIC.  Returns the monotonic time at which it wants to
 * be called again at the latest (0: no hurry).  Not thread-safe: one caller.
 */
int64_t vwc_sync(struct vwc *v, const struct fencesrc_view *view, bool leading, int64_t now_ns);

/** The state after the last vwc_sync; release it with vwc_state_release.  Callable from any thread. */
void vwc_state(struct vwc *v, struct vwc_state *out);

/** Stops watching and frees V; NULL is fine. */
void vwc_free(struct vwc *v);

#endif
