/*
 * Unit tests of the AdmissionReview decoder (server/review.c): every field,
 * each error class, escapes and surrogates, look-alike keys, duplicate keys,
 * deep nesting and its limit, want lists, the item limit and the memory they
 * bound, v1beta1, truncated documents.  The differential test against
 * jansson is tests/unit/test_review_diff.c.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lf_file.h"
#include "review.h"

/* ---- a small arena: every block freed after each test ---- */
static void *blocks[1 << 16];
static size_t nblocks;

static size_t allocated; /* bytes handed out, for the memory bound test */

static void *test_alloc(void *ctx, size_t size)
{
    void *p;
    (void)ctx;
    allocated += size;
    assert_true(nblocks < sizeof(blocks) / sizeof(blocks[0]));
    p = malloc(size ? size : 1);
    assert_non_null(p);
    blocks[nblocks++] = p;
    return p;
}

static int free_blocks(void **state)
{
    (void)state;
    while (nblocks > 0)
        free(blocks[--nblocks]);
    return 0;
}

static char err[512];

static int decode_want(struct review *r, const char *buf, size_t len, const struct review_want *want)
{
    memset(r, 0xA5, sizeof(*r));
    err[0] = '\0';
    return review_decode(r, buf, len, want, test_alloc, NULL, err, sizeof(err));
}

static int decode_n(struct review *r, const char *buf, size_t len)
{
    return decode_want(r, buf, len, NULL);
}

static int decode(struct review *r, const char *json)
{
    return decode_n(r, json, strlen(json));
}

/* Corpus sample NAME, *LEN bytes, freed with the test's blocks. */
static char *slurp(const char *name, size_t *len)
{
    char path[512], why[768];
    const char *dir = getenv("REVIEW_CORPUS");
    char *buf;
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/corpus", name);
    buf = lf_file_read("corpus sample", path, 1u << 20, len, why, sizeof(why));
    if (buf == NULL)
        fail_msg("%s (run from the repository root)", why);
    assert_true(nblocks < sizeof(blocks) / sizeof(blocks[0]));
    blocks[nblocks++] = buf;
    return buf;
}

/* Reads corpus sample NAME (its length in *LEN) and decodes it into R, which must succeed; returns the text,
 * which R points into (in the test arena, never freed). */
static char *decode_sample(struct review *r, const char *name, size_t *len)
{
    char *buf = slurp(name, len);
    assert_int_equal(decode_n(r, buf, *len), 0);
    return buf;
}

#define assert_str(s, lit)                                                                                   \
    do {                                                                                                     \
        if (!review_str_eq((s), (lit)))                                                                      \
            fail_msg("%s is '%.*s' (%s), expected '%s'", #s, (s).ptr ? (int)(s).len : 4,                     \
                     (s).ptr ? (s).ptr : "NULL", (s).ptr ? "set" : "absent", (lit));                         \
    } while (0)
#define assert_absent(s) assert_null((s).ptr)

/* Points into the buffer [BUF, BUF+LEN): zero copy. */
static bool in_buf(struct review_str s, const char *buf, size_t len)
{
    return s.ptr >= buf && s.ptr + s.len <= buf + len;
}

/* The decoded value of annotation KEY (the first with it) in R's object, or
 * oldObject when OLD; NULL when none. */
static const char *ann_of(const struct review *r, bool old, const char *key, size_t *len)
{
    const struct review_kv *kv = old ? r->old_annotations : r->annotations;
    size_t i, n = old ? r->nold_annotations : r->nannotations;
    for (i = 0; i < n; i++)
        if (review_str_eq(kv[i].key, key)) {
            struct review_str v = review_kv_value(r, &kv[i]);
            *len = v.len;
            return v.ptr;
        }
    return NULL;
}
/* The decoded value of annotation KV of R. */
#define VAL(kv) review_kv_value(&r, &(kv))

#define POD  "controller-6d8f9c7b5-x7k2p"
#define USER "system:serviceaccount:shop:controller"

static void check_configmap_review(const struct review *r)
{
    assert_str(r->kind_group, "");
    assert_str(r->kind_version, "v1");
    assert_str(r->kind_kind, "ConfigMap");
    assert_str(r->res_group, "");
    assert_str(r->res_version, "v1");
    assert_str(r->res_resource, "configmaps");
    assert_absent(r->sub_resource);
    assert_str(r->name, "controller-state");
    assert_str(r->namespace_, "shop");
    assert_str(r->username, USER);
    assert_str(r->user_uid, "8a1f6c3e-2b7d-4e59-9c0a-5d3e1f7b2a64");
    assert_int_equal(r->ngroups, 3);
    assert_str(r->groups[0], "system:serviceaccounts");
    assert_str(r->groups[1], "system:serviceaccounts:shop");
    assert_str(r->groups[2], "system:authenticated");
    assert_int_equal(r->npod_names, 1);
    assert_str(r->pod_names[0], POD);
    assert_false(r->dry_run);
}

