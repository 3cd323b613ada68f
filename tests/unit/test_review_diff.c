/*
 * Differential test of the AdmissionReview decoder against jansson (the
 * oracle and the exceptions are described in review_ref.h): the corpus in
 * tests/corpus/, byte-level mutations of it, and tree-level mutations that
 * put every JSON type at every path we read and re-serialize with jansson's
 * own escaping (JSON_ENSURE_ASCII gives \u escapes and surrogate pairs).
 * Deterministic: a fixed seed, a bounded number of cases.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lf_file.h"
#include "review_ref.h"

#define MAX_DOCS       64
#define BYTE_MUTATIONS 20000
#define TREE_MUTATIONS 6000

struct doc {
    char name[128];
    char *buf;
    size_t len;
};

static struct doc docs[MAX_DOCS];
static size_t ndocs;

static const char *corpus_dir(void)
{
    const char *d = getenv("REVIEW_CORPUS");
    return d ? d : "tests/corpus";
}

static int cmp_doc(const void *a, const void *b)
{
    return strcmp(((const struct doc *)a)->name, ((const struct doc *)b)->name);
}

static int load_corpus(void **state)
{
    DIR *dir = opendir(corpus_dir());
    struct dirent *de;
    (void)state;
    if (dir == NULL) {
        fprintf(stderr, "cannot open corpus directory '%s' (run from the repository root)\n", corpus_dir());
        return -1;
    }
    while ((de = readdir(dir)) != NULL && ndocs < MAX_DOCS) {
        char path[512], err[768];
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", corpus_dir(), de->d_name);
        docs[ndocs].buf = lf_file_read("corpus document", path, 1u << 20, &docs[ndocs].len, err, sizeof(err));
        if (docs[ndocs].buf == NULL) {
            fprintf(stderr, "%s\n", err);
            closedir(dir);
            return -1;
        }
        snprintf(docs[ndocs].name, sizeof(docs[ndocs].name), "%s", de->d_name);
        ndocs++;
    }
    closedir(dir);
    qsort(docs, ndocs, sizeof(docs[0]), cmp_doc);
    return ndocs > 0 ? 0 : -1;
}

static int free_corpus(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < ndocs; i++)
        free(docs[i].buf);
    return 0;
}

static void dump_case(const char *what, const char *buf, size_t len, const char *why)
{
    size_t i;
    fprintf(stderr, "MISMATCH (%s): %s\ninput (%zu bytes): ", what, why, len);
    for (i = 0; i < len && i < 2000; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
}

/* Every corpus document: accepted by both, every field equal. */
static void test_corpus(void **state)
{
    struct ref_arena arena = {0};
    struct ref_stats st = {0};
    char why[1024];
    size_t i;
    (void)state;
    assert_true(ndocs >= 10);
    for (i = 0; i < ndocs; i++) {
        int rc = ref_diff(docs[i].buf, docs[i].len, &arena, &st, why, sizeof(why));
        if (rc != 0)
            dump_case(docs[i].name, docs[i].buf, docs[i].len, why);
        assert_int_equal(rc, 0);
    }
    /* All of them are valid AdmissionReviews. */
    assert_int_equal(st.accepted, ndocs);
    ref_arena_release(&arena);
}

static void print_stats(const char *what, unsigned long n, const struct ref_stats *st)
{
    printf("%s: %lu cases: %lu accepted, %lu rejected as invalid JSON, %lu rejected on fields, "
           "%lu rejected too deep, %lu too deep for jansson, %lu excluded (NUL in key, numeric overflow), "
           "%lu jansson raw-NUL quirk\n",
           what, n, st->accepted, st->rejected_json, st->rejected_fields, st->rejected_depth, st->too_deep,
           st->excluded, st->nul_quirk);
}

/* A differential run over many inputs: what ref_diff keeps and counts, and the mismatches seen. */
struct diff_run {
    struct ref_arena arena;
    struct ref_stats st;
    unsigned long failures;
    char why[1024];
};

/* Compares review_decode with the reference on BUF; a mismatch is counted, the first five printed. */
static void diff_case(struct diff_run *run, const char *what, const char *buf, size_t len)
{
    if (ref_diff(buf, len, &run->arena, &run->st, run->why, sizeof(run->why)) != 0 && run->failures++ < 5)
        dump_case(what, buf, len, run->why);
}

