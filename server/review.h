#ifndef LEASEFENCE_REVIEW_H
#define LEASEFENCE_REVIEW_H
/*
 * A decoder for AdmissionReview requests that extracts only the fields the
 * fence decision needs, in one pass over the body, without building a tree.
 * It validates the whole document as JSON (RFC 8259) all the same: invalid
 * JSON anywhere is rejected.  For duplicated object keys the last one wins,
 * as in jansson and Go's encoding/json.
 */
#include <stdbool.h>
#include <stddef.h>

/** Deepest nesting of arrays and objects accepted, the AdmissionReview's own
 *  levels included.  kube-apiserver decodes objects with Go's encoding/json,
 *  which refuses more than 10,000 levels, and sends them a few levels down:
 *  this is a hundred times that.  Costs a bit per level beyond the first 128,
 *  from the allocator (about 250 KiB at the limit), nothing before. */
#define REVIEW_MAX_DEPTH 1000000

/** Most entries accepted in groups and pod names together, and without a want
 *  list in annotations too (duplicate keys included).  Groups and pod names
 *  come from the authenticator, not from the object: this bounds what a
 *  hostile body can make the decoder allocate for them to about 2 MiB. */
#define REVIEW_MAX_ITEMS 65536

/** The userInfo.extra key holding the pod name of a service account token. */
#define REVIEW_POD_NAME_KEY "authentication.kubernetes.io/pod-name"

/** A decoded JSON string: LEN bytes of UTF-8 at PTR, not NUL-terminated.
 *  Points into the body when the string had no escapes, else into memory from
 *  the allocator.  PTR is NULL when the field was absent or JSON null. */
struct review_str {
    const char *ptr;
    size_t len;
};

/** An annotation.  KEY is decoded.  VALUE is decoded too unless ESCAPED:
 *  then it is the string as written in the body between its quotes (already
 *  validated, holding at least one escape), left undecoded because most
 *  annotation values are never read (kubectl's last-applied-configuration is
 *  kilobytes of \" escapes).  Read values through review_kv_value() or
 *  review_annotation(), never VALUE directly. */
struct review_kv {
    struct review_str key, value;
    bool escaped;
};

/** The annotation keys a caller reads: with one, review_decode keeps only
 *  these, so what it allocates for annotations depends on the keys, not on
 *  the body.  Set up by review_want_init; read-only afterwards, so any number
 *  of threads may decode with the same one. */
struct review_want {
    const struct review_str *keys; /* sorted by length, then bytes; distinct */
    size_t nkeys;
    size_t minlen, maxlen; /* of the keys */
};

/** Memory for decoded strings and arrays; must return aligned memory or abort. */
typedef void *(*review_alloc_fn)(void *ctx, size_t size);

enum review_version {
    REVIEW_V1 = 1,  /* admission.k8s.io/v1 */
    REVIEW_V1BETA1, /* admission.k8s.io/v1beta1 */
};

/** The fields of an AdmissionReview request that the decision reads. */
struct review {
    enum review_version version;                            /* from the top-level apiVersion */
    struct review_str uid;                                  /* request.uid */
    struct review_str kind_group, kind_version, kind_kind;  /* request.kind */
    struct review_str res_group, res_version, res_resource; /* request.resource */
    struct review_str sub_resource;                         /* request.subResource */
    struct review_str name, namespace_;                     /* request.name, request.namespace */
    struct review_str operation;          /* request.operation: CREATE UPDATE DELETE CONNECT */
    struct review_str username, user_uid; /* request.userInfo.username, .uid */
    struct review_str *groups;            /* request.userInfo.groups */
    size_t ngroups;
    struct review_str *pod_names; /* request.userInfo.extra["authentication.kubernetes.io/pod-name"] */
    size_t npod_names;
    struct review_kv *annotations; /* request.object.metadata.annotations (string values; see want) */
    size_t nannotations;
    struct review_kv *old_annotations; /* request.oldObject.metadata.annotations */
    size_t nold_annotations;
    bool has_object, has_old_object; /* request.object / oldObject present and not null */
    bool dry_run;                    /* request.dryRun */
    review_alloc_fn alloc;           /* what review_decode was given, for review_kv_value() */
    void *alloc_ctx;
    const struct review_want *want; /* likewise: the annotations kept, NULL for all */
};

/**
 * Sets W up to keep the annotations KEYS[0..N): sorts KEYS in place and drops
 * duplicates.  W borrows KEYS and their bytes, which must outlive W and every
 * review decoded with it (the keys of its annotations point at them).
 */
void review_want_init(struct review_want *w, struct review_str *keys, size_t n);

/**
 * Decodes an AdmissionReview from BUF[0..LEN).  Returns 0 and fills OUT, or
 * -1 with a message in ERR saying what was wrong and where ("invalid JSON at
 * byte 17: expected ':'", "apiVersion 'admission.k8s.io/v2' is not supported",
 * "request.uid is missing").  Requires apiVersion admission.k8s.io/v1 or
 * v1beta1, kind AdmissionReview, a request object and a non-empty uid.
 * A field we read holding the wrong JSON type is an error naming it
 * ("request.userInfo.groups must be an array of strings"); JSON null reads as
 * absent, and as "" inside groups, pod names and annotation values.  Fields
 * we do not read may hold anything.  Strings may contain NUL ("\u0000" is
 * accepted, as Go's encoding/json does): use the lengths.  Byte offsets in
 * messages count from 0.  OUT is written only on success; ERR is always
 * NUL-terminated.
 *
 * With WANT (from review_want_init), only the annotations with one of its keys
 * are kept, any number of others validated and dropped; WANT must outlive OUT.
 * With WANT NULL, all are kept, and count towards REVIEW_MAX_ITEMS.  Every
 * annotation value is checked to be a string or null either way.
 *
 * Memory comes from ALLOC(CTX, size) and is never freed by the decoder:
 * the escaped strings it decodes (at most their length), 250 KiB at most for
 * deep nesting (REVIEW_MAX_DEPTH), and for groups, pod names and annotations
 * about 5 MiB at most without WANT; with WANT, about 2 MiB for groups and pod
 * names (REVIEW_MAX_ITEMS) and, for annotations, 112 bytes a wanted key and
 * 6 times the longest, whatever the body holds.  No global state: any number
 * of threads may decode at once.
 */
int review_decode(struct review *out, const char *buf, size_t len, const struct review_want *want,
                  review_alloc_fn alloc, void *ctx, char *err, size_t errlen);

/**
 * The value of annotation KV of R, decoded: KV->value itself when it holds no
 * escapes, else decoded into memory from the allocator R was decoded with
 * (so it lives as long as R's strings).  Each call for an escaped value
 * decodes and allocates anew.
 */
struct review_str review_kv_value(const struct review *r, const struct review_kv *kv);

/**
 * The decoded value of annotation KEY (NUL-terminated) of request.oldObject
 * when OLD, else of request.object; ptr NULL when there is no such
 * annotation.  For duplicated keys, the last value, as review_decode keeps.
 * When R was decoded with a want list, KEY must be in it: asking for another
 * is a bug that would read a present annotation as absent, so it aborts.
 */
struct review_str review_annotation(const struct review *r, bool old, const char *key);

/** True when S holds exactly the NUL-terminated string LIT. */
static inline bool review_str_eq(struct review_str s, const char *lit)
{
    size_t i = 0;
    if (s.ptr == NULL)
        return false;
    for (; i < s.len; i++)
        if (lit[i] == '\0' || lit[i] != s.ptr[i])
            return false;
    return lit[i] == '\0';
}

#endif
