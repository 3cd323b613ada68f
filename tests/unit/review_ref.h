#ifndef LEASEFENCE_REVIEW_REF_H
#define LEASEFENCE_REVIEW_REF_H
/*
 * The differential oracle for server/review.c, shared by
 * tests/unit/test_review_diff.c and tests/fuzz/fuzz_review.c: the same
 * AdmissionReview rules written a second time over a full jansson tree, and a
 * comparison of review_decode against it.
 *
 * Where we differ from jansson on purpose:
 * - "\u0000" inside strings: jansson refuses it unless JSON_ALLOW_NUL; Go's
 *   encoding/json (kube-apiserver's encoder) produces and accepts it, so we
 *   accept it.  When jansson's flags-0 load fails with
 *   json_error_null_character the oracle reloads with JSON_ALLOW_NUL.
 *   jansson never accepts a NUL in an object key (json_error_null_byte_in_key);
 *   those inputs are EXCLUDED (we accept them, jansson has no answer).
 * - Numbers: jansson refuses integers beyond int64 and reals beyond double
 *   (json_error_numeric_overflow); RFC 8259 and Go do not: EXCLUDED.
 * - Nesting: jansson refuses more than 2048 values deep
 *   (JSON_PARSER_MAX_DEPTH, json_error_stack_overflow); we accept up to
 *   REVIEW_MAX_DEPTH (1,000,000) nested containers, as kube-apiserver sends
 *   objects up to Go's 10,000.  jansson has no answer for such a document
 *   (verdict REF_TOO_DEEP, stat too_deep): the oracle only checks that we
 *   refuse it with our "nesting deeper than" error exactly when its nesting,
 *   counted on the raw bytes, goes over REVIEW_MAX_DEPTH.  test_review_diff
 *   compares the fields of deep documents with jansson's reading of the same
 *   document made shallow.
 * - Raw NUL bytes after a literal or a number: jansson's stream ungets the
 *   byte after a token and loses a NUL there (stream_get takes a NUL in its
 *   buffer for "empty"), so it accepts {"a":null\0}.  That is not JSON (Go
 *   refuses it too); we refuse it.  When jansson accepts a document holding
 *   raw NUL bytes, the oracle expects our syntax error at a NUL byte, then
 *   compares the document with its NUL bytes removed (stat nul_quirk).
 * Everything else must agree: accepted iff jansson accepts, the same field
 * error message when the JSON is valid, every field equal.
 *
 * Each document is decoded a second time with a want list (review_want):
 * the same answer, the same error, the same fields, and of the annotations
 * exactly the wanted ones with jansson's values.  Only REVIEW_MAX_ITEMS
 * differs on purpose: annotations do not count towards it with a want list.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "review.h"

#define STR_REF_(x) #x
#define STR_REF(x)  STR_REF_(x)

/* ---- memory: every block recorded, freed after each decode ---- */
struct ref_arena {
    void **blocks;
    size_t n, cap;
};

static void *ref_arena_alloc(void *ctx, size_t size)
{
    struct ref_arena *a = ctx;
    void *p;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->blocks = realloc(a->blocks, a->cap * sizeof(*a->blocks));
        if (a->blocks == NULL)
            abort();
    }
    p = malloc(size ? size : 1);
    if (p == NULL)
        abort();
    a->blocks[a->n++] = p;
    return p;
}

static void ref_arena_clear(struct ref_arena *a)
{
    size_t i;
    for (i = 0; i < a->n; i++)
        free(a->blocks[i]);
    a->n = 0;
}

static void ref_arena_release(struct ref_arena *a)
{
    ref_arena_clear(a);
    free(a->blocks);
    a->blocks = NULL;
    a->cap = 0;
}

/* ---- the oracle ---- */
enum ref_verdict { REF_ACCEPT, REF_REJECT_JSON, REF_REJECT_FIELDS, REF_EXCLUDED, REF_TOO_DEEP };

struct ref_result {
    enum ref_verdict verdict;
    char msg[256]; /* REF_REJECT_FIELDS: the message review_decode must give */
    json_t *root;  /* REF_ACCEPT: the tree (owned) */
};