static void test_v1_create(void **state)
{
    struct review r;
    size_t len, vlen;
    char *buf = decode_sample(&r, "v1-configmap-create.json", &len);
    const char *v;
    (void)state;
    assert_int_equal(r.version, REVIEW_V1);
    assert_str(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_str(r.operation, "CREATE");
    check_configmap_review(&r);
    assert_true(r.has_object);
    assert_false(r.has_old_object);
    assert_int_equal(r.nannotations, 1);
    v = ann_of(&r, false, "leasefence.io/epoch", &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, strlen("0d6e2c4a-1111-4a3c-9e5d-7b2f1c0a9e8d/1"));
    assert_memory_equal(v, "0d6e2c4a-1111-4a3c-9e5d-7b2f1c0a9e8d/1", vlen);
    assert_int_equal(r.nold_annotations, 0);
    assert_null(r.old_annotations);
    /* No escapes: everything points into the body. */
    assert_true(in_buf(r.uid, buf, len));
    assert_true(in_buf(r.username, buf, len));
    assert_true(in_buf(r.groups[2], buf, len));
    assert_true(in_buf(r.annotations[0].value, buf, len));
}

static void test_v1_update(void **state)
{
    struct review r;
    size_t len, vlen;
    decode_sample(&r, "v1-configmap-update.json", &len);
    (void)state;
    assert_str(r.operation, "UPDATE");
    check_configmap_review(&r);
    assert_true(r.has_object);
    assert_true(r.has_old_object);
    assert_non_null(ann_of(&r, false, "leasefence.io/epoch", &vlen));
    assert_int_equal(vlen, 38);
    assert_non_null(ann_of(&r, true, "leasefence.io/epoch", &vlen));
    assert_int_equal(r.nold_annotations, 1);
    assert_memory_equal(r.old_annotations[0].value.ptr, "0d6e2c4a-1111-4a3c-9e5d-7b2f1c0a9e8d/1", 38);
    assert_memory_equal(r.annotations[0].value.ptr, "0d6e2c4a-1111-4a3c-9e5d-7b2f1c0a9e8d/2", 38);
}

static void test_v1_delete(void **state)
{
    struct review r;
    size_t len;
    decode_sample(&r, "v1-configmap-delete.json", &len);
    (void)state;
    assert_str(r.operation, "DELETE");
    assert_false(r.has_object);
    assert_null(r.annotations);
    assert_int_equal(r.nannotations, 0);
    assert_true(r.has_old_object);
    assert_int_equal(r.nold_annotations, 1);
}

static void test_v1beta1(void **state)
{
    struct review r;
    size_t len;
    decode_sample(&r, "v1beta1-configmap-create.json", &len);
    (void)state;
    assert_int_equal(r.version, REVIEW_V1BETA1);
    check_configmap_review(&r);
}

static void test_deployment(void **state)
{
    struct review r;
    size_t len, vlen;
    char *buf = decode_sample(&r, "v1-deployment-update.json", &len);
    const char *v;
    (void)state;
    assert_true(len > 20000);
    assert_str(r.kind_group, "apps");
    assert_str(r.kind_kind, "Deployment");
    assert_str(r.res_resource, "deployments");
    assert_str(r.name, "worker");
    assert_int_equal(r.nannotations, 3);
    assert_int_equal(r.nold_annotations, 3);
    v = ann_of(&r, false, "kubectl.kubernetes.io/last-applied-configuration", &vlen);
    assert_non_null(v);
    /* An escaped JSON document: decoded into allocated memory. */
    assert_false(v >= buf && v < buf + len);
    assert_true(vlen > 20 && memcmp(v, "{\"apiVersion\":\"apps/v1\"", 23) == 0);
    assert_int_equal(v[vlen - 1], '\n');
    assert_null(memchr(v, '\\', vlen));
    v = ann_of(&r, true, "deployment.kubernetes.io/revision", &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 1);
    assert_int_equal(v[0], '7');
    v = ann_of(&r, false, "kubectl.kubernetes.io/last-applied-configuration", &vlen);
    /* Not decoded until asked for: kept as written in the body. */
    for (size_t i = 0; i < r.nannotations; i++) {
        if (!review_str_eq(r.annotations[i].key, "kubectl.kubernetes.io/last-applied-configuration"))
            continue;
        assert_true(r.annotations[i].escaped);
        assert_true(in_buf(r.annotations[i].value, buf, len));
        assert_memory_equal(r.annotations[i].value.ptr, "{\\\"apiVersion\\\":", 16);
        assert_true(r.annotations[i].value.len > vlen);
    }
    assert_int_equal(review_annotation(&r, false, "kubectl.kubernetes.io/last-applied-configuration").len,
                     vlen);
    assert_memory_equal(review_annotation(&r, false, "kubectl.kubernetes.io/last-applied-configuration").ptr,
                        v, vlen);
    assert_null(review_annotation(&r, false, "nope").ptr);
    assert_str(review_annotation(&r, true, "deployment.kubernetes.io/revision"), "7");
}

/* Escaped annotation values stay raw through duplicate keys, both ways, in
 * the short (n <= 16) and the sorted (n > 16) dedup. */
static void test_escaped_annotation_dedup(void **state)
{
    struct review r;
    char buf[4096];
    size_t n = 0, i, extra;
    (void)state;
    for (extra = 0; extra <= 20; extra += 20) {
        n = (size_t)snprintf(
            buf, sizeof(buf),
            "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
            "{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{"
            "\"a\":\"x\\u0041\",\"b\":\"plain\",\"a\":\"plain-a\",\"b\":\"y\\ty\"");
        for (i = 0; i < extra; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\"k%zu\":\"\\\"%zu\\\"\"", i, i);
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "}}}}}");
        assert_int_equal(decode_n(&r, buf, n), 0);
        assert_int_equal(r.nannotations, 2 + extra);
        assert_str(r.annotations[0].key, "a");
        assert_false(r.annotations[0].escaped);
        assert_str(VAL(r.annotations[0]), "plain-a");
        assert_str(r.annotations[1].key, "b");
        assert_true(r.annotations[1].escaped);
        assert_str(VAL(r.annotations[1]), "y\ty");
        assert_str(review_annotation(&r, false, "b"), "y\ty");
        if (extra > 0)
            assert_str(review_annotation(&r, false, "k7"), "\"7\"");
    }
}

static void test_tokenreview_connect_status(void **state)
{
    struct review r;
    size_t len;
    decode_sample(&r, "v1-tokenreview-create.json", &len);
    (void)state;
    assert_str(r.kind_group, "authentication.k8s.io");
    assert_str(r.kind_kind, "TokenReview");
    assert_absent(r.name);
    assert_absent(r.namespace_);
    assert_str(r.username, "system:kube-controller-manager");
    assert_int_equal(r.npod_names, 0);
    assert_null(r.pod_names);
    assert_true(r.has_object);
    assert_int_equal(r.nannotations, 0);

    decode_sample(&r, "v1-pods-exec-connect.json", &len);
    assert_str(r.operation, "CONNECT");
    assert_str(r.sub_resource, "exec");
    assert_str(r.res_resource, "pods");

    decode_sample(&r, "v1-lease-dryrun-status.json", &len);
    assert_true(r.dry_run);
    assert_str(r.sub_resource, "status");
    assert_str(r.kind_group, "coordination.k8s.io");
}

static void test_escapes(void **state)
{
    struct review r;
    size_t len, vlen;
    char *buf = decode_sample(&r, "v1-escapes.json", &len);
    const char *v;
    (void)state;
    assert_int_equal(r.version, REVIEW_V1); /* "admission.k8s.io\/v1" */
    assert_str(r.uid, "705ab4f5-6393-11e8-b7cc-42010a80000a");
    assert_false(in_buf(r.uid, buf, len));
    assert_str(r.kind_kind, "ConfigMap");
    assert_str(r.res_resource, "configmaps");
    assert_str(r.name, "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80");
    assert_str(r.namespace_, "shop");
    assert_str(r.operation, "UPDATE");
    assert_str(r.username, "system:serviceaccount:shop:contr\xc3\xb6ller\t\"quoted\"\\");
    assert_str(r.user_uid, "\xc3\xa9\xc3\xa9");
    assert_int_equal(r.ngroups, 3);
    assert_str(r.groups[0], "system:authenticated");
    assert_str(r.groups[1], "\xf0\x9d\x84\x9e music"); /* U+1D11E from a surrogate pair */
    assert_str(r.groups[2], "plain");
    assert_true(in_buf(r.groups[2], buf, len));
    /* The extra key itself is escapes: "authentication.kubernetes.io\/pod-name". */
    assert_int_equal(r.npod_names, 1);
    assert_str(r.pod_names[0], "pod-\xf0\x9f\x9a\x80-1");
    assert_int_equal(r.nannotations, 4);
    v = ann_of(&r, false, "leasefence.io/epoch", &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 9);
    assert_memory_equal(v, "A\b\f\n\r\t/\\\"", 9);
    v = ann_of(&r, false, "k\xc3\xa9y", &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 3);
    assert_memory_equal(v, "v\xc3\xa9", 3);
    v = ann_of(&r, false, "emoji-\xf0\x9f\x98\x80", &vlen);
    assert_non_null(v);
    assert_int_equal(vlen, 4);
    assert_memory_equal(v, "\xf4\x8f\xbf\xbf", 4); /* U+10FFFF */
    v = ann_of(&r, false, "plain", &vlen);
    assert_non_null(v); /* raw UTF-8, zero copy */
    assert_true(v >= buf && v < buf + len);
    assert_false(r.has_old_object);

    /* Escaped keys on the paths we read are the same keys; a key that only
     * starts like one is not. */
    assert_int_equal(
        decode(&r, "{\"\\u0061piVersion\":\"admission.k8s.io/v1\",\"kin\\u0064\":\"AdmissionReview\","
                   "\"requ\\u0065st\":{\"\\u0075id\":\"u\",\"uid\\u0000\":\"x\",\"userInfo\":"
                   "{\"\\u0067roups\":[\"g\"]}}}"),
        0);
    assert_str(r.uid, "u");
    assert_int_equal(r.ngroups, 1);
}

