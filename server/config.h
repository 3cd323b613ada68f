#ifndef LEASEFENCE_CONFIG_H
#define LEASEFENCE_CONFIG_H
/*
 * The fence configuration (--config): which writers are fenced by which
 * Lease, how their replica identity is read, and what a failed check does.
 *
 *   {"fences": [{"lease": "demo/controller-leader",
 *                "writers": {"users": ["system:serviceaccount:demo:controller"], "groups": []},
 *                "identity": "podName" | "username" | {"annotation": "KEY"},
 *                "holderMatch": "hostname" | "exact",
 *                "mode": "enforce" | "warn" | "audit",
 *                "epochAnnotation": "KEY",
 *                "consistency": "watch" | "strict"}]}
 *
 * identity defaults to "podName", mode to "enforce", holderMatch to
 * "hostname" for podName and "exact" otherwise, consistency to "watch";
 * epochAnnotation is optional.
 * A user or group may be a writer of several fences: every fence naming a
 * writer is weighed (config_parse lists such overlaps as warnings).  Loaded
 * tables are immutable: a reload builds a new one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "review.h"

enum fence_mode { FENCE_ENFORCE, FENCE_WARN, FENCE_AUDIT };
enum fence_identity { IDENTITY_POD_NAME, IDENTITY_USERNAME, IDENTITY_ANNOTATION };
/* How the writer's identity is compared with spec.holderIdentity: EXACT equal; HOSTNAME equal, or the
 * holder is the identity + '_' + anything (client-go's default identity "<hostname>_<uuid>"). */
enum fence_holder_match { HOLDER_MATCH_EXACT, HOLDER_MATCH_HOSTNAME };
/* Which Lease record allows a write: WATCH the tracker's watched snapshot; STRICT also a record read from the
 * API server after the review arrived (a check that passes on the watched snapshot is made again on it). */
enum fence_consistency { CONSISTENCY_WATCH, CONSISTENCY_STRICT };

struct fence {
    char *lease; /* "NS/NAME" */
    char *ns, *name;
    enum fence_identity identity;
    char *identity_annotation; /* IDENTITY_ANNOTATION only, else NULL */
    enum fence_holder_match holder_match;
    enum fence_mode mode;
    char *epoch_annotation; /* NULL when the fence has no epoch tag */
    enum fence_consistency consistency;
    int lease_idx; /* the tracker's index of the Lease; -1 until the server binds it */
};

struct fence_table {
    struct fence *fences;
    size_t nfences;
    /* open-addressing hash tables, name -> fence indexes; sizes are powers of two */
    struct config_slot *users, *groups, *leases;
    size_t users_cap, groups_cap, leases_cap;
    const char **annotation_keys; /* every identity and epoch annotation key, each once */
    size_t nannotation_keys;
    struct review_want want; /* those keys, for review_decode: the only annotations a decision reads */
    struct review_str *want_keys;
    char *
        *warnings; /* things that are valid but likely not meant ("fences[0] and fences[2] both name ...") */
    size_t nwarnings;
};

/**
 * Parses and validates the configuration TEXT[0..LEN) read from NAME (used in
 * messages only).  Returns a new table (free with config_free), or NULL with
 * ERR filled: "config 'NAME': fences[1].mode: must be one of enforce, warn, audit".
 */
struct fence_table *config_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);

/**
 * Reads the configuration file PATH (at most 4 MiB) into a new buffer (you own it; *LEN bytes), or NULL
 * with ERR filled: "config 'PATH': cannot open: No such file or directory".
 */
char *config_read(const char *path, size_t *len, char *err, size_t errlen);

/** Reads PATH and parses it with config_parse. */
struct fence_table *config_load(const char *path, char *err, size_t errlen);

/** Frees T and everything in it; NULL is fine. */
void config_free(struct fence_table *t);

/**
 * The fences naming user NAME[0..LEN) as a writer: returns how many, with
 * their indexes (ascending, borrowed from T) in *IDX; 0 when none.  Cost
 * independent of the number of fences.
 */
size_t config_find_user(const struct fence_table *t, const char *name, size_t len, const int **idx);

/** The same for group NAME[0..LEN). */
size_t config_find_group(const struct fence_table *t, const char *name, size_t len, const int **idx);

/** True when some fence watches the Lease NS/NAME (an election, exempt from fencing). */
bool config_is_fenced_lease(const struct fence_table *t, const char *ns, size_t nslen, const char *name,
                            size_t namelen);

/**
 * Parses a command-line duration in milliseconds, in the one duration grammar (lf_duration_parse, Go's:
 * "10s", "500ms", "1m30s", "1.5m"; a bare number other than 0 is refused).  At most 24 h; fractions of a
 * millisecond are dropped.  0, or -1 with ERR ("invalid duration '3': missing unit") when S is not one.
 */
int config_parse_duration_ms(const char *s, int64_t *out_ms, char *err, size_t errlen);

/** "hostname" or "exact". */
const char *config_holder_match_name(enum fence_holder_match m);

/** "enforce", "warn" or "audit". */
const char *config_mode_name(enum fence_mode m);

/** "watch" or "strict". */
const char *config_consistency_name(enum fence_consistency c);

#endif