/* Wrong-type bits, in the order of server/review.c's enum field. */
static const char *const ref_fields[][2] = {
    {"apiVersion", "a string"},
    {"kind", "a string"},
    {"request", "an object"},
    {"request.uid", "a string"},
    {"request.kind", "an object"},
    {"request.kind.group", "a string"},
    {"request.kind.version", "a string"},
    {"request.kind.kind", "a string"},
    {"request.resource", "an object"},
    {"request.resource.group", "a string"},
    {"request.resource.version", "a string"},
    {"request.resource.resource", "a string"},
    {"request.subResource", "a string"},
    {"request.name", "a string"},
    {"request.namespace", "a string"},
    {"request.operation", "a string"},
    {"request.userInfo", "an object"},
    {"request.userInfo.username", "a string"},
    {"request.userInfo.uid", "a string"},
    {"request.userInfo.groups", "an array of strings"},
    {"request.userInfo.extra", "an object"},
    {"request.userInfo.extra[\"" REVIEW_POD_NAME_KEY "\"]", "an array of strings"},
    {"request.object", "an object"},
    {"request.object.metadata", "an object"},
    {"request.object.metadata.annotations", "an object of strings"},
    {"request.oldObject", "an object"},
    {"request.oldObject.metadata", "an object"},
    {"request.oldObject.metadata.annotations", "an object of strings"},
    {"request.dryRun", "a boolean"},
};
enum {
    R_API_VERSION,
    R_KIND,
    R_REQUEST,
    R_UID,
    R_RKIND,
    R_RES = R_RKIND + 4,
    R_SUB_RESOURCE = R_RES + 4,
    R_NAME,
    R_NAMESPACE,
    R_OPERATION,
    R_USER_INFO,
    R_USERNAME,
    R_USER_UID,
    R_GROUPS,
    R_EXTRA,
    R_POD_NAMES,
    R_OBJECT,
    R_OLD = R_OBJECT + 3,
    R_DRY_RUN = R_OLD + 3,
};

/* The value at KEY of object O if O is an object, else NULL. */
static json_t *ref_get(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static void ref_type(uint64_t *bad, int f, const json_t *v, int (*ok)(const json_t *))
{
    if (v != NULL && !json_is_null(v) && !ok(v))
        *bad |= UINT64_C(1) << f;
}

static int ref_is_string(const json_t *v)
{
    return json_is_string(v);
}

static int ref_is_object(const json_t *v)
{
    return json_is_object(v);
}

static int ref_is_bool(const json_t *v)
{
    return json_is_boolean(v);
}

static int ref_is_strings(const json_t *v)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) && !json_is_null(e))
            return 0;
    }
    return 1;
}

static int ref_is_string_map(const json_t *v)
{
    const char *k;
    json_t *e;
    if (!json_is_object(v))
        return 0;
    json_object_foreach((json_t *)v, k, e)
    {
        if (!json_is_string(e) && !json_is_null(e))
            return 0;
    }
    return 1;
}