static void test_lookalikes(void **state)
{
    struct review r;
    size_t len, vlen;
    decode_sample(&r, "v1-lookalikes.json", &len);
    const char *v;
    (void)state;
    assert_str(r.uid, "705ab4f5-6393-11e8-b7cc-42010a80000d");
    check_configmap_review(&r);
    assert_str(r.kind_kind, "ConfigMap");
    assert_false(r.dry_run);
    /* The look-alikes are annotations, nothing more. */
    v = ann_of(&r, false, "username", &vlen);
    assert_non_null(v);
    assert_memory_equal(v, "annotation-user", vlen);
    assert_non_null(ann_of(&r, false, "uid", &vlen));
    assert_non_null(ann_of(&r, false, REVIEW_POD_NAME_KEY, &vlen));
    assert_null(ann_of(&r, false, "nested", &vlen));
    assert_null(ann_of(&r, false, "spec-level", &vlen));
    assert_int_equal(r.nannotations, 8);
    v = ann_of(&r, true, "userInfo", &vlen);
    assert_non_null(v);
    assert_memory_equal(v, "{\"username\":\"old-annotation\"}", vlen);
}

static void test_key_order_whitespace(void **state)
{
    struct review r;
    size_t len, vlen;
    decode_sample(&r, "v1-key-order.json", &len);
    (void)state;
    assert_str(r.uid, "705ab4f5-6393-11e8-b7cc-42010a80000b");
    assert_str(r.kind_kind, "ConfigMap");
    assert_str(r.res_resource, "configmaps");
    assert_str(r.username, USER);
    assert_int_equal(r.ngroups, 2);
    assert_str(r.pod_names[0], POD);
    assert_int_equal(r.nannotations, 2);
    assert_non_null(ann_of(&r, false, "z", &vlen));

    decode_sample(&r, "v1-whitespace.json", &len);
    assert_str(r.uid, "705ab4f5-6393-11e8-b7cc-42010a80000c");
    check_configmap_review(&r);
    assert_true(r.has_old_object);
    assert_int_equal(r.nold_annotations, 1);
}

static void test_duplicate_keys(void **state)
{
    struct review r;
    size_t len, vlen;
    decode_sample(&r, "v1-duplicate-keys.json", &len);
    const char *v;
    (void)state;
    assert_int_equal(r.version, REVIEW_V1);
    assert_str(r.uid, "705ab4f5-6393-11e8-b7cc-42010a80000e"); /* uid:42 overridden */
    assert_str(r.username, "second");
    assert_int_equal(r.ngroups, 0); /* the second userInfo has none */
    assert_str(r.name, "cm");
    assert_int_equal(r.nannotations, 2); /* the second metadata */
    v = ann_of(&r, false, "c", &vlen);
    assert_non_null(v);
    assert_memory_equal(v, "5", 1);
    assert_true(r.dry_run);

    /* Within one annotations object: the first position keeps the last value. */
    assert_int_equal(
        decode(&r, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
                   "{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{\"a\":\"1\",\"b\":\"2\","
                   "\"\\u0061\":\"3\"}}}}}"),
        0);
    assert_int_equal(r.nannotations, 2);
    assert_str(r.annotations[0].key, "a");
    assert_str(VAL(r.annotations[0]), "3");
    assert_str(r.annotations[1].key, "b");

    /* An earlier wrong type is forgotten when the key comes again. */
    assert_int_equal(decode(&r,
                            "{\"kind\":1,\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                            "\"request\":{\"uid\":\"u\",\"dryRun\":\"x\",\"dryRun\":false}}"),
                     0);
    /* And a later one wins over an earlier good value. */
    assert_int_equal(decode(&r, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                                "\"request\":{\"uid\":\"u\",\"uid\":7}}"),
                     -1);
    assert_string_equal(err, "request.uid must be a string");
    /* A second request replaces the first entirely. */
    assert_int_equal(decode(&r, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                                "\"request\":{\"uid\":\"u\",\"name\":1},\"request\":{\"uid\":\"v\"}}"),
                     0);
    assert_str(r.uid, "v");
    assert_absent(r.name);
}

static void test_many_annotations_dedup(void **state)
{
    struct review r;
    char *buf = test_alloc(NULL, 64 * 1024);
    size_t n = 0, i;
    (void)state;
    n += (size_t)snprintf(buf + n, 64 * 1024 - n,
                          "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
                          "{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{");
    /* 300 entries over 100 keys: each key 3 times, values 0..299. */
    for (i = 0; i < 300; i++)
        n += (size_t)snprintf(buf + n, 64 * 1024 - n, "%s\"k%zu\":\"%zu\"", i ? "," : "", i % 100, i);
    n += (size_t)snprintf(buf + n, 64 * 1024 - n, "}}}}}");
    assert_int_equal(decode_n(&r, buf, n), 0);
    assert_int_equal(r.nannotations, 100);
    for (i = 0; i < 100; i++) {
        char key[16], val[16];
        snprintf(key, sizeof(key), "k%zu", i);
        snprintf(val, sizeof(val), "%zu", i + 200);
        assert_str(r.annotations[i].key, key);  /* first position */
        assert_str(VAL(r.annotations[i]), val); /* last value */
    }
}

static void test_nul_and_nulls(void **state)
{
    struct review r;
    size_t len;
    decode_sample(&r, "v1-nul.json", &len);
    (void)state;
    assert_int_equal(r.name.len, 3);
    assert_memory_equal(r.name.ptr, "a\0b", 3);
    assert_int_equal(VAL(r.annotations[0]).len, 3);
    assert_memory_equal(VAL(r.annotations[0]).ptr, "x\0y", 3);

    decode_sample(&r, "v1-numbers-nulls.json", &len);
    assert_absent(r.kind_kind);
    assert_absent(r.res_group);
    assert_absent(r.name);
    assert_int_equal(r.ngroups, 0);
    assert_true(r.has_old_object);
    assert_int_equal(r.nold_annotations, 0);
    assert_false(r.dry_run);

    /* null array elements and annotation values read as "". */
    assert_int_equal(
        decode(&r, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":"
                   "{\"uid\":\"u\",\"userInfo\":{\"groups\":[null,\"g\"]},\"object\":{\"metadata\":"
                   "{\"annotations\":{\"a\":null}}}}}"),
        0);
    assert_int_equal(r.ngroups, 2);
    assert_str(r.groups[0], "");
    assert_str(VAL(r.annotations[0]), "");
}