/* Prints RUN's counts over N cases, releases its arena and asserts that no case was a mismatch. */
static void diff_finish(struct diff_run *run, const char *what, unsigned long n)
{
    print_stats(what, n, &run->st);
    ref_arena_release(&run->arena);
    assert_int_equal(run->failures, 0);
}

static void test_byte_mutations(void **state)
{
    struct diff_run run = {0};
    uint64_t seed = UINT64_C(0x9E3779B97F4A7C15);
    size_t cap = 64 * 1024, i;
    char *buf = malloc(cap);
    (void)state;
    for (i = 0; i < BYTE_MUTATIONS; i++) {
        /* Small documents more often: the big one costs ten times more. */
        const struct doc *d = &docs[ref_rand(&seed) % ndocs];
        size_t len;
        if (d->len > 8192 && ref_rand(&seed) % 4 != 0)
            d = &docs[ref_rand(&seed) % ndocs];
        len = ref_mutate(&seed, d->buf, d->len, buf, cap);
        diff_case(&run, d->name, buf, len);
    }
    diff_finish(&run, "byte mutations", BYTE_MUTATIONS);
    /* The mutations must reach both sides of the decision. */
    assert_true(run.st.accepted > BYTE_MUTATIONS / 50);
    assert_true(run.st.rejected_json > BYTE_MUTATIONS / 4);
    free(buf);
}

static const char *const paths[][5] = {
    {"apiVersion"},
    {"kind"},
    {"request"},
    {"request", "uid"},
    {"request", "kind"},
    {"request", "kind", "group"},
    {"request", "kind", "version"},
    {"request", "kind", "kind"},
    {"request", "resource"},
    {"request", "resource", "group"},
    {"request", "resource", "version"},
    {"request", "resource", "resource"},
    {"request", "subResource"},
    {"request", "name"},
    {"request", "namespace"},
    {"request", "operation"},
    {"request", "userInfo"},
    {"request", "userInfo", "username"},
    {"request", "userInfo", "uid"},
    {"request", "userInfo", "groups"},
    {"request", "userInfo", "extra"},
    {"request", "userInfo", "extra", REVIEW_POD_NAME_KEY},
    {"request", "object"},
    {"request", "object", "metadata"},
    {"request", "object", "metadata", "annotations"},
    {"request", "object", "metadata", "annotations", "leasefence.io/epoch"},
    {"request", "oldObject"},
    {"request", "oldObject", "metadata"},
    {"request", "oldObject", "metadata", "annotations"},
    {"request", "oldObject", "metadata", "annotations", "new-\xc3\xa9-\xf0\x9f\x98\x80"},
    {"request", "dryRun"},
    {"request", "object", "metadata", "uid"},
    {"request", "object", "spec"},
};

static json_t *random_value(uint64_t *seed, int depth)
{
    static const char *const strings[] = {
        "",
        "plain",
        "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
        "tab\there \"q\" \\ /",
        "admission.k8s.io/v1",
        "admission.k8s.io/v1beta1",
        "AdmissionReview",
        "CREATE",
        "\x01\x1f\x7f<>&",
        "\xe2\x80\xa8\xe2\x80\xa9",
        "system:serviceaccount:shop:controller",
    };
    json_t *v, *e;
    int i, n;
    switch (ref_rand(seed) % (depth > 2 ? 7 : 10)) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(ref_rand(seed) & 1);
    case 2:
        return json_integer((json_int_t)(ref_rand(seed) % 2000000) - 1000000);
    case 3:
        return json_real((double)(ref_rand(seed) % 100000) / 7.0);
    case 4:
    case 5:
    case 6:
        return json_string(strings[ref_rand(seed) % (sizeof(strings) / sizeof(strings[0]))]);
    case 7:
    case 8: /* array, mostly of strings */
        v = json_array();
        n = (int)(ref_rand(seed) % 4);
        for (i = 0; i < n; i++) {
            e = ref_rand(seed) % 4
                    ? json_string(strings[ref_rand(seed) % (sizeof(strings) / sizeof(strings[0]))])
                    : random_value(seed, depth + 1);
            json_array_append_new(v, e);
        }
        return v;
    default: /* object, mostly of strings */
        v = json_object();
        n = (int)(ref_rand(seed) % 4);
        for (i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof(key), "k%d-\xc3\xa9", (int)(ref_rand(seed) % 5));
            e = ref_rand(seed) % 4
                    ? json_string(strings[ref_rand(seed) % (sizeof(strings) / sizeof(strings[0]))])
                    : random_value(seed, depth + 1);
            json_object_set_new(v, key, e);
        }
        return v;
    }
}