static void ref_quote(char *dst, size_t size, const json_t *s)
{
    size_t i, len = json_string_length(s), n = len < 64 ? len : 64, o = 0;
    const char *p = json_string_value(s);
    for (i = 0; i < n && o + 4 < size; i++) {
        unsigned char c = (unsigned char)p[i];
        dst[o++] = c >= 0x20 && c < 0x7F && c != '\'' ? (char)c : '?';
    }
    if (n < len && o + 4 < size) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

static int ref_str_is(const json_t *s, const char *lit)
{
    return json_is_string(s) && json_string_length(s) == strlen(lit) &&
           memcmp(json_string_value(s), lit, strlen(lit)) == 0;
}

/* The field errors of a valid JSON document, in review_decode's order. */
static int ref_fields_check(const json_t *root, char *msg, size_t size)
{
    uint64_t bad = 0;
    const json_t *req, *ui, *extra, *o, *m, *api, *kind, *uid;
    char q[80];
    int i;
    if (!json_is_object(root)) {
        snprintf(msg, size, "an AdmissionReview must be a JSON object");
        return -1;
    }
    api = ref_get(root, "apiVersion");
    kind = ref_get(root, "kind");
    req = ref_get(root, "request");
    ref_type(&bad, R_API_VERSION, api, ref_is_string);
    ref_type(&bad, R_KIND, kind, ref_is_string);
    ref_type(&bad, R_REQUEST, req, ref_is_object);
    uid = ref_get(req, "uid");
    ref_type(&bad, R_UID, uid, ref_is_string);
    o = ref_get(req, "kind");
    ref_type(&bad, R_RKIND, o, ref_is_object);
    ref_type(&bad, R_RKIND + 1, ref_get(o, "group"), ref_is_string);
    ref_type(&bad, R_RKIND + 2, ref_get(o, "version"), ref_is_string);
    ref_type(&bad, R_RKIND + 3, ref_get(o, "kind"), ref_is_string);
    o = ref_get(req, "resource");
    ref_type(&bad, R_RES, o, ref_is_object);
    ref_type(&bad, R_RES + 1, ref_get(o, "group"), ref_is_string);
    ref_type(&bad, R_RES + 2, ref_get(o, "version"), ref_is_string);
    ref_type(&bad, R_RES + 3, ref_get(o, "resource"), ref_is_string);
    ref_type(&bad, R_SUB_RESOURCE, ref_get(req, "subResource"), ref_is_string);
    ref_type(&bad, R_NAME, ref_get(req, "name"), ref_is_string);
    ref_type(&bad, R_NAMESPACE, ref_get(req, "namespace"), ref_is_string);
    ref_type(&bad, R_OPERATION, ref_get(req, "operation"), ref_is_string);
    ui = ref_get(req, "userInfo");
    ref_type(&bad, R_USER_INFO, ui, ref_is_object);
    ref_type(&bad, R_USERNAME, ref_get(ui, "username"), ref_is_string);
    ref_type(&bad, R_USER_UID, ref_get(ui, "uid"), ref_is_string);
    ref_type(&bad, R_GROUPS, ref_get(ui, "groups"), ref_is_strings);
    extra = ref_get(ui, "extra");
    ref_type(&bad, R_EXTRA, extra, ref_is_object);
    ref_type(&bad, R_POD_NAMES, ref_get(extra, REVIEW_POD_NAME_KEY), ref_is_strings);
    for (i = 0; i < 2; i++) {
        int f = i ? R_OLD : R_OBJECT;
        o = ref_get(req, i ? "oldObject" : "object");
        ref_type(&bad, f, o, ref_is_object);
        m = ref_get(o, "metadata");
        ref_type(&bad, f + 1, m, ref_is_object);
        ref_type(&bad, f + 2, ref_get(m, "annotations"), ref_is_string_map);
    }
    ref_type(&bad, R_DRY_RUN, ref_get(req, "dryRun"), ref_is_bool);

    if (bad & 1)
        goto bad_type;
    if (api == NULL || json_is_null(api))
        return snprintf(msg, size, "apiVersion is missing"), -1;
    if (!ref_str_is(api, "admission.k8s.io/v1") && !ref_str_is(api, "admission.k8s.io/v1beta1")) {
        ref_quote(q, sizeof(q), api);
        return snprintf(msg, size, "apiVersion '%s' is not supported", q), -1;
    }
    if (bad & 2)
        goto bad_type;
    if (kind == NULL || json_is_null(kind))
        return snprintf(msg, size, "kind is missing"), -1;
    if (!ref_str_is(kind, "AdmissionReview")) {
        ref_quote(q, sizeof(q), kind);
        return snprintf(msg, size, "kind '%s' is not AdmissionReview", q), -1;
    }
    if (bad & 4)
        goto bad_type;
    if (req == NULL || json_is_null(req))
        return snprintf(msg, size, "request is missing"), -1;
    if (bad & 8)
        goto bad_type;
    if (uid == NULL || json_is_null(uid))
        return snprintf(msg, size, "request.uid is missing"), -1;
    if (json_string_length(uid) == 0)
        return snprintf(msg, size, "request.uid is empty"), -1;
bad_type:
    if (bad) {
        i = __builtin_ctzll(bad);
        snprintf(msg, size, "%s must be %s", ref_fields[i][0], ref_fields[i][1]);
        return -1;
    }
    return 0;
}

static void ref_run(struct ref_result *r, const char *buf, size_t len)
{
    json_error_t e;
    memset(r, 0, sizeof(*r));
    r->root = json_loadb(buf, len, 0, &e);
    if (r->root == NULL && json_error_code(&e) == json_error_null_character)
        r->root = json_loadb(buf, len, JSON_ALLOW_NUL, &e);
    if (r->root == NULL) {
        enum json_error_code c = json_error_code(&e);
        r->verdict = c == json_error_null_byte_in_key || c == json_error_numeric_overflow ? REF_EXCLUDED
                     : c == json_error_stack_overflow                                     ? REF_TOO_DEEP
                                                                                          : REF_REJECT_JSON;
        snprintf(r->msg, sizeof(r->msg), "jansson: %s (byte %d)", e.text, e.position);
        return;
    }
    if (ref_fields_check(r->root, r->msg, sizeof(r->msg)) < 0) {
        r->verdict = REF_REJECT_FIELDS;
        return;
    }
    r->verdict = REF_ACCEPT;
}

/* ---- comparison of the extracted fields ---- */
static int ref_str_eq(struct review_str s, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return s.ptr == NULL;
    return s.ptr != NULL && s.len == json_string_length(v) && memcmp(s.ptr, json_string_value(v), s.len) == 0;
}

static int ref_strs_eq(const struct review_str *a, size_t n, const json_t *v)
{
    size_t i;
    if (v == NULL || json_is_null(v))
        return n == 0 && a == NULL;
    if (json_array_size(v) != n)
        return 0;
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (json_is_null(e)) {
            if (a[i].ptr == NULL || a[i].len != 0)
                return 0;
        } else if (!ref_str_eq(a[i], e)) {
            return 0;
        }
    }
    return 1;
}