struct error_case {
    const char *json, *err;
};

#define AR(req) "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":" req "}"

static const struct error_case error_cases[] = {
    /* Not JSON at all. */
    {"", "invalid JSON at byte 0: empty input"},
    {" \n\t", "invalid JSON at byte 3: no value"},
    {"{", "invalid JSON at byte 1: unexpected end of input"},
    {"{\"a\"", "invalid JSON at byte 4: unexpected end of input"},
    {"{\"a\":", "invalid JSON at byte 5: unexpected end of input"},
    {"{\"a\":1", "invalid JSON at byte 6: unexpected end of input"},
    {"{\"a", "invalid JSON at byte 3: unexpected end of input in a string"},
    {"{\"a\" 1}", "invalid JSON at byte 5: expected ':'"},
    {"{\"a\":1 \"b\":2}", "invalid JSON at byte 7: expected ',' or '}'"},
    {"{\"a\":[1 2]}", "invalid JSON at byte 8: expected ',' or ']'"},
    {"{\"a\":1,}", "invalid JSON at byte 7: expected a string key"},
    {"{\"a\":[1,]}", "invalid JSON at byte 8: expected a value"},
    {"{1:2}", "invalid JSON at byte 1: expected a string key"},
    {"{'a':1}", "invalid JSON at byte 1: expected a string key"},
    {"{\"a\":1} x", "invalid JSON at byte 8: data after the document"},
    {"{\"a\":1}{}", "invalid JSON at byte 7: data after the document"},
    {"\xef\xbb\xbf{}", "invalid JSON at byte 0: expected a value"},
    /* Strings. */
    {"{\"a\":\"x\ny\"}", "invalid JSON at byte 7: control character in a string"},
    {"{\"a\":\"x\x01\"}", "invalid JSON at byte 7: control character in a string"},
    {"{\"a\":\"\\x\"}", "invalid JSON at byte 6: invalid escape in a string"},
    {"{\"a\":\"\\u12\"}", "invalid JSON at byte 6: invalid \\u escape"},
    {"{\"a\":\"\\u12G4\"}", "invalid JSON at byte 6: invalid \\u escape"},
    {"{\"a\":\"\\ud800\"}", "invalid JSON at byte 6: lone high surrogate in \\u escape"},
    {"{\"a\":\"\\ud800\\u0041\"}", "invalid JSON at byte 6: lone high surrogate in \\u escape"},
    {"{\"a\":\"\\ud800\\ud800\"}", "invalid JSON at byte 6: lone high surrogate in \\u escape"},
    {"{\"a\":\"\\ud800x\"}", "invalid JSON at byte 6: lone high surrogate in \\u escape"},
    {"{\"a\":\"\\udc00\"}", "invalid JSON at byte 6: lone low surrogate in \\u escape"},
    {"{\"a\":\"\\uDFFF\\uD800\"}", "invalid JSON at byte 6: lone low surrogate in \\u escape"},
    {"{\"a\":\"\xc0\x80\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"},         /* overlong NUL */
    {"{\"a\":\"\xe0\x80\xaf\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"},     /* overlong '/' */
    {"{\"a\":\"\xed\xa0\x80\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"},     /* U+D800 */
    {"{\"a\":\"\xf4\x90\x80\x80\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"}, /* > U+10FFFF */
    {"{\"a\":\"\xff\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"},
    {"{\"a\":\"\x80\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"},
    {"{\"a\":\"\xc3\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"},
    {"{\"a\":\"\xe6\x97\"}", "invalid JSON at byte 6: invalid UTF-8 in a string"},
    {"{\"\xc3\":1}", "invalid JSON at byte 2: invalid UTF-8 in a string"},
    /* Numbers and literals. */
    {"{\"a\":01}", "invalid JSON at byte 6: expected ',' or '}'"},
    {"{\"a\":1.}", "invalid JSON at byte 7: invalid number"},
    {"{\"a\":.5}", "invalid JSON at byte 5: expected a value"},
    {"{\"a\":+1}", "invalid JSON at byte 5: expected a value"},
    {"{\"a\":-}", "invalid JSON at byte 6: invalid number"},
    {"{\"a\":1e}", "invalid JSON at byte 7: invalid number"},
    {"{\"a\":1e+}", "invalid JSON at byte 8: invalid number"},
    {"{\"a\":0x1}", "invalid JSON at byte 6: expected ',' or '}'"},
    {"{\"a\":NaN}", "invalid JSON at byte 5: expected a value"},
    {"{\"a\":tru}", "invalid JSON at byte 5: invalid literal"},
    {"{\"a\":True}", "invalid JSON at byte 5: expected a value"},
    {"{\"a\":nul", "invalid JSON at byte 5: invalid literal"},
    {"{\"a\":truex}", "invalid JSON at byte 9: expected ',' or '}'"},
    /* Valid JSON, not an AdmissionReview. */
    {"[1]", "an AdmissionReview must be a JSON object"},
    {"\"a\"", "an AdmissionReview must be a JSON object"}, /* found by fuzz_review (oracle side) */
    {"null", "an AdmissionReview must be a JSON object"},
    {"{}", "apiVersion is missing"},
    {"{\"apiVersion\":null}", "apiVersion is missing"},
    {"{\"apiVersion\":1}", "apiVersion must be a string"},
    {"{\"apiVersion\":\"admission.k8s.io/v2\"}", "apiVersion 'admission.k8s.io/v2' is not supported"},
    {"{\"apiVersion\":\"it's\\n\"}", "apiVersion 'it?s?' is not supported"},
    {"{\"apiVersion\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
     "apiVersion '0123456789012345678901234567890123456789012345678901234567890123...' is not supported"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\"}", "kind is missing"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":[]}", "kind must be a string"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"ConfigMap\"}",
     "kind 'ConfigMap' is not AdmissionReview"},
    {"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "request is missing"},
    {AR("null"), "request is missing"},
    {AR("[]"), "request must be an object"},
    {AR("{}"), "request.uid is missing"},
    {AR("{\"uid\":null}"), "request.uid is missing"},
    {AR("{\"uid\":\"\"}"), "request.uid is empty"},
    {AR("{\"uid\":5}"), "request.uid must be a string"},
    {AR("{\"uid\":\"u\",\"kind\":\"x\"}"), "request.kind must be an object"},
    {AR("{\"uid\":\"u\",\"kind\":{\"group\":1}}"), "request.kind.group must be a string"},
    {AR("{\"uid\":\"u\",\"kind\":{\"version\":true}}"), "request.kind.version must be a string"},
    {AR("{\"uid\":\"u\",\"kind\":{\"kind\":{}}}"), "request.kind.kind must be a string"},
    {AR("{\"uid\":\"u\",\"resource\":1}"), "request.resource must be an object"},
    {AR("{\"uid\":\"u\",\"resource\":{\"resource\":1}}"), "request.resource.resource must be a string"},
    {AR("{\"uid\":\"u\",\"subResource\":1}"), "request.subResource must be a string"},
    {AR("{\"uid\":\"u\",\"name\":1}"), "request.name must be a string"},
    {AR("{\"uid\":\"u\",\"namespace\":1}"), "request.namespace must be a string"},
    {AR("{\"uid\":\"u\",\"operation\":1}"), "request.operation must be a string"},
    {AR("{\"uid\":\"u\",\"userInfo\":\"me\"}"), "request.userInfo must be an object"},
    {AR("{\"uid\":\"u\",\"userInfo\":{\"username\":[]}}"), "request.userInfo.username must be a string"},
    {AR("{\"uid\":\"u\",\"userInfo\":{\"uid\":1}}"), "request.userInfo.uid must be a string"},
    {AR("{\"uid\":\"u\",\"userInfo\":{\"groups\":\"g\"}}"),
     "request.userInfo.groups must be an array of strings"},
    {AR("{\"uid\":\"u\",\"userInfo\":{\"groups\":[\"g\",1]}}"),
     "request.userInfo.groups must be an array of strings"},
    {AR("{\"uid\":\"u\",\"userInfo\":{\"extra\":[]}}"), "request.userInfo.extra must be an object"},
    {AR("{\"uid\":\"u\",\"userInfo\":{\"extra\":{\"" REVIEW_POD_NAME_KEY "\":\"p\"}}}"),
     "request.userInfo.extra[\"" REVIEW_POD_NAME_KEY "\"] must be an array of strings"},
    {AR("{\"uid\":\"u\",\"object\":\"x\"}"), "request.object must be an object"},
    {AR("{\"uid\":\"u\",\"object\":{\"metadata\":[]}}"), "request.object.metadata must be an object"},
    {AR("{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":[]}}}"),
     "request.object.metadata.annotations must be an object of strings"},
    {AR("{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{\"a\":1}}}}"),
     "request.object.metadata.annotations must be an object of strings"},
    {AR("{\"uid\":\"u\",\"oldObject\":1}"), "request.oldObject must be an object"},
    {AR("{\"uid\":\"u\",\"oldObject\":{\"metadata\":1}}"), "request.oldObject.metadata must be an object"},
    {AR("{\"uid\":\"u\",\"oldObject\":{\"metadata\":{\"annotations\":{\"a\":{}}}}}"),
     "request.oldObject.metadata.annotations must be an object of strings"},
    {AR("{\"uid\":\"u\",\"dryRun\":\"true\"}"), "request.dryRun must be a boolean"},
    /* Field errors in the order of the struct, whatever the key order. */
    {AR("{\"dryRun\":1,\"name\":1,\"uid\":\"u\"}"), "request.name must be a string"},
    /* A syntax error anywhere wins over a field error before it. */
    {AR("{\"uid\":5,\"x\":[1,]}"), "invalid JSON at byte 87: expected a value"},
    /* Types we do not read are not checked. */
};

