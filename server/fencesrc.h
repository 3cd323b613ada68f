#ifndef LEASEFENCE_FENCESRC_H
#define LEASEFENCE_FENCESRC_H
/*
 * Where the fences come from: LeaseFence objects (leasefence.io/v1alpha1,
 * watched in every namespace) and the optional --config file, merged into one
 * fence table.  Each LeaseFence becomes a --config fence ("lease" NS/LEASE,
 * serviceAccounts as users system:serviceaccount:NS:NAME, identity annotation
 * with identityAnnotation as {"annotation": KEY}, every other field as is),
 * checked by config_parse, the one validator.  Whenever either source changes
 * a new table is built and handed to the publisher with a view of what became
 * of each object.
 *
 * A LeaseFence whose Lease the --config file fences too is a conflict: both
 * fences stay in the table (every fence naming a writer is weighed, as
 * always), nothing is guessed, and the object is reported as conflicting.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct kube_client;
struct fencesrc;

/** What became of one LeaseFence. */
enum fencesrc_state {
    FENCESRC_FENCING,   /* in the table */
    FENCESRC_INVALID,   /* refused by the validator: not in the table */
    FENCESRC_FORBIDDEN, /* names a writer outside its namespace (see any_writer): not in the table */
    FENCESRC_CONFLICT,  /* in the table, and the --config file fences the same Lease */
};

struct fencesrc_object {
    char *ns, *name, *uid;
    char *lease; /* "NS/LEASE" ("NS/" when the spec has none) */
    int64_t generation;
    json_t *status; /* the object's .status as last read (a reference of the view), NULL when none */
    json_t *config; /* its --config fence ({"lease", "writers": {"users", "groups"}, ...}; the view's) */
    enum fencesrc_state state;
    char *message; /* why, for every state but FENCING: "spec.mode: must be one of enforce, warn, audit" */
    int fence;     /* its index in the table, -1 when not in it */
    int lease_idx; /* the tracker's index of its Lease, -1 until the publisher sets it */
};

/** One build's outcome, immutable once published (reference-counted: fencesrc_view_ref / _release). */
struct fencesrc_view {
    struct fencesrc_object *objects; /* sorted by namespace, then name */
    size_t nobjects;
    /* every writer and Lease of the table, sorted, each once: what the webhook configuration must name */
    char **users, **groups, **leases; /* leases as "NS/NAME" */
    size_t nusers, ngroups, nleases;
    size_t nfile; /* fences from the --config file (the table's first ones) */
    bool synced;  /* the LeaseFences have been listed (or the API server serves none) */
    uint64_t gen; /* one more per build */
    atomic_int refs;
};

/**
 * Builds the table of the --config fences FILE_FENCES (the file's "fences" array, borrowed; NULL: no file,
 * FILE_NAME used in messages) and the LeaseFence objects OBJS[0..N) (borrowed, sorted by namespace then
 * name), with what became of each object in a new view *VIEW (refs 1).  ANY_WRITER false refuses a
 * LeaseFence that names users or groups other than its namespace's service accounts
 * (system:serviceaccount:NS:*, system:serviceaccounts:NS).  The table's warnings name objects as
 * "LeaseFence NS/NAME".  Returns a new table, or NULL with ERR filled (then *VIEW is NULL).
 */
struct fence_table *fencesrc_build(json_t *file_fences, const char *file_name, json_t *const *objs, size_t n,
                                   bool any_writer, struct fencesrc_view **view, char *err, size_t errlen);

/** Adds a reference to V. */
struct fencesrc_view *fencesrc_view_ref(struct fencesrc_view *v);

/** Drops a reference to V, freeing it with the last; NULL is fine. */
void fencesrc_view_release(struct fencesrc_view *v);

/**
 * Hands a new table T (yours to keep and free) and view V (a new reference) over.  Called with the source's
 * lock held, so calls never overlap: from fencesrc_load_file's caller or from the LeaseFence watch thread.
 */
typedef void (*fencesrc_publish_fn)(void *ctx, struct fence_table *t, struct fencesrc_view *v);

struct fencesrc_options {
    struct kube_client *kube; /* NULL: no LeaseFence objects, the file alone */
    bool any_writer;          /* --leasefence-writers=any */
    fencesrc_publish_fn publish;
    void *ctx;
};

/** A source with no fences yet; O is copied. */
struct fencesrc *fencesrc_new(const struct fencesrc_options *o);

/**
 * Reads and validates the --config file PATH and, when it is valid, makes its fences the file part of the
 * table and publishes a new table.  0, or -1 with ERR filled (config_parse's message) and the previous file
 * part kept.
 */
int fencesrc_load_file(struct fencesrc *s, const char *path, char *err, size_t errlen);

/** Publishes the table of what is known now (the file part, no objects yet), even before the watch starts. */
int fencesrc_publish(struct fencesrc *s, char *err, size_t errlen);

/** Starts watching LeaseFences in every namespace (nothing when o->kube is NULL).  0 or -1 with ERR. */
int fencesrc_start(struct fencesrc *s, char *err, size_t errlen);

/** Stops the watch; the source may still be asked, and freed. */
void fencesrc_stop(struct fencesrc *s);

/** Stops and frees S; NULL is fine. */
void fencesrc_free(struct fencesrc *s);

/** True once the LeaseFences have been listed, or the API server answered that it serves none (no CRD). */
bool fencesrc_synced(struct fencesrc *s);

/** For the readiness probe: "" when synced, else why not ("cannot list leasefences: 403 Forbidden: ..."). */
void fencesrc_why_not_synced(struct fencesrc *s, char *buf, size_t len);

#endif