/* Whether W (NULL: all) holds KEY. */
static int ref_wanted(const struct review_want *w, const char *key, size_t len)
{
    size_t i;
    if (w == NULL)
        return 1;
    for (i = 0; i < w->nkeys; i++)
        if (w->keys[i].len == len && memcmp(w->keys[i].ptr, key, len) == 0)
            return 1;
    return 0;
}

/* Values are compared as review_kv_value() decodes them, the way decide.c
 * reads them; an escaped value must also really hold an escape.  With a
 * want list W, only the wanted keys of V. */
static int ref_kvs_eq(const struct review *r, const struct review_kv *a, size_t n, const json_t *v,
                      const struct review_want *w)
{
    size_t i, j, nv = 0;
    const char *k;
    json_t *e;
    if (v == NULL || json_is_null(v))
        return n == 0 && a == NULL;
    json_object_foreach((json_t *)v, k, e)
    {
        nv += ref_wanted(w, k, strlen(k));
    }
    if (nv != n || (n == 0) != (a == NULL))
        return 0;
    for (i = 0; i < n; i++) {
        char key[4096];
        if (a[i].key.ptr == NULL || a[i].key.len >= sizeof(key) || memchr(a[i].key.ptr, '\0', a[i].key.len))
            return 0;
        for (j = 0; j < i; j++)
            if (a[j].key.len == a[i].key.len && memcmp(a[j].key.ptr, a[i].key.ptr, a[i].key.len) == 0)
                return 0;
        if (!ref_wanted(w, a[i].key.ptr, a[i].key.len))
            return 0;
        memcpy(key, a[i].key.ptr, a[i].key.len);
        key[a[i].key.len] = '\0';
        e = json_object_get(v, key);
        if (e == NULL)
            return 0;
        if (a[i].escaped && (json_is_null(e) || memchr(a[i].value.ptr, '\\', a[i].value.len) == NULL))
            return 0;
        if (json_is_null(e) ? (a[i].value.ptr == NULL || a[i].value.len != 0)
                            : !ref_str_eq(review_kv_value(r, &a[i]), e))
            return 0;
    }
    return 1;
}