/* Sets or deletes PATH in ROOT, creating no parents; returns 0 when done. */
static int mutate_path(json_t *root, const char *const *path, json_t *value)
{
    json_t *o = root;
    int i;
    for (i = 0; i < 4 && path[i + 1] != NULL; i++) {
        o = json_object_get(o, path[i]);
        if (!json_is_object(o)) {
            json_decref(value);
            return -1;
        }
    }
    if (value == NULL)
        return json_object_del(o, path[i]);
    return json_object_set_new(o, path[i], value);
}

static void test_tree_mutations(void **state)
{
    struct diff_run run = {0};
    uint64_t seed = UINT64_C(0xD1B54A32D192ED03);
    unsigned long i, done = 0;
    (void)state;
    for (i = 0; i < TREE_MUTATIONS; i++) {
        const struct doc *d = &docs[ref_rand(&seed) % ndocs];
        json_t *root = json_loadb(d->buf, d->len, JSON_ALLOW_NUL, NULL);
        int k, nmut = 1 + (int)(ref_rand(&seed) % 3);
        size_t flags;
        char *text;
        if (root == NULL || (d->len > 8192 && ref_rand(&seed) % 4 != 0)) {
            json_decref(root);
            continue;
        }
        for (k = 0; k < nmut; k++) {
            const char *const *path = paths[ref_rand(&seed) % (sizeof(paths) / sizeof(paths[0]))];
            mutate_path(root, path, ref_rand(&seed) % 8 == 0 ? NULL : random_value(&seed, 0));
        }
        flags = 0;
        switch (ref_rand(&seed) % 4) {
        case 0:
            flags = JSON_COMPACT;
            break;
        case 1:
            flags = JSON_COMPACT | JSON_ENSURE_ASCII;
            break;
        case 2:
            flags = JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_SORT_KEYS;
            break;
        default:
            flags = JSON_INDENT(1) | JSON_ESCAPE_SLASH;
            break;
        }
        text = json_dumps(root, flags);
        json_decref(root);
        if (text == NULL)
            continue;
        done++;
        diff_case(&run, d->name, text, strlen(text));
        free(text);
    }
    diff_finish(&run, "tree mutations", done);
    assert_true(run.st.accepted > done / 10);
    assert_true(run.st.rejected_fields > done / 10);
}

/* LEVELS nested containers at BUF: arrays, every third an object, some
 * with a member after the inner one; returns the bytes written. */
static size_t deep_value(char *buf, long levels)
{
    size_t n = 0;
    long i;
    for (i = 0; i < levels - 1; i++) {
        if (i % 3 == 2) {
            memcpy(buf + n, "{\"k\":", 5);
            n += 5;
        } else {
            buf[n++] = '[';
        }
    }
    memcpy(buf + n, (levels - 1) % 3 == 2 ? "{}" : "[]", 2);
    n += 2;
    for (i = levels - 2; i >= 0; i--) {
        if (i % 3 == 2) {
            memcpy(buf + n, i % 5 == 0 ? ",\"z\":0}" : "}", i % 5 == 0 ? 7 : 1);
            n += i % 5 == 0 ? 7 : 1;
        } else {
            memcpy(buf + n, i % 5 == 0 ? ",0]" : "]", i % 5 == 0 ? 3 : 1);
            n += i % 5 == 0 ? 3 : 1;
        }
    }
    return n;
}

static size_t put(char *dst, const char *s)
{
    size_t n = strlen(s);
    memcpy(dst, s, n);
    return n;
}

/* A review DEPTH containers deep in object and in oldObject: the review (1),
 * request (2), the object (3), then DEPTH - 3 in x; none at all when
 * DEPTH is 0. */