static void test_errors(void **state)
{
    struct review r;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        int rc = decode(&r, error_cases[i].json);
        if (rc != -1 || strcmp(err, error_cases[i].err) != 0)
            fail_msg("case %zu '%s': rc %d, error '%s', expected '%s'", i, error_cases[i].json, rc, err,
                     error_cases[i].err);
    }
    /* Fields we do not read may hold anything valid. */
    assert_int_equal(decode(&r, AR("{\"uid\":\"u\",\"options\":1,\"requestKind\":[],\"userInfo\":"
                                   "{\"extra\":{\"other\":7}},\"object\":{\"metadata\":{\"uid\":{}}}}")),
                     0);
}

/* Found by fuzz_review: jansson silently drops a raw NUL byte after a literal
 * or a number (its stream takes NUL for "buffer empty" after an unget); we
 * refuse it like any other stray byte. */
static void test_raw_nul(void **state)
{
    struct review r;
    static const char doc[] = AR("{\"uid\":\"u\",\"object\":null\0,\"dryRun\":false}");
    static const char num[] = "{\"a\":1\0}";
    (void)state;
    assert_int_equal(decode_n(&r, doc, sizeof(doc) - 1), -1);
    assert_string_equal(err, "invalid JSON at byte 95: expected ',' or '}'");
    assert_int_equal(decode_n(&r, num, sizeof(num) - 1), -1);
    assert_string_equal(err, "invalid JSON at byte 6: expected ',' or '}'");
}

/* When the body ends in '}' and whitespace, the skipper reads the byte after
 * a token with no check against the end: a '}' there that closes an inner
 * container leaves only whitespace, and the errors are the same as
 * anywhere (exact-size copies: reads past the end show under ASan). */
static void test_guard(void **state)
{
    static const struct {
        const char *json, *err;
    } cases[] = {
        {"{\"x\":{\"y\":{\"z\":{}}", "invalid JSON at byte 18: unexpected end of input"},
        {"{\"x\":{\"y\":{\"z\":{}} \n\t\r ", "invalid JSON at byte 23: unexpected end of input"},
        {"{\"x\":[[{}]} ", "invalid JSON at byte 10: expected ',' or ']'"},
        {"{\"x\":[\"a\",{\"b\":[1,2]}}\n", "invalid JSON at byte 21: expected ',' or ']'"},
        {"{\"x\":{\"y\":1}} }", "invalid JSON at byte 14: data after the document"},
        {"{\"x\":{\"y\":[tru}  ", "invalid JSON at byte 11: invalid literal"},
        {"{\"x\":{\"y\":[1.}  ", "invalid JSON at byte 13: invalid number"},
        {"{\"x\":{\"y\":\"abc}  ", "invalid JSON at byte 17: unexpected end of input in a string"},
    };
    struct review r;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].json);
        char *copy = malloc(len);
        int rc;
        assert_non_null(copy);
        memcpy(copy, cases[i].json, len);
        rc = decode_n(&r, copy, len);
        free(copy);
        if (rc != -1 || strcmp(err, cases[i].err) != 0)
            fail_msg("case %zu '%s': rc %d, error '%s', expected '%s'", i, cases[i].json, rc, err,
                     cases[i].err);
    }
}

/* Every proper prefix of a real review is invalid JSON, reported within it. */
static void test_truncated(void **state)
{
    struct review r;
    size_t len, n;
    char *buf = slurp("v1-configmap-update.json", &len);
    (void)state;
    for (n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1); /* exact size: reads past the end show under ASan/valgrind */
        unsigned long pos;
        memcpy(copy, buf, n);
        assert_int_equal(decode_n(&r, copy, n), -1);
        if (sscanf(err, "invalid JSON at byte %lu:", &pos) != 1)
            fail_msg("prefix %zu: '%s'", n, err);
        assert_true(pos <= n);
        free(copy);
    }
    assert_int_equal(decode_n(&r, buf, len), 0);
}

/* A growing buffer for big generated reviews. */
struct gen {
    char *buf;
    size_t n, cap;
};

static void gen_put(struct gen *g, const char *s, size_t len)
{
    if (g->n + len > g->cap) {
        g->cap = (g->n + len) * 2;
        g->buf = realloc(g->buf, g->cap);
        assert_non_null(g->buf);
    }
    memcpy(g->buf + g->n, s, len);
    g->n += len;
}

#define GEN(g, lit) gen_put((g), (lit), sizeof(lit) - 1)