/* Which field of R, decoded with want list W, differs from the tree, or NULL. */
static const char *ref_compare_fields(const struct review *r, const json_t *root, const struct review_want *w)
{
    const json_t *req = json_object_get(root, "request"), *o, *ui, *m;
    int v1 = ref_str_is(json_object_get(root, "apiVersion"), "admission.k8s.io/v1");
    if (r->version != (v1 ? REVIEW_V1 : REVIEW_V1BETA1))
        return "version";
    if (!ref_str_eq(r->uid, ref_get(req, "uid")))
        return "request.uid";
    o = ref_get(req, "kind");
    if (!ref_str_eq(r->kind_group, ref_get(o, "group")) ||
        !ref_str_eq(r->kind_version, ref_get(o, "version")) || !ref_str_eq(r->kind_kind, ref_get(o, "kind")))
        return "request.kind";
    o = ref_get(req, "resource");
    if (!ref_str_eq(r->res_group, ref_get(o, "group")) ||
        !ref_str_eq(r->res_version, ref_get(o, "version")) ||
        !ref_str_eq(r->res_resource, ref_get(o, "resource")))
        return "request.resource";
    if (!ref_str_eq(r->sub_resource, ref_get(req, "subResource")))
        return "request.subResource";
    if (!ref_str_eq(r->name, ref_get(req, "name")))
        return "request.name";
    if (!ref_str_eq(r->namespace_, ref_get(req, "namespace")))
        return "request.namespace";
    if (!ref_str_eq(r->operation, ref_get(req, "operation")))
        return "request.operation";
    ui = ref_get(req, "userInfo");
    if (!ref_str_eq(r->username, ref_get(ui, "username")))
        return "request.userInfo.username";
    if (!ref_str_eq(r->user_uid, ref_get(ui, "uid")))
        return "request.userInfo.uid";
    if (!ref_strs_eq(r->groups, r->ngroups, ref_get(ui, "groups")))
        return "request.userInfo.groups";
    if (!ref_strs_eq(r->pod_names, r->npod_names, ref_get(ref_get(ui, "extra"), REVIEW_POD_NAME_KEY)))
        return "request.userInfo.extra pod-name";
    o = ref_get(req, "object");
    m = ref_get(o, "metadata");
    if (r->has_object != json_is_object(o))
        return "has_object";
    if (!ref_kvs_eq(r, r->annotations, r->nannotations, ref_get(m, "annotations"), w))
        return "request.object.metadata.annotations";
    o = ref_get(req, "oldObject");
    m = ref_get(o, "metadata");
    if (r->has_old_object != json_is_object(o))
        return "has_old_object";
    if (!ref_kvs_eq(r, r->old_annotations, r->nold_annotations, ref_get(m, "annotations"), w))
        return "request.oldObject.metadata.annotations";
    if (r->dry_run != json_is_true(ref_get(req, "dryRun")))
        return "request.dryRun";
    if (r->want != w)
        return "want";
    return NULL;
}

struct ref_stats {
    unsigned long accepted, rejected_json, rejected_fields, rejected_depth, too_deep, excluded, nul_quirk;
};

/* The deepest nesting of containers in BUF[0..LEN), counted on the bytes
 * (strings skipped): exact for a document valid up to its deepest point. */