static size_t deep_review(char *buf, long depth)
{
    size_t n = 0;
    n += put(buf + n, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                      "\"request\":{\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":"
                      "{\"a\":\"1\"}},\"x\":");
    n += depth > 0 ? deep_value(buf + n, depth - 3) : put(buf + n, "null");
    n += put(buf + n, "},\"oldObject\":{\"x\":");
    n += depth > 0 ? deep_value(buf + n, depth - 3) : put(buf + n, "null");
    n += put(buf + n, ",\"metadata\":{\"annotations\":{\"a\":\"0\"}}}}}");
    return n;
}

/* Nesting around jansson's limit (2048) and ours, in object and oldObject.
 * Deeper than jansson goes, our fields must be those jansson reads from the
 * same review without the deep values. */
#define LIMIT REVIEW_MAX_DEPTH
static void test_depth_differential(void **state)
{
    static const long depths[] = {2047, 2048, 2049, 2050, 10003, 100000, LIMIT - 1, LIMIT, LIMIT + 1};
    struct ref_arena arena = {0};
    struct ref_stats st = {0};
    char why[1024], err[256], *buf = malloc(16 * (size_t)REVIEW_MAX_DEPTH);
    json_t *shallow;
    size_t i, n;
    (void)state;
    n = deep_review(buf, 0);
    shallow = json_loadb(buf, n, 0, NULL);
    assert_non_null(shallow);
    for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        struct review r;
        n = deep_review(buf, depths[i]);
        assert_int_equal(ref_raw_depth(buf, n), depths[i]);
        if (ref_diff(buf, n, &arena, &st, why, sizeof(why)) != 0)
            fail_msg("depth %ld: %s", depths[i], why);
        if (depths[i] > 2048 && depths[i] <= REVIEW_MAX_DEPTH) {
            const char *f;
            assert_int_equal(review_decode(&r, buf, n, NULL, ref_arena_alloc, &arena, err, sizeof(err)), 0);
            if ((f = ref_compare_fields(&r, shallow, NULL)) != NULL)
                fail_msg("depth %ld: field %s differs from jansson's reading without the deep values",
                         depths[i], f);
            ref_arena_clear(&arena);
        }
    }
    assert_int_equal(st.accepted, 2);       /* up to 2048 */
    assert_int_equal(st.too_deep, 6);       /* 2049 .. REVIEW_MAX_DEPTH */
    assert_int_equal(st.rejected_depth, 1); /* REVIEW_MAX_DEPTH + 1 */
    json_decref(shallow);
    free(buf);
    ref_arena_release(&arena);
}
#undef LIMIT

/* The documented differences, and the inputs the fuzzer found on them. */
static void test_known_differences(void **state)
{
    struct ref_arena arena = {0};
    struct ref_stats st = {0};
    char why[1024];
    static const char raw_nul[] = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                                  "\"request\":{\"uid\":\"u\",\"object\":null\0,\"x\":1\0}}";
    static const char nul_key[] = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                                  "\"request\":{\"uid\":\"u\",\"a\\u0000b\":1}}";
    static const char nul_value[] = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                                    "\"request\":{\"uid\":\"u\\u0000\"}}";
    static const char big[] = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                              "\"request\":{\"uid\":\"u\",\"n\":[99999999999999999999,1e400]}}";
    (void)state;
    assert_int_equal(ref_diff(raw_nul, sizeof(raw_nul) - 1, &arena, &st, why, sizeof(why)), 0);
    assert_int_equal(st.nul_quirk, 1);
    assert_int_equal(st.accepted, 1); /* the document without its NUL bytes */
    assert_int_equal(ref_diff("\"a\"", 3, &arena, &st, why, sizeof(why)), 0);
    assert_int_equal(ref_diff("17", 2, &arena, &st, why, sizeof(why)), 0);
    assert_int_equal(st.rejected_json, 2);
    assert_int_equal(ref_diff(nul_key, sizeof(nul_key) - 1, &arena, &st, why, sizeof(why)), 0);
    assert_int_equal(ref_diff(big, sizeof(big) - 1, &arena, &st, why, sizeof(why)), 0);
    assert_int_equal(st.excluded, 2);
    assert_int_equal(ref_diff(nul_value, sizeof(nul_value) - 1, &arena, &st, why, sizeof(why)), 0);
    assert_int_equal(st.accepted, 2); /* jansson with JSON_ALLOW_NUL */
    ref_arena_release(&arena);
}