/* LEVELS nested containers in the way of a deep custom resource: objects
 * ("spec":{...}) and arrays in turn, a sibling member at some levels; a
 * look-alike "metadata" with annotations at the bottom. */
static void gen_deep(struct gen *g, long levels)
{
    long i;
    for (i = 0; i < levels - 1; i++) {
        if (i % 2 == 0)
            GEN(g, "{\"kind\":\"Node\",\"spec\":");
        else
            GEN(g, "[");
    }
    GEN(g, "{\"metadata\":{\"annotations\":{\"deep\":\"1\"}}}");
    for (i = levels - 2; i >= 0; i--) {
        if (i % 2 == 0)
            GEN(g, "}");
        else if (i % 7 == 0)
            GEN(g, ",{\"x\":[1,\"two\",null]}]");
        else
            GEN(g, "]");
    }
}

/* A custom resource nested 10,000 deep, as Go's encoding/json (kube-apiserver)
 * still accepts, in object and in oldObject: decoded, every field right. */
static void test_deep_custom_resource(void **state)
{
    struct gen g = {0};
    struct review r;
    (void)state;
    GEN(&g, "{\"apiVersion\":\"admission.k8s.io/"
            "v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"deep-1\","
            "\"kind\":{\"group\":\"example.com\",\"version\":\"v1\",\"kind\":\"Tree\"},"
            "\"resource\":{\"group\":\"example.com\",\"version\":\"v1\",\"resource\":\"trees\"},"
            "\"name\":\"t\",\"namespace\":\"shop\",\"operation\":\"UPDATE\","
            "\"userInfo\":{\"username\":\"" USER "\",\"groups\":[\"g1\",\"g2\"],"
            "\"extra\":{\"authentication.kubernetes.io/pod-name\":[\"" POD "\"]}},"
            "\"object\":{\"apiVersion\":\"example.com/v1\",\"kind\":\"Tree\","
            "\"metadata\":{\"name\":\"t\",\"annotations\":{\"leasefence.io/epoch\":\"e/2\"}},\"spec\":");
    gen_deep(&g, 10000);
    GEN(&g, "},\"oldObject\":{\"spec\":");
    gen_deep(&g, 10000);
    GEN(&g, ",\"metadata\":{\"annotations\":{\"leasefence.io/epoch\":\"e/1\"}}},\"dryRun\":true}}");
    assert_int_equal(decode_n(&r, g.buf, g.n), 0);
    assert_str(r.uid, "deep-1");
    assert_str(r.kind_group, "example.com");
    assert_str(r.kind_kind, "Tree");
    assert_str(r.res_resource, "trees");
    assert_str(r.name, "t");
    assert_str(r.namespace_, "shop");
    assert_str(r.operation, "UPDATE");
    assert_str(r.username, USER);
    assert_int_equal(r.ngroups, 2);
    assert_str(r.groups[1], "g2");
    assert_int_equal(r.npod_names, 1);
    assert_str(r.pod_names[0], POD);
    assert_true(r.has_object);
    assert_true(r.has_old_object);
    assert_true(r.dry_run);
    assert_int_equal(r.nannotations, 1);
    assert_str(review_annotation(&r, false, "leasefence.io/epoch"), "e/2");
    assert_int_equal(r.nold_annotations, 1);
    assert_str(review_annotation(&r, true, "leasefence.io/epoch"), "e/1");
    assert_absent(review_annotation(&r, false, "deep"));
    free(g.buf);
}

/* [...] and {"a":...} nested DEPTH deep in all: the review (1), request (2),
 * object (3), then DEPTH - 3 in object.x.  *DEEPEST: where the innermost
 * opens. */
static size_t nested_review(char *buf, size_t cap, long depth, size_t *deepest)
{
    size_t n = (size_t)snprintf(buf, cap, "%s", AR("{\"uid\":\"u\",\"object\":{\"x\":"));
    long i;
    n -= 1; /* drop AR's closing brace */
    for (i = 0; i < depth - 3; i++) {
        *deepest = n;
        if (i % 2 == 0)
            buf[n++] = '[';
        else {
            memcpy(buf + n, "{\"a\":", 5);
            n += 5;
        }
    }
    memcpy(buf + n, "null", 4);
    n += 4;
    for (i = depth - 4; i >= 0; i--)
        buf[n++] = i % 2 == 0 ? ']' : '}';
    memcpy(buf + n, "}}}", 3);
    return n + 3;
}

#define LIMIT REVIEW_MAX_DEPTH
static void test_depth(void **state)
{
    /* 128 levels of object.x (131 in all) fill the skipper's window; more spill */
    static const long depths[] = {127, 130, 131, 132, 133, 4096, 100003, LIMIT - 1, LIMIT, LIMIT + 1};
    size_t cap = 4 * (size_t)REVIEW_MAX_DEPTH + 256, i, deepest;
    char *buf = malloc(cap), msg[128];
    struct review r;
    (void)state;
    for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        size_t n = nested_review(buf, cap, depths[i], &deepest);
        if (depths[i] <= REVIEW_MAX_DEPTH) {
            if (decode_n(&r, buf, n) != 0)
                fail_msg("depth %ld: %s", depths[i], err);
            assert_str(r.uid, "u");
            assert_true(r.has_object);
        } else {
            assert_int_equal(decode_n(&r, buf, n), -1);
            snprintf(msg, sizeof(msg), "invalid JSON at byte %zu: nesting deeper than 1000000 levels",
                     deepest);
            assert_string_equal(err, msg);
        }
    }
    /* Deep nesting beyond the limit stops there, without recursing. */
    memset(buf, '[', 2 * (size_t)REVIEW_MAX_DEPTH);
    assert_int_equal(decode_n(&r, buf, 2 * (size_t)REVIEW_MAX_DEPTH), -1);
    snprintf(msg, sizeof(msg), "invalid JSON at byte %d: nesting deeper than %d levels", REVIEW_MAX_DEPTH,
             REVIEW_MAX_DEPTH);
    assert_string_equal(err, msg);
    /* At the limit, but not an AdmissionReview; then unclosed. */
    memset(buf + REVIEW_MAX_DEPTH, ']', REVIEW_MAX_DEPTH);
    assert_int_equal(decode_n(&r, buf, 2 * (size_t)REVIEW_MAX_DEPTH), -1);
    assert_string_equal(err, "an AdmissionReview must be a JSON object");
    assert_int_equal(decode_n(&r, buf, 2 * (size_t)REVIEW_MAX_DEPTH - 1), -1);
    snprintf(msg, sizeof(msg), "invalid JSON at byte %d: unexpected end of input", 2 * REVIEW_MAX_DEPTH - 1);
    assert_string_equal(err, msg);
    free(buf);
}
#undef LIMIT

/* The bit stack remembers each level's kind: in a document of random arrays
 * and objects 5,000 deep, with runs up and down across the skipper's
 * window, any closing byte turned into the other kind is refused right
 * there. */