static long ref_raw_depth(const char *buf, size_t len)
{
    long depth = 0, max = 0;
    size_t i;
    int in_string = 0;
    for (i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

/* The keys ref_diff decodes with a second time: some that real reviews and
 * the corpus hold, "" and every other key of both objects' annotations. */
static void ref_want_of(const json_t *root, struct review_want *w, struct review_str *keys, size_t cap)
{
    static const char *const fixed[] = {"a",
                                        "b",
                                        "k7",
                                        "",
                                        "leasefence.io/epoch",
                                        "example.com/replica",
                                        "kubectl.kubernetes.io/last-applied-configuration",
                                        "deployment.kubernetes.io/revision",
                                        "\xc3\xa9"};
    size_t n = 0, i;
    int side;
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        keys[n].ptr = fixed[i];
        keys[n++].len = strlen(fixed[i]);
    }
    for (side = 0; side < 2; side++) {
        const json_t *ann =
            ref_get(ref_get(ref_get(ref_get(root, "request"), side ? "oldObject" : "object"), "metadata"),
                    "annotations");
        const char *k;
        json_t *v;
        i = 0;
        json_object_foreach((json_t *)ann, k, v)
        {
            if (i++ % 2 == 0 && n < cap) {
                keys[n].ptr = k;
                keys[n++].len = strlen(k);
            }
        }
    }
    review_want_init(w, keys, n);
}

/* The answer with a want list must be the one without (RC, ERR), but for the
 * item limit; when accepted, every field equal to jansson's (ROOT). */
static int ref_diff_want(const char *buf, size_t len, const json_t *root, int rc, const char *err,
                         struct ref_arena *arena, char *why, size_t whylen)
{
    struct review w;
    struct review_want want;
    struct review_str keys[64];
    char werr[512];
    const char *f;
    int wrc;
    ref_want_of(root, &want, keys, sizeof(keys) / sizeof(keys[0]));
    werr[0] = '\0';
    wrc = review_decode(&w, buf, len, &want, ref_arena_alloc, arena, werr, sizeof(werr));
    if (rc != 0 && strstr(err, "has too many items") != NULL)
        return 0;
    if (wrc != rc || (rc != 0 && strcmp(werr, err) != 0)) {
        snprintf(why, whylen, "with a want list: rc %d '%s', without: rc %d '%s'", wrc, werr, rc, err);
        return -1;
    }
    if (rc == 0 && root != NULL && (f = ref_compare_fields(&w, root, &want)) != NULL) {
        snprintf(why, whylen, "with a want list: field %s differs from jansson", f);
        return -1;
    }
    return 0;
}

static int ref_diff(const char *buf, size_t len, struct ref_arena *arena, struct ref_stats *st, char *why,
                    size_t whylen);

/* jansson accepted BUF, which holds raw NUL bytes: see the header comment. */
static int ref_diff_nul(const char *buf, size_t len, struct ref_arena *arena, struct ref_stats *st, char *why,
                        size_t whylen)
{
    struct review r;
    char err[512], *stripped;
    unsigned long pos;
    size_t i, n = 0;
    int rc;
    rc = review_decode(&r, buf, len, NULL, ref_arena_alloc, arena, err, sizeof(err));
    ref_arena_clear(arena);
    if (rc == 0 || sscanf(err, "invalid JSON at byte %lu:", &pos) != 1 || pos >= len || buf[pos] != '\0') {
        snprintf(why, whylen, "raw NUL bytes: expected a syntax error at one, got rc %d '%s'", rc, err);
        return -1;
    }
    stripped = malloc(len ? len : 1);
    if (stripped == NULL)
        abort();
    for (i = 0; i < len; i++)
        if (buf[i] != '\0')
            stripped[n++] = buf[i];
    st->nul_quirk++;
    rc = ref_diff(stripped, n, arena, st, why, whylen);
    free(stripped);
    return rc;
}

/*
 * Decodes BUF with review_decode and with the oracle; returns 0 when they
 * agree, else -1 with the disagreement in WHY.
 */
static int ref_diff(const char *buf, size_t len, struct ref_arena *arena, struct ref_stats *st, char *why,
                    size_t whylen)
{
    struct ref_result ref;
    struct review r;
    char err[512];
    int rc, out = -1;
    const char *f;

    memset(&r, 0, sizeof(r));
    err[0] = '\0';
    rc = review_decode(&r, buf, len, NULL, ref_arena_alloc, arena, err, sizeof(err));
    ref_run(&ref, buf, len);
    if ((ref.verdict == REF_ACCEPT || ref.verdict == REF_REJECT_FIELDS) && memchr(buf, '\0', len) != NULL) {
        json_decref(ref.root);
        ref_arena_clear(arena);
        return ref_diff_nul(buf, len, arena, st, why, whylen);
    }

    switch (ref.verdict) {
    case REF_EXCLUDED:
        st->excluded++;
        out = 0;
        break;
    case REF_TOO_DEEP: {
        long depth = ref_raw_depth(buf, len);
        int deep_error = rc != 0 && strstr(err, "nesting deeper than " STR_REF(REVIEW_MAX_DEPTH) " levels");
        if ((deep_error && depth <= REVIEW_MAX_DEPTH) || (rc == 0 && depth > REVIEW_MAX_DEPTH)) {
            snprintf(why, whylen, "%ld levels deep (too deep for jansson): rc %d '%s'", depth, rc, err);
        } else {
            if (deep_error)
                st->rejected_depth++;
            else
                st->too_deep++;
            out = 0;
        }
        break;
    }
    case REF_REJECT_JSON:
        if (rc == 0)
            snprintf(why, whylen, "accepted what jansson rejects: %s", ref.msg);
        else if (strcmp(err, "an AdmissionReview must be a JSON object") == 0) {
            /* jansson without JSON_DECODE_ANY refuses a scalar as a syntax
             * error; it must at least be a valid JSON scalar. */
            json_t *any = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (any == NULL || json_is_object(any) || json_is_array(any))
                snprintf(why, whylen, "jansson: %s; we: '%s'", ref.msg, err);
            else {
                st->rejected_json++;
                out = 0;
            }
            json_decref(any);
        } else if (strncmp(err, "invalid JSON at byte ", 21) != 0)
            snprintf(why, whylen, "jansson: %s; we: '%s' (expected an 'invalid JSON' error)", ref.msg, err);
        else {
            st->rejected_json++;
            out = 0;
        }
        break;
    case REF_REJECT_FIELDS:
    case REF_ACCEPT:
        if (ref.verdict == REF_REJECT_FIELDS) {
            if (rc == 0)
                snprintf(why, whylen, "accepted; jansson says: %s", ref.msg);
            else if (strcmp(err, ref.msg) != 0)
                snprintf(why, whylen, "error '%s', jansson oracle says '%s'", err, ref.msg);
            else {
                st->rejected_fields++;
                out = 0;
            }
        } else if (rc != 0) {
            snprintf(why, whylen, "rejected what jansson accepts: %s", err);
        } else if ((f = ref_compare_fields(&r, ref.root, NULL)) != NULL) {
            snprintf(why, whylen, "field %s differs from jansson", f);
        } else {
            st->accepted++;
            out = 0;
        }
        break;
    }
    if (out == 0 && ref.verdict != REF_EXCLUDED)
        out = ref_diff_want(buf, len, ref.root, rc, err, arena, why, whylen);
    json_decref(ref.root);
    ref_arena_clear(arena);
    return out;
}

/* ---- deterministic mutations ---- */
static uint64_t ref_rand(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static const char *const ref_tokens[] = {
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "\t",
    "\r\n",
    "\\",
    "\\u",
    "\\u0041",
    "\\u00e9",
    "\\u0000",
    "\\ud83d\\ude00",
    "\\ud83d",
    "\\ude00",
    "\\uDBFF\\uDFFF",
    "\\ud83dx",
    "\\x",
    "\\/",
    "\\\"",
    "null",
    "true",
    "false",
    "nul",
    "0",
    "-0",
    "01",
    "1.",
    "1e",
    "1e5",
    "-",
    "1.5e-3",
    "99999999999999999999",
    "1e999",
    "\xc3\xa9",
    "\xc3",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xf0\x9f\x98\x80",
    "\xc0\x80",
    "\xff",
    "\x01",
    "\x1f",
    "\x7f",
    "{}",
    "[]",
    "\"\"",
    "\"uid\":",
    "\"request\":",
    "\"kind\":",
    "\"apiVersion\":",
    "\"annotations\":",
    "\"metadata\":",
    "\"userInfo\":",
    "\"groups\":",
    "\"extra\":",
    "\"dryRun\":",
    "\"object\":",
    "\"oldObject\":",
    "\"username\":",
    "\"" REVIEW_POD_NAME_KEY "\":",
    "\"u\\u0069d\":",
    "\"x\":1,",
    "1",
    "\"s\"",
    "[\"g\"]",
    "{\"a\":\"b\"}",
    "[[[[",
    "]]]]",
    "admission.k8s.io/v1beta1",
};

/* Writes into OUT (room for CAP bytes) a mutation of IN; returns its length. */
static size_t ref_mutate(uint64_t *seed, const char *in, size_t n, char *out, size_t cap)
{
    size_t len = n < cap ? n : cap, i, rounds = 1 + ref_rand(seed) % 3;
    memcpy(out, in, len);
    for (i = 0; i < rounds && len > 0; i++) {
        size_t pos = ref_rand(seed) % len, k, m;
        const char *tok;
        switch (ref_rand(seed) % 7) {
        case 0: /* a random byte */
            out[pos] = (char)ref_rand(seed);
            break;
        case 1: /* delete a short range */
            m = 1 + ref_rand(seed) % 8;
            if (m > len - pos)
                m = len - pos;
            memmove(out + pos, out + pos + m, len - pos - m);
            len -= m;
            break;
        case 2: /* insert a token */
        case 3:
            tok = ref_tokens[ref_rand(seed) % (sizeof(ref_tokens) / sizeof(ref_tokens[0]))];
            m = strlen(tok);
            if (len + m > cap)
                break;
            memmove(out + pos + m, out + pos, len - pos);
            memcpy(out + pos, tok, m);
            len += m;
            break;
        case 4: /* overwrite with a token */
            tok = ref_tokens[ref_rand(seed) % (sizeof(ref_tokens) / sizeof(ref_tokens[0]))];
            m = strlen(tok);
            for (k = 0; k < m && pos + k < len; k++)
                out[pos + k] = tok[k];
            break;
        case 5: /* truncate */
            len = pos;
            break;
        case 6: { /* copy a range elsewhere (duplicate keys and members) */
            size_t from = ref_rand(seed) % len, max = len - from;
            m = 1 + ref_rand(seed) % (max < 200 ? max : 200);
            if (len + m > cap)
                break;
            memmove(out + pos + m, out + pos, len - pos);
            memmove(out + pos, out + (from < pos ? from : from + m), m);
            len += m;
            break;
        }
        }
    }
    return len;
}

#endif