/*
 * The string scanner takes runs of 64 or 16 bytes of embedded JSON (ASCII,
 * every backslash a \" inside the run) from masks, and everything else stop
 * by stop from the same masks: every tricky string body at every offset from
 * a run boundary, in an annotation value (kept raw, decoded on demand), an
 * annotation key, a skipped field and the uid, whole and cut short, against
 * jansson.
 */
static void test_string_blocks(void **state)
{
    static const char *const bodies[] = {
        "\\\"",
        "\\\\",
        "\\\\\\\"",
        "\\\\\\\\",
        "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"",
        "\\\"x\\\"",
        "\\/",
        "\\n\\t",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\xc3\xa9",
        "\xf0\x9f\x98\x80",
        "\\\"\xc3\xa9\\\"",
        "\\x",
        "\\",
        "\\\\\\",
        "\x01",
        "\x7f",
        "\xff",
        "\xc3",
        "\\u12",
        "\\ud83d",
        "\\ude00",
        "\\ud83d\\u0041",
        "\\u0000",
        "\\\"\"",
        "a\"b",
        /* longer than a run of 64: escapes across its end */
        "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
        "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"",
        "\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n"
        "\\u00e9",
    };
#define HEAD "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
    static const char *const shapes[][2] = {
        /* the document before and after the string body */
        {HEAD "\"uid\":\"u\",\"object\":{\"metadata\":{\"annotations\":{\"k\":\"", "\",\"e\":\"1\"}}}}}"},
        {HEAD "\"uid\":\"u\",\"oldObject\":{\"metadata\":{\"annotations\":{\"", "\":\"v\"}}}}}"},
        {HEAD "\"uid\":\"u\",\"object\":{\"spec\":{\"x\":[\"", "\",1]}}}}"},
        {HEAD "\"uid\":\"", "\"}}"},
    };
#undef HEAD
    struct diff_run run = {0};
    char body[512], doc[1024];
    unsigned long cases = 0;
    size_t b, sh, pre, post, cut;
    (void)state;
    for (sh = 0; sh < sizeof(shapes) / sizeof(shapes[0]); sh++)
        for (b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++)
            for (pre = 0; pre < 72; pre++)
                for (post = 0; post < 80; post += 19) {
                    int n;
                    size_t len;
                    memset(body, 'a', pre);
                    n = snprintf(body + pre, sizeof(body) - pre, "%s", bodies[b]);
                    memset(body + pre + (size_t)n, 'z', post);
                    body[pre + (size_t)n + post] = '\0';
                    n = snprintf(doc, sizeof(doc), "%s%s%s", shapes[sh][0], body, shapes[sh][1]);
                    assert_true(n > 0 && (size_t)n < sizeof(doc));
                    len = (size_t)n;
                    /* whole, then cut inside and just after the string */
                    for (cut = 0; cut < 7; cut++) {
                        /* cut 4..6: a run of 16, two, or 16 then 64 after
                         * the body's first byte ends exactly at the end */
                        static const size_t runs[] = {16, 32, 80};
                        size_t at = strlen(shapes[sh][0]), l = len;
                        if (cut == 1)
                            l = at + pre;
                        else if (cut == 2)
                            l = at + pre + strlen(bodies[b]);
                        else if (cut == 3)
                            l = at + strlen(body) + 1;
                        else if (cut >= 4 && at + pre + runs[cut - 4] < len)
                            l = at + pre + runs[cut - 4];
                        else if (cut >= 4)
                            continue;
                        cases++;
                        /* an exact-size copy: under ASan (make sanitize) any read
                         * past the end of the body is caught */
                        char *exact = malloc(l);
                        assert_non_null(exact);
                        memcpy(exact, doc, l);
                        diff_case(&run, "string blocks", exact, l);
                        free(exact);
                    }
                }
    diff_finish(&run, "string blocks", cases);
    assert_true(run.st.accepted > cases / 16);
    assert_true(run.st.rejected_json > cases / 4);
}