static void test_depth_kinds(void **state)
{
    size_t cap = 1 << 20, n, pre, i, closers = 0;
    char *buf = malloc(cap), *open_kind = malloc(cap), msg[128];
    uint64_t seed = 0x2545F4914F6CDD1DULL;
    long depth = 0, steps;
    struct review r;
    (void)state;
    n = pre = (size_t)snprintf(buf, cap, "%s", AR("{\"uid\":\"u\",\"object\":{\"x\":")) - 1;
    /* A walk: mostly down to 5,000, then up and down by hundreds, then all the way up. */
    for (steps = 0; steps < 40; steps++) {
        long target = steps == 0 ? 5000 : steps == 39 ? 0 : (long)(seed % 5000);
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        while (depth < target) {
            if (depth > 0 && open_kind[depth - 1] == '[' && buf[n - 1] != '[')
                buf[n++] = ',';
            if (depth > 0 && open_kind[depth - 1] == '{' && buf[n - 1] != ':') {
                memcpy(buf + n, ",\"k\":", 5);
                n += 5;
            }
            if (seed & 1) {
                memcpy(buf + n, "{\"k\":", 5);
                n += 5;
                open_kind[depth++] = '{';
            } else {
                buf[n++] = '[';
                open_kind[depth++] = '[';
            }
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        }
        while (depth > target) {
            if (buf[n - 1] == ':' || buf[n - 1] == '[' || buf[n - 1] == ',')
                buf[n++] = '0';
            buf[n++] = open_kind[--depth] == '{' ? '}' : ']';
        }
    }
    if (buf[n - 1] == ':')
        buf[n++] = '0';
    memcpy(buf + n, "}}}", 3);
    n += 3;
    if (decode_n(&r, buf, n) != 0)
        fail_msg("the walk: %s", err);
    for (i = pre; i < n - 3; i++) {
        if (buf[i] != '}' && buf[i] != ']')
            continue;
        if (closers++ % 7 != 0)
            continue;
        buf[i] ^= '}' ^ ']';
        assert_int_equal(decode_n(&r, buf, n), -1);
        snprintf(msg, sizeof(msg), "invalid JSON at byte %zu: expected ',' or '%c'", i,
                 buf[i] == '}' ? ']' : '}');
        assert_string_equal(err, msg);
        buf[i] ^= '}' ^ ']';
    }
    assert_true(closers > 10000);
    free(open_kind);
    free(buf);
}

/* Deep nesting costs a bit a level beyond the skipper's window, nothing before. */
static void test_depth_memory(void **state)
{
    size_t cap = 4 * (size_t)REVIEW_MAX_DEPTH + 256, n, deepest;
    char *buf = malloc(cap);
    struct review r;
    (void)state;
    n = nested_review(buf, cap, 120, &deepest);
    allocated = 0;
    assert_int_equal(decode_n(&r, buf, n), 0);
    assert_int_equal(allocated, 0);
    n = nested_review(buf, cap, REVIEW_MAX_DEPTH, &deepest);
    allocated = 0;
    assert_int_equal(decode_n(&r, buf, n), 0);
    if (allocated > 256 * 1024)
        fail_msg("%zu bytes allocated for %d levels", allocated, REVIEW_MAX_DEPTH);
    free(buf);
}

/* One annotations object of N entries "k0".."k{N-1}" under KEY, values
 * the index; "want" every 1000th with its index as value, the last one
 * "last". */
static void gen_annotations(struct gen *g, size_t n, const char *tag)
{
    char entry[64];
    size_t i;
    GEN(g, "{\"metadata\":{\"annotations\":{");
    for (i = 0; i < n; i++) {
        int len = i % 1000 == 999
                      ? snprintf(entry, sizeof(entry), "%s\"want\":\"%s%zu\"", i ? "," : "", tag, i)
                      : snprintf(entry, sizeof(entry), "%s\"k%zu\":\"%zu\"", i ? "," : "", i, i);
        gen_put(g, entry, (size_t)len);
    }
    GEN(g, ",\"want\":\"");
    gen_put(g, tag, strlen(tag));
    GEN(g, "last\",\"leasefence.io\\/epoch\":\"u\\/1\"}}}");
}

/* 200,000 annotations in object and in oldObject: with a want list, the
 * wanted keys and their last values, and the decoder's memory small. */
static void test_want_many_annotations(void **state)
{
    struct gen g = {0};
    struct review r;
    struct review_str keys[] = {{"want", 4}, {"leasefence.io/epoch", 19}, {"absent", 6}, {"want", 4}};
    struct review_want want;
    (void)state;
    review_want_init(&want, keys, 4);
    assert_int_equal(want.nkeys, 3);
    GEN(&g, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\","
            "\"userInfo\":{\"username\":\"x\",\"groups\":[\"g\"]},\"object\":");
    gen_annotations(&g, 200000, "new-");
    GEN(&g, ",\"oldObject\":");
    gen_annotations(&g, 200000, "old-");
    GEN(&g, "}}");

    allocated = 0;
    if (decode_want(&r, g.buf, g.n, &want) != 0)
        fail_msg("%s", err);
    /* Two sides of 3 keys (56 bytes each), the escaped key decoded (6 times
     * the longest wanted), the one group. */
    if (allocated > 1024)
        fail_msg("%zu bytes allocated for 400,000 annotations with 3 wanted keys", allocated);
    assert_int_equal(r.nannotations, 2);
    assert_int_equal(r.nold_annotations, 2);
    assert_str(r.annotations[0].key, "want"); /* first position, last value */
    assert_str(VAL(r.annotations[0]), "new-last");
    assert_str(r.annotations[1].key, "leasefence.io/epoch"); /* escaped in the body */
    assert_str(review_annotation(&r, false, "want"), "new-last");
    assert_str(review_annotation(&r, true, "want"), "old-last");
    assert_str(review_annotation(&r, false, "leasefence.io/epoch"), "u/1");
    assert_str(review_annotation(&r, true, "leasefence.io/epoch"), "u/1");
    assert_absent(review_annotation(&r, false, "absent"));
    assert_str(r.username, "x");
    assert_int_equal(r.ngroups, 1);

    /* Without one, every annotation is kept, and they count towards the item limit. */
    assert_int_equal(decode_n(&r, g.buf, g.n), -1);
    assert_string_equal(err, "request.object.metadata.annotations has too many items: more than 65536 in "
                             "groups, pod names and annotations together");
    free(g.buf);
}

/* What a want list keeps: escaped keys decoded, duplicates (the last value
 * at the first position), the last annotations object, nothing for an
 * empty list; values still type-checked. */
static void test_want_semantics(void **state)
{
    struct review r;
    struct review_str keys[] = {{"b", 1}, {"a", 1}, {"\xc3\xa9", 2}};
    struct review_want want, none;
    static const char dup[] = AR("{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{\"x\":\"1\","
                                 "\"b\":\"b1\",\"\\u0061\":\"a1\",\"\\u00e9\":\"e\\u00e9\",\"b\":\"b2\","
                                 "\"bb\":\"no\",\"b\\u0000\":\"no\",\"a\":null}}}}");
    static const char twice[] = AR("{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{\"a\":\"1\","
                                   "\"b\":\"2\"},\"annotations\":{\"b\":\"3\"}}}}");
    static const char reset[] = AR("{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{\"a\":\"1\"}},"
                                   "\"metadata\":{}}}");
    static const char bad[] = AR("{\"uid\":\"u\",\"oldObject\":{\"metadata\":{\"annotations\":{\"x\":1}}}}");
    (void)state;
    review_want_init(&want, keys, 3);
    review_want_init(&none, NULL, 0);

    assert_int_equal(decode_want(&r, dup, sizeof(dup) - 1, &want), 0);
    assert_int_equal(r.nannotations, 3);
    assert_str(r.annotations[0].key, "b");
    assert_str(VAL(r.annotations[0]), "b2");
    assert_str(r.annotations[1].key, "a");
    assert_str(VAL(r.annotations[1]), "");
    assert_str(r.annotations[2].key, "\xc3\xa9");
    assert_str(VAL(r.annotations[2]), "e\xc3\xa9");
    assert_true(r.annotations[2].escaped);
    assert_int_equal(decode_want(&r, dup, sizeof(dup) - 1, &none), 0);
    assert_int_equal(r.nannotations, 0);
    assert_null(r.annotations);

    assert_int_equal(decode_want(&r, twice, sizeof(twice) - 1, &want), 0);
    assert_int_equal(r.nannotations, 1);
    assert_str(review_annotation(&r, false, "b"), "3");
    assert_absent(review_annotation(&r, false, "a"));
    assert_int_equal(decode_want(&r, reset, sizeof(reset) - 1, &want), 0);
    assert_int_equal(r.nannotations, 0);

    assert_int_equal(decode_want(&r, bad, sizeof(bad) - 1, &want), -1);
    assert_string_equal(err, "request.oldObject.metadata.annotations must be an object of strings");
}

/* Asking a review decoded with a want list for another key is a bug that
 * would read a present annotation as absent: it aborts. */
static void test_want_unlisted_key_aborts(void **state)
{
    struct review r;
    struct review_str keys[] = {{"a", 1}};
    struct review_want want;
    static const char json[] =
        AR("{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{\"b\":\"1\"}}}}");
    int status;
    pid_t pid;
    (void)state;
    review_want_init(&want, keys, 1);
    assert_int_equal(decode_want(&r, json, sizeof(json) - 1, &want), 0);
    assert_absent(review_annotation(&r, false, "a"));
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        review_annotation(&r, false, "b");
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

static void test_item_limit(void **state)
{
    struct review r;
    struct review_want none;
    size_t cap = 16 + 4 * (REVIEW_MAX_ITEMS + 1) + 256, n = 0, i;
    char *buf = malloc(cap);
    (void)state;
    review_want_init(&none, NULL, 0);
    n += (size_t)snprintf(buf, cap, "%s", AR("{\"uid\":\"u\",\"userInfo\":{\"groups\":["));
    n -= 1;
    for (i = 0; i <= REVIEW_MAX_ITEMS; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"\"", i ? "," : "");
    n += (size_t)snprintf(buf + n, cap - n, "]}}}");
    assert_int_equal(decode_n(&r, buf, n), -1);
    assert_string_equal(err, "request.userInfo.groups has too many items: more than 65536 in groups, pod "
                             "names and annotations together");
    assert_int_equal(decode_want(&r, buf, n, &none), -1);
    assert_string_equal(err, "request.userInfo.groups has too many items: more than 65536 in groups and pod "
                             "names together");
    free(buf);
}

/* Duplicate keys cannot multiply the budget: a 7 MiB body repeating a small
 * annotations object allocates a bounded amount; with a want list, next
 * to nothing. */
static void test_memory_bound(void **state)
{
    struct review r;
    struct review_str keys[] = {{"a", 1}, {"c", 1}};
    struct review_want want;
    size_t cap = 7 << 20, n = 0;
    char *buf = malloc(cap);
    static const char chunk[] = "\"annotations\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\"},";
    (void)state;
    review_want_init(&want, keys, 2);
    n += (size_t)snprintf(buf, cap, "%s", AR("{\"uid\":\"u\",\"object\":{\"metadata\":{"));
    n -= 1;
    while (n + sizeof(chunk) + 64 < cap) {
        memcpy(buf + n, chunk, sizeof(chunk) - 1);
        n += sizeof(chunk) - 1;
    }
    n += (size_t)snprintf(buf + n, cap - n, "\"x\":1}}}}");
    allocated = 0;
    assert_int_equal(decode_n(&r, buf, n), -1);
    assert_non_null(strstr(err, "has too many items"));
    assert_true(allocated < (5u << 20));
    allocated = 0;
    assert_int_equal(decode_want(&r, buf, n, &want), 0);
    assert_true(allocated < 256);
    assert_str(review_annotation(&r, false, "c"), "3");
    free(buf);
}

/* The error buffer is always terminated, even when too small; OUT is untouched on error. */
static void test_small_error_buffer(void **state)
{
    struct review r;
    char small[8];
    (void)state;
    memset(&r, 0x5A, sizeof(r));
    assert_int_equal(review_decode(&r, "{}", 2, NULL, test_alloc, NULL, small, sizeof(small)), -1);
    assert_string_equal(small, "apiVers");
    assert_int_equal(review_decode(&r, NULL, 0, NULL, test_alloc, NULL, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid JSON at byte 0: empty input");
    assert_int_equal(((unsigned char *)&r)[0], 0x5A);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_v1_create, free_blocks),
        cmocka_unit_test_teardown(test_v1_update, free_blocks),
        cmocka_unit_test_teardown(test_v1_delete, free_blocks),
        cmocka_unit_test_teardown(test_v1beta1, free_blocks),
        cmocka_unit_test_teardown(test_deployment, free_blocks),
        cmocka_unit_test_teardown(test_tokenreview_connect_status, free_blocks),
        cmocka_unit_test_teardown(test_escapes, free_blocks),
        cmocka_unit_test_teardown(test_lookalikes, free_blocks),
        cmocka_unit_test_teardown(test_key_order_whitespace, free_blocks),
        cmocka_unit_test_teardown(test_duplicate_keys, free_blocks),
        cmocka_unit_test_teardown(test_many_annotations_dedup, free_blocks),
        cmocka_unit_test_teardown(test_escaped_annotation_dedup, free_blocks),
        cmocka_unit_test_teardown(test_nul_and_nulls, free_blocks),
        cmocka_unit_test_teardown(test_errors, free_blocks),
        cmocka_unit_test_teardown(test_raw_nul, free_blocks),
        cmocka_unit_test_teardown(test_guard, free_blocks),
        cmocka_unit_test_teardown(test_truncated, free_blocks),
        cmocka_unit_test_teardown(test_deep_custom_resource, free_blocks),
        cmocka_unit_test_teardown(test_depth, free_blocks),
        cmocka_unit_test_teardown(test_depth_kinds, free_blocks),
        cmocka_unit_test_teardown(test_depth_memory, free_blocks),
        cmocka_unit_test_teardown(test_want_many_annotations, free_blocks),
        cmocka_unit_test_teardown(test_want_semantics, free_blocks),
        cmocka_unit_test_teardown(test_want_unlisted_key_aborts, free_blocks),
        cmocka_unit_test_teardown(test_item_limit, free_blocks),
        cmocka_unit_test_teardown(test_memory_bound, free_blocks),
        cmocka_unit_test_teardown(test_small_error_buffer, free_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