/*
 * The skipper (most of a review goes through it) takes plain strings in
 * steps of 16 bytes, reads the byte after a token unchecked when the body
 * ends in '}' (then whitespace), and suspends on anything unusual: a
 * skipped subtree with strings of every length from 0 to 40 and every kind
 * of token, shifted by 0 to 15 bytes, with every byte in turn replaced by
 * each of a set of troublesome bytes or the body cut there, compact or
 * spaced, with and without whitespace after the last '}', against jansson.
 */
static void test_skipped_corruption(void **state)
{
#define HEAD                                                                                                 \
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\","
    static const char *const subtrees[] = {
        /* compact */
        "{\"\":\"\",\"a\":\"b\",\"abcdefghijklmno\":\"abcdefghijklmnop\",\"abcdefghijklmnopq\":["
        "\"abcdefghijklmnopqrstuvwxyz12345\","
        "\"abcdefghijklmnopqrstuvwxyz123456\",\"abcdefghijklmnopqrstuvwxyz0123456789abcd\"],\"n\":[0,-1,2.5,-"
        "0.0e+12,1E9,"
        "true,false,null,{},[],[{}],{\"x\":[]}],\"e\":\"\\\"q\\\"\\n\\u00e9\\ud83d\\ude00\",\"u\":"
        "\"\xc3\xa9\xe2\x82\xac\"}",
        /* spaced */
        "{ \"a\" : \"b\" ,\n\t\"abcdefghijklmnop\" :[ \"abcdefghijklmnopqrstuvwxyz12345\" , 1 , true ] ,\r\n"
        "\"n\" : { \"x\" : [ null , { } , [ ] ] } , \"e\" : \"\\\\\" }",
    };
    static const char *const tails[] = {"}}}", "}}} \n\t\r ", "}} \n} \n"};
    static const unsigned char bytes[] = {'"', '\\', 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xff, '}', ']', '{', '[',
                                          ',', ':',  ' ',  '\n', 0,    'x',  '0',  '-',  '.', 'e', 't', 'n'};
    struct diff_run run = {0};
    char doc[1024];
    unsigned long cases = 0;
    size_t t, tail, shift, at, b;
    (void)state;
    for (t = 0; t < sizeof(subtrees) / sizeof(subtrees[0]); t++)
        for (tail = 0; tail < sizeof(tails) / sizeof(tails[0]); tail++)
            for (shift = 0; shift < 16; shift++) {
                /* "spec" pads the key by SHIFT bytes: every string meets every 16-byte offset */
                int n = snprintf(doc, sizeof(doc), HEAD "\"object\":{\"spec%.*s\":%s%s", (int)shift,
                                 "0123456789abcdef", subtrees[t], tails[tail]);
                size_t len = (size_t)n, from = strlen(HEAD "\"object\":{\"spec\":") + shift;
                size_t to = from + strlen(subtrees[t]);
                assert_true(n > 0 && (size_t)n < sizeof(doc));
                for (at = from; at <= to; at++)
                    for (b = 0; b <= sizeof(bytes); b++) {
                        /* b == sizeof(bytes): the body cut at AT */
                        size_t l = b < sizeof(bytes) ? len : at;
                        char *exact = malloc(l ? l : 1); /* exact size: ASan sees reads past the end */
                        assert_non_null(exact);
                        memcpy(exact, doc, l);
                        if (b < sizeof(bytes))
                            exact[at] = (char)bytes[b];
                        cases++;
                        diff_case(&run, "skipped corruption", exact, l);
                        free(exact);
                    }
            }
#undef HEAD
    diff_finish(&run, "skipped corruption", cases);
    assert_true(run.st.accepted > cases / 20);
    assert_true(run.st.rejected_json > cases / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_string_blocks),
        cmocka_unit_test(test_skipped_corruption),
        cmocka_unit_test(test_depth_differential),
        cmocka_unit_test(test_known_differences),
        cmocka_unit_test(test_tree_mutations),
        cmocka_unit_test(test_byte_mutations),
    };
    return cmocka_run_group_tests(tests, load_corpus, free_corpus);
}
