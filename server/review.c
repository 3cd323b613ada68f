/*
 * The AdmissionReview decoder: one pass over the body, no tree.
 *
 * A JSON scanner validates the whole document (RFC 8259: string contents,
 * escapes, UTF-8, numbers, literals, nesting, nothing after the value) while
 * a handful of path-specific functions (field_*, at most six deep) pick out
 * the fields of struct review.  Everything off those paths (most of a big
 * review: managedFields, spec, status, twice in an UPDATE) goes through
 * skip_value, an iterative loop that only validates, written for
 * instruction count: whitespace is looked for only where compact JSON has
 * none, plain strings take one or two steps of 16 bytes, and when the body
 * ends in '}' the byte after each token is read with no check against the
 * end (see skip_value).  Nesting costs nothing up to 128 skipped containers
 * (the skipper's own stack), then a bit a level from the allocator, up to
 * REVIEW_MAX_DEPTH.  Strings stay in the body unless they hold escapes.
 * Annotation values with escapes stay in the body too, validated but
 * undecoded, flagged review_kv.escaped: review_kv_value decodes the one or
 * two that are read; embedded JSON (kubectl's last-applied-configuration)
 * is validated 64 bytes per step (embedded_runs).
 *
 * With a want list, annotations are matched against it as they are read
 * and only the wanted ones kept (struct kept): the memory for them depends
 * on the list, not on the body.
 *
 * Duplicate keys: the last one wins, for the value and for its type check,
 * so every field has a "wrong type" bit that each assignment rewrites, and
 * assigning an object resets what was collected under it.  Field errors are
 * reported only once the whole document is known to be valid JSON, so a
 * syntax error always wins over a field error.
 *
 * "\u0000" is accepted in strings and keys, as Go's encoding/json (which
 * kube-apiserver uses) does; decoded strings carry a length, so a NUL inside
 * one cannot truncate anything.
 */
#include "review.h"
#include "lf_fatal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
/* AVX2 code for the CPUs that have it, chosen at run time: the guarded
 * skipper with VEX encodings and embedded_runs 32 bytes per step.
 * -DREVIEW_NO_AVX2 builds the SSE2 code alone, to test it on a machine
 * with AVX2. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(REVIEW_NO_AVX2)
#define HAVE_AVX2 1
#include <immintrin.h>
#endif

#define STR_(x) #x
#define STR(x)  STR_(x)

/* Fields we read, in the order their errors are reported.  Each one's
 * descendants follow it; fields[].last says where its subtree ends. */
enum field {
    F_API_VERSION,
    F_KIND,
    F_REQUEST,
    F_UID,
    F_RKIND,
    F_RKIND_GROUP,
    F_RKIND_VERSION,
    F_RKIND_KIND,
    F_RES,
    F_RES_GROUP,
    F_RES_VERSION,
    F_RES_RESOURCE,
    F_SUB_RESOURCE,
    F_NAME,
    F_NAMESPACE,
    F_OPERATION,
    F_USER_INFO,
    F_USERNAME,
    F_USER_UID,
    F_GROUPS,
    F_EXTRA,
    F_POD_NAMES,
    F_OBJECT,
    F_OBJECT_META,
    F_OBJECT_ANN,
    F_OLD,
    F_OLD_META,
    F_OLD_ANN,
    F_DRY_RUN,
    F_COUNT
};

static const struct field_info {
    const char *name, *want;
    unsigned char last; /* last field of this one's subtree */
} fields[F_COUNT] = {
    [F_API_VERSION] = {"apiVersion", "a string", F_API_VERSION},
    [F_KIND] = {"kind", "a string", F_KIND},
    [F_REQUEST] = {"request", "an object", F_DRY_RUN},
    [F_UID] = {"request.uid", "a string", F_UID},
    [F_RKIND] = {"request.kind", "an object", F_RKIND_KIND},
    [F_RKIND_GROUP] = {"request.kind.group", "a string", F_RKIND_GROUP},
    [F_RKIND_VERSION] = {"request.kind.version", "a string", F_RKIND_VERSION},
    [F_RKIND_KIND] = {"request.kind.kind", "a string", F_RKIND_KIND},
    [F_RES] = {"request.resource", "an object", F_RES_RESOURCE},
    [F_RES_GROUP] = {"request.resource.group", "a string", F_RES_GROUP},
    [F_RES_VERSION] = {"request.resource.version", "a string", F_RES_VERSION},
    [F_RES_RESOURCE] = {"request.resource.resource", "a string", F_RES_RESOURCE},
    [F_SUB_RESOURCE] = {"request.subResource", "a string", F_SUB_RESOURCE},
    [F_NAME] = {"request.name", "a string", F_NAME},
    [F_NAMESPACE] = {"request.namespace", "a string", F_NAMESPACE},
    [F_OPERATION] = {"request.operation", "a string", F_OPERATION},
    [F_USER_INFO] = {"request.userInfo", "an object", F_POD_NAMES},
    [F_USERNAME] = {"request.userInfo.username", "a string", F_USERNAME},
    [F_USER_UID] = {"request.userInfo.uid", "a string", F_USER_UID},
    [F_GROUPS] = {"request.userInfo.groups", "an array of strings", F_GROUPS},
    [F_EXTRA] = {"request.userInfo.extra", "an object", F_POD_NAMES},
    [F_POD_NAMES] = {"request.userInfo.extra[\"" REVIEW_POD_NAME_KEY "\"]", "an array of strings",
                     F_POD_NAMES},
    [F_OBJECT] = {"request.object", "an object", F_OBJECT_ANN},
    [F_OBJECT_META] = {"request.object.metadata", "an object", F_OBJECT_ANN},
    [F_OBJECT_ANN] = {"request.object.metadata.annotations", "an object of strings", F_OBJECT_ANN},
    [F_OLD] = {"request.oldObject", "an object", F_OLD_ANN},
    [F_OLD_META] = {"request.oldObject.metadata", "an object", F_OLD_ANN},
    [F_OLD_ANN] = {"request.oldObject.metadata.annotations", "an object of strings", F_OLD_ANN},
    [F_DRY_RUN] = {"request.dryRun", "a boolean", F_DRY_RUN},
};

/* Longest key we ever compare against, decoded. */
#define KEY_MAX 64

/* Containers the skipper holds on its own stack (struct skip); deeper ones
 * spill to struct dec's bit stack, half a window at a time. */
#define SKIP_WINDOW 128
/* So a skipper starts with a full window wherever field_* call it. */
_Static_assert(REVIEW_MAX_DEPTH >= 2 * SKIP_WINDOW, "REVIEW_MAX_DEPTH below the skipper's window");

/* The wanted annotations of one object, by first occurrence, each with its
 * last value; reused by every annotations object on that side. */
struct kept {
    struct review_kv *kv; /* N of them: what the review gets */
    size_t *key;          /* for each of KV, its index in the want list */
    size_t *at;           /* for each wanted key, its index in KV + 1, 0 when absent */
    size_t n;
};

struct dec {
    const unsigned char *base, *p, *end;
    review_alloc_fn alloc;
    void *ctx;
    int depth;          /* containers the field_* functions are in */
    const char *syntax; /* set once: what was wrong, at byte POS */
    size_t pos;
    const char *limit;              /* the field that went over REVIEW_MAX_ITEMS */
    size_t items;                   /* entries of all arrays so far, duplicate keys included */
    const struct review_want *want; /* NULL: keep every annotation */
    uint64_t *spill;                /* the skipper's containers below its window: '}' 1, ']' 0 */
    size_t nspill, spillcap;        /* levels in SPILL, bits allocated */
    bool not_object;                /* valid JSON, but not an object */
    bool kept_ready;                /* KEPT and KEYBUF cleared (on the first annotations object) */
    uint64_t bad;                   /* fields of the wrong type, by enum field */
    const unsigned char *guard;     /* the body's last non-whitespace byte when a '}', else BASE */
    uintptr_t below16, below32;     /* a string opening below may take 1 or 2 steps of 16 bytes */
    struct review_str api_version, kind;
    bool has_request;
    /* Not zeroed by review_decode: R is set by field_request and read only
     * when there was a request; the rest is cleared when first needed. */
    struct review r;
    struct kept kept[2]; /* with WANT: object's, oldObject's */
    char *keybuf;        /* with WANT: an escaped key, decoded (6 * want->maxlen bytes) */
};

struct key {
    const char *ptr;
    size_t len;
    char buf[KEY_MAX];
};

static const char empty_string[1] = "";

static int fail(struct dec *d, const unsigned char *at, const char *what)
{
    d->syntax = what;
    d->pos = (size_t)(at - d->base);
    return -1;
}

/* Assigning field F (of any type) forgets what its subtree held. */
static void assign(struct dec *d, enum field f, bool bad)
{
    uint64_t mask = ((UINT64_C(1) << (fields[f].last + 1)) - 1) & ~((UINT64_C(1) << f) - 1);
    d->bad &= ~mask;
    if (bad)
        d->bad |= UINT64_C(1) << f;
}

#define IS_WS(c) ((c) <= ' ' && ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t'))

static inline void skip_ws(struct dec *d)
{
    const unsigned char *p = d->p, *end = d->end;
    if (p<end && * p> ' ') /* compact JSON: no whitespace at all */
        return;
    while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    d->p = p;
}

#ifdef __SSE2__
/* The bytes of P[0..16) that end a run of plain string contents, as a bit
 * mask: '"', '\\', control characters and non-ASCII bytes.  V ^ 0xFD is
 * ~(V ^ 2): V ^ 2 turns '"' into ' ' and takes no other byte below '!', and
 * the complement turns "below '!'" into "above ~'!'", so that one signed
 * compare (the one SSE2 has) catches quotes, control characters and
 * non-ASCII bytes at once. */
static inline unsigned stops16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p), k = _mm_set1_epi8((char)~'!');
    /* Hidden from GCC, which would compare the other way round and negate: one more instruction. */
    __asm__("" : "+x"(k));
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpgt_epi8(_mm_xor_si128(v, _mm_set1_epi8((char)0xFD)), k),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}
#endif

/* First byte at or after P that ends a run of plain string bytes: '"', '\\',
 * a control character or a non-ASCII byte; END if none. */
static inline const unsigned char *scan_plain(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    while (end - p >= 16) {
        unsigned mask = stops16(p);
        if (mask != 0)
            return p + (unsigned)__builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* Length of the valid UTF-8 sequence at P (first byte >= 0x80), 0 if invalid
 * (overlong, surrogate, above U+10FFFF, truncated): the rules of jansson's utf.c. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t n, i;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        n = 2;
    else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

static int hex4(const unsigned char *p)
{
    int v = 0, i;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (int)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (int)((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* Validates one escape at P (the byte after '\\'); returns the byte after it. */
static const unsigned char *check_escape(struct dec *d, const unsigned char *p)
{
    int u, lo;
    if (p >= d->end)
        return fail(d, p, "unexpected end of input in a string"), NULL;
    switch (*p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return p + 1;
    case 'u':
        break;
    default:
        return fail(d, p - 1, "invalid escape in a string"), NULL;
    }
    if (d->end - p < 5 || (u = hex4(p + 1)) < 0)
        return fail(d, p - 1, "invalid \\u escape"), NULL;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return fail(d, p - 1, "lone low surrogate in \\u escape"), NULL;
    if (u >= 0xD800 && u <= 0xDBFF) {
        if (d->end - p < 11 || p[5] != '\\' || p[6] != 'u' || (lo = hex4(p + 7)) < 0 || lo < 0xDC00 ||
            lo > 0xDFFF)
            return fail(d, p - 1, "lone high surrogate in \\u escape"), NULL;
        return p + 11;
    }
    return p + 5;
}

/* One stop of a string other than its closing quote, at S: an escape, a
 * non-ASCII sequence or an error.  Returns the byte after it, NULL on error. */
static inline const unsigned char *string_stop(struct dec *d, const unsigned char *s, bool *esc)
{
    size_t n;
    if (*s == '\\') {
        *esc = true;
        if (s + 1 < d->end && s[1] == '"') /* the common one, in embedded JSON */
            return s + 2;
        return check_escape(d, s + 1);
    }
    if (*s < 0x20)
        return fail(d, s, "control character in a string"), NULL;
    if ((n = utf8_len(s, d->end)) == 0)
        return fail(d, s, "invalid UTF-8 in a string"), NULL;
    return s + n;
}

/*
 * The common case of a string with escapes, embedded JSON, decided from the
 * masks of WIDTH (16 or 64) bytes: Q of quotes, B of backslashes, C of
 * control and non-ASCII bytes.  When every backslash up to the first quote
 * it does not escape is a \" inside the run, with no control or non-ASCII
 * byte before that quote, returns that quote's offset, or when there is
 * none how many bytes are string contents (WIDTH, or WIDTH - 1 when the last
 * is a backslash escaping the next run's first), and sets *ESC when there
 * was a backslash.  Otherwise -1: the run needs taking stop by stop.
 */
static inline int embedded_run(uint64_t q, uint64_t b, uint64_t c, int width, bool *esc)
{
    uint64_t escaped = b << 1, endq = q & ~escaped;
    uint64_t before = endq != 0 ? (endq & -endq) - 1 : ~UINT64_C(0); /* the bytes before the end */
    /* control/non-ASCII, a backslash escaping a backslash, an escape other than \" */
    if (((c | (b & escaped) | (escaped & ~q)) & before) != 0)
        return -1;
    if ((b & before) != 0)
        *esc = true;
    if (endq != 0)
        return __builtin_ctzll(endq);
    return width - (int)(b >> (width - 1)); /* a last backslash goes with the next run */
}

/*
 * Embedded JSON at full stride: from P, whose previous byte is not a
 * backslash, skips runs of 64 bytes in which every quote is escaped, every
 * backslash escapes a quote and no byte is a control or non-ASCII one.  A
 * byte is suspect when it is a quote and the byte before it is not a
 * backslash, or the other way round (which also catches "\\\\"), or when it
 * is control or non-ASCII; comparing the bytes before each byte (a second
 * load, one byte back) against '\\' needs no carry between runs.  Returns
 * the first run with a suspect byte (or with fewer than 64 bytes left),
 * stepped back one byte when that byte is a backslash so that no escape
 * straddles the start; sets *ESC when a skipped run held an escape.
 */
static const unsigned char *embedded_runs(const unsigned char *p, const unsigned char *end, bool *esc)
{
    const unsigned char *start = p;
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), up = _mm_set1_epi8(0x60);
    /* Over all the runs so far, as one run with a suspect byte ends the
     * loop: the suspect bytes, the bytes' high bits (non-ASCII) and their
     * least value (control characters). */
    __m128i bad = _mm_setzero_si128(), high = _mm_setzero_si128(), least = _mm_set1_epi8((char)0xFF);
    for (; end - p >= 64; p += 64) {
#define EMBEDDED16(i)                                                                                        \
    do {                                                                                                     \
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + (i)));                               \
        __m128i bs = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + (i)-1)), bslash);    \
        high = _mm_or_si128(high, v);                                                                        \
        least = _mm_min_epu8(least, v);                                                                      \
        bad = _mm_or_si128(bad, _mm_xor_si128(_mm_cmpeq_epi8(v, quote), bs));                                \
    } while (0)
        EMBEDDED16(0);
        EMBEDDED16(16);
        EMBEDDED16(32);
        EMBEDDED16(48);
#undef EMBEDDED16
        /* LEAST + 0x60, saturated, has its high bit set when LEAST >= 0x20. */
        if (_mm_movemask_epi8(_mm_or_si128(bad, high)) != 0 ||
            _mm_movemask_epi8(_mm_adds_epu8(least, up)) != 0xFFFF)
            break;
    }
    /* Escapes are rare enough outside embedded JSON to look for again. */
    if (!*esc && p > start && memchr(start, '\\', (size_t)(p - start)) != NULL)
        *esc = true;
    return p[-1] == '\\' ? p - 1 : p;
}

#ifdef HAVE_AVX2
/* embedded_runs with AVX2: the same tests, 32 bytes per step. */
static __attribute__((target("avx2"))) const unsigned char *
embedded_runs_avx2(const unsigned char *p, const unsigned char *end, bool *esc)
{
    const unsigned char *start = p;
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\'), up = _mm256_set1_epi8(0x60);
    __m256i bad = _mm256_setzero_si256(), high = _mm256_setzero_si256(), least = _mm256_set1_epi8((char)0xFF);
    for (; end - p >= 64; p += 64) {
#define EMBEDDED32(i)                                                                                        \
    do {                                                                                                     \
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + (i)));                            \
        __m256i bs =                                                                                         \
            _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(p + (i)-1)), bslash);       \
        high = _mm256_or_si256(high, v);                                                                     \
        least = _mm256_min_epu8(least, v);                                                                   \
        bad = _mm256_or_si256(bad, _mm256_xor_si256(_mm256_cmpeq_epi8(v, quote), bs));                       \
    } while (0)
        EMBEDDED32(0);
        EMBEDDED32(32);
#undef EMBEDDED32
        if (_mm256_movemask_epi8(_mm256_or_si256(bad, high)) != 0 ||
            _mm256_movemask_epi8(_mm256_adds_epu8(least, up)) != -1)
            break;
    }
    if (!*esc && p > start && memchr(start, '\\', (size_t)(p - start)) != NULL)
        *esc = true;
    return p[-1] == '\\' ? p - 1 : p;
}
#endif

/*
 * scan_string after its first stop at P: escapes, non-ASCII, errors.  With
 * SSE2 the string goes by runs of 16 bytes, then 64 once it is long: masks of
 * the run's quotes, backslashes and control/non-ASCII bytes, then either
 * embedded_run takes the whole run at once (kubectl's last-applied-
 * configuration is kilobytes of \" and nothing else) or every stop of the
 * run is handled from the same mask, never rescanning.
 */
static __attribute__((noinline)) int scan_string_slow(struct dec *d, const unsigned char *start,
                                                      const unsigned char *p, const unsigned char **raw,
                                                      size_t *rawlen, bool *escaped)
{
    const unsigned char *end = d->end;
    bool esc = false;
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    int want = 16; /* 64 once the string has outlasted a first run of 16 */
    /* A first stop that is not a \" (\n, \u, UTF-8) would fail the first run. */
    if (p < end && *p != '\\' && *p != '"') {
        if ((p = string_stop(d, p, &esc)) == NULL)
            return -1;
    } else if (p + 1 < end && *p == '\\' && p[1] != '"') {
        if ((p = string_stop(d, p, &esc)) == NULL)
            return -1;
    }
    for (;;) {
        uint64_t q = 0, b = 0, c = 0, mask;
        const unsigned char *next;
        int n, width;
        if (want == 64 && end - p >= 64 && p[-1] != '\\') {
#ifdef HAVE_AVX2
            if (__builtin_cpu_supports("avx2"))
                p = embedded_runs_avx2(p, end, &esc);
            else
#endif
                p = embedded_runs(p, end, &esc);
        }
        width = want == 64 && end - p >= 64 ? 64 : 16;
        if (end - p < 16)
            break;
#define MASKS16(i)                                                                                           \
    do {                                                                                                     \
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + (i)));                               \
        q |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) << (i);                         \
        b |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bslash)) << (i);                        \
        c |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, space)) << (i);                         \
    } while (0)
        MASKS16(0);
        if (width == 64) {
            MASKS16(16);
            MASKS16(32);
            MASKS16(48);
        }
#undef MASKS16
        if ((n = embedded_run(q, b, c, width, &esc)) >= 0) {
            p += n;
            if (n < width && *p == '"') /* not the last backslash */
                goto done;
            want = 64;
            continue;
        }
        /* Otherwise every stop of the run, from the one mask. */
        mask = q | b | c;
        next = p + width;
        while (mask != 0) {
            const unsigned char *s = p + __builtin_ctzll(mask), *after;
            size_t off;
            if (*s == '"') {
                p = s;
                goto done;
            }
            if ((after = string_stop(d, s, &esc)) == NULL)
                return -1;
            off = (size_t)(after - p);
            if (off >= (size_t)width) {
                next = after;
                break;
            }
            mask &= ~UINT64_C(0) << off; /* the stops inside what it consumed */
        }
        p = next;
        want = 64;
    }
#endif
    for (;;) {
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p >= end)
            return fail(d, p, "unexpected end of input in a string");
        if (*p == '"')
            break;
        if ((p = string_stop(d, p, &esc)) == NULL)
            return -1;
    }
#ifdef __SSE2__
done:
#endif
    *raw = start;
    *rawlen = (size_t)(p - start);
    *escaped = esc;
    d->p = p + 1;
    return 0;
}

/* Scans the string whose opening quote is at d->p; leaves d->p after the
 * closing quote.  RAW and RAWLEN: its contents as written; ESCAPED: whether
 * they hold escapes.  Inline for the common case, plain ASCII. */
static inline __attribute__((always_inline)) int scan_string(struct dec *d, const unsigned char **raw,
                                                             size_t *rawlen, bool *escaped)
{
    const unsigned char *start = d->p + 1, *p = scan_plain(start, d->end);
    if (p < d->end && *p == '"') {
        *raw = start;
        *rawlen = (size_t)(p - start);
        *escaped = false;
        d->p = p + 1;
        return 0;
    }
    return scan_string_slow(d, start, p, raw, rawlen, escaped);
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decodes the escapes of RAW[0..LEN), already validated by scan_string, into
 * OUT (which has room for LEN bytes: decoding never lengthens); returns the
 * decoded length. */
static size_t unescape(char *out, const unsigned char *raw, size_t len)
{
    const unsigned char *p = raw, *end = raw + len;
    char *o = out;
    while (p < end) {
        const unsigned char *q = p;
#ifdef __SSE2__
        /* Copy 16 bytes at a time up to the next backslash.  Stores may run
         * past the decoded length but never past OUT + LEN: O trails P. */
        const __m128i bslash = _mm_set1_epi8('\\');
        for (;;) {
            __m128i v;
            unsigned mask;
            if (end - q < 16) {
                while (q < end && *q != '\\')
                    *o++ = (char)*q++;
                break;
            }
            v = _mm_loadu_si128((const __m128i *)(const void *)q);
            _mm_storeu_si128((__m128i *)(void *)o, v);
            mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bslash));
            if (mask != 0) {
                q += __builtin_ctz(mask);
                o += __builtin_ctz(mask);
                break;
            }
            q += 16;
            o += 16;
        }
#else
        q = memchr(p, '\\', (size_t)(end - p));
        if (q == NULL)
            q = end;
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
#endif
        if (q >= end)
            break;
        p = q + 2;
        switch (q[1]) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp = (unsigned)hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)hex4(p + 2) - 0xDC00);
                p += 6;
            }
            o = put_utf8(o, cp);
            break;
        }
        default: /* '"', '\\', '/' */
            *o++ = (char)q[1];
            break;
        }
    }
    return (size_t)(o - out);
}

/* take_string for any string but a short plain one. */
static __attribute__((noinline)) int take_string_slow(struct dec *d, struct review_str *out)
{
    const unsigned char *raw;
    size_t len;
    bool esc;
    if (scan_string(d, &raw, &len, &esc) < 0)
        return -1;
    if (!esc) {
        out->ptr = (const char *)raw;
        out->len = len;
    } else {
        char *buf = d->alloc(d->ctx, len);
        out->len = unescape(buf, raw, len);
        out->ptr = buf;
    }
    return 0;
}

/* Parses a string at d->p into *OUT: zero copy without escapes, else decoded
 * into memory from the allocator.  A plain string of up to 15 bytes in one
 * step of 16. */
static inline int take_string(struct dec *d, struct review_str *out)
{
#ifdef __SSE2__
    const unsigned char *p = d->p;
    unsigned m;
    if (d->end - p > 16 && (m = stops16(p + 1)) != 0 && p[1 + __builtin_ctz(m)] == '"') {
        out->ptr = (const char *)p + 1;
        out->len = (unsigned)__builtin_ctz(m);
        d->p = p + 2 + out->len;
        return 0;
    }
#endif
    return take_string_slow(d, out);
}

/* An escaped key, decoded into K when it is short enough to be one we look for. */
static __attribute__((noinline)) void escaped_key(struct key *k, const unsigned char *raw, size_t len)
{
    /* Decoding shrinks at most sixfold ("\u0041" -> "A"). */
    char tmp[6 * KEY_MAX];
    size_t n;
    k->ptr = NULL;
    k->len = 0;
    if (len > sizeof(tmp))
        return;
    n = unescape(tmp, (const unsigned char *)raw, len);
    if (n <= KEY_MAX) {
        memcpy(k->buf, tmp, n);
        k->ptr = k->buf;
        k->len = n;
    }
}

/* take_key for any key but a short plain one followed by ':' and a value. */
static __attribute__((noinline)) int take_key_slow(struct dec *d, struct key *k)
{
    const unsigned char *p = d->p, *end = d->end, *raw;
    size_t len;
    bool esc = false;
    if (p >= end || *p != '"')
        return fail(d, p, p >= end ? "unexpected end of input" : "expected a string key");
    if (scan_string(d, &raw, &len, &esc) < 0)
        return -1;
    p = d->p;
    if (p < end && *p == ':') {
        p++;
    } else {
        while (p < end && IS_WS(*p))
            p++;
        if (p >= end || *p != ':')
            return fail(d, p, p >= end ? "unexpected end of input" : "expected ':'");
        p++;
    }
    if (p >= end || *p <= ' ') {
        while (p < end && IS_WS(*p))
            p++;
        if (p >= end)
            return fail(d, p, "unexpected end of input");
    }
    d->p = p;
    if (!esc) {
        k->ptr = (const char *)raw;
        k->len = len;
    } else {
        escaped_key(k, raw, len);
    }
    return 0;
}

/* Parses an object key and the ':' after it, leaving d->p at the value.  Keys
 * longer than KEY_MAX once decoded come back as a NULL key that matches
 * nothing we look for.  Compact JSON and a plain key of up to 15 bytes (all
 * the keys we look for) in one step of 16. */
static inline int take_key(struct dec *d, struct key *k)
{
#ifdef __SSE2__
    const unsigned char *p = d->p, *end = d->end;
    unsigned m;
    if (end - p > 16 && *p == '"' && (m = stops16(p + 1)) != 0) {
        const unsigned char *q = p + 1 + __builtin_ctz(m); /* the closing quote, if it is one */
        if (*q == '"' && end - q > 2 && q[1] == ':' && q[2] > ' ') {
            k->ptr = (const char *)p + 1;
            k->len = (size_t)(q - p - 1);
            d->p = q + 2;
            return 0;
        }
    }
#endif
    return take_key_slow(d, k);
}

#define KEY_IS(k, lit)                                                                                       \
    ((k)->len == sizeof(lit) - 1 && (k)->ptr && memcmp((k)->ptr, lit, sizeof(lit) - 1) == 0)

/* Enters the object or array at d->p ('{' or '['); returns 1 when it has a
 * first member (d->p at it), 0 when empty (d->p after it), -1 on error. */
static int enter(struct dec *d, unsigned char close)
{
    if (++d->depth > REVIEW_MAX_DEPTH)
        return fail(d, d->p, "nesting deeper than " STR(REVIEW_MAX_DEPTH) " levels");
    d->p++;
    skip_ws(d);
    if (d->p >= d->end)
        return fail(d, d->p, "unexpected end of input");
    if (*d->p == close) {
        d->p++;
        d->depth--;
        return 0;
    }
    return 1;
}

/* After a member: returns 1 when another follows (d->p at it), 0 at the end
 * of the container (d->p after it), -1 on error. */
static int next(struct dec *d, unsigned char close)
{
    skip_ws(d);
    if (d->p < d->end) {
        if (*d->p == ',') {
            d->p++;
            skip_ws(d);
            if (d->p >= d->end)
                return fail(d, d->p, "unexpected end of input");
            return 1;
        }
        if (*d->p == close) {
            d->p++;
            d->depth--;
            return 0;
        }
    }
    if (d->p >= d->end)
        return fail(d, d->p, "unexpected end of input");
    return fail(d, d->p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

static int skip_literal(struct dec *d, const char *lit, size_t n)
{
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, lit, n) != 0)
        return fail(d, d->p, "invalid literal");
    d->p += n;
    return 0;
}

/*
 * The skipper: validates a value and extracts nothing.  Most of a review
 * (managedFields, spec, status, both objects) goes through it, so it is
 * written for instruction count.  Its code takes GUARDED, a constant: true
 * when the value lies before the body's last non-whitespace byte and that
 * byte is a '}' (d->guard).  Then a run of digits, letters or whitespace,
 * and every token but a closing '}' or ']', ends before the guard, so the
 * byte after it exists and is read with no check against the end (MORE is
 * constant true); only the loads of 16 bytes, literals and the closing of
 * a container look at the end.  END must be in scope.
 */
#define MORE(p) (guarded || (p) < end)
#define SKIP_WS(p)                                                                                           \
    do {                                                                                                     \
        while (MORE(p) && IS_WS(*(p)))                                                                       \
            (p)++;                                                                                           \
    } while (0)

/* The string whose opening quote is at P, from S on, P < S: returns the
 * byte after its closing quote, NULL on error. */
static __attribute__((noinline)) const unsigned char *skip_string_long(struct dec *d, const unsigned char *p,
                                                                       const unsigned char *s)
{
    const unsigned char *raw;
    size_t len;
    bool esc;
    s = scan_plain(s, d->end);
    if (s < d->end && *s == '"')
        return s + 1;
    if (scan_string_slow(d, p + 1, s, &raw, &len, &esc) < 0)
        return NULL;
    return d->p;
}

#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10)

/* The number at P: returns the byte after it, NULL on error. */
static inline __attribute__((always_inline)) const unsigned char *
skip_number(struct dec *d, const unsigned char *p, const unsigned char *end, const bool guarded)
{
    if (*p == '-')
        p++;
    if (MORE(p) && *p == '0') {
        p++;
    } else if (MORE(p) && (unsigned)(*p - '1') < 9) {
        do
            p++;
        while (MORE(p) && IS_DIGIT(*p));
    } else {
        return fail(d, p, "invalid number"), NULL;
    }
    if (MORE(p) && *p == '.') {
        p++;
        if (!MORE(p) || !IS_DIGIT(*p))
            return fail(d, p, "invalid number"), NULL;
        do
            p++;
        while (MORE(p) && IS_DIGIT(*p));
    }
    if (MORE(p) && (*p | 0x20) == 'e') {
        p++;
        if (MORE(p) && (*p == '+' || *p == '-'))
            p++;
        if (!MORE(p) || !IS_DIGIT(*p))
            return fail(d, p, "invalid number"), NULL;
        do
            p++;
        while (MORE(p) && IS_DIGIT(*p));
    }
    return p;
}

/* A literal at P, whose first byte is LIT[0]: the byte after it, NULL on error. */
static inline __attribute__((always_inline)) const unsigned char *
skip_lit(struct dec *d, const unsigned char *p, const unsigned char *end, const char *lit, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, lit, n) != 0)
        return fail(d, p, "invalid literal"), NULL;
    return p + n;
}

/* A value other than an object or an array at P: the byte after it, NULL on error. */
static inline __attribute__((always_inline)) const unsigned char *
skip_scalar(struct dec *d, const unsigned char *p, const unsigned char *end, const bool guarded)
{
    switch (*p) {
    case '"':
        return skip_string_long(d, p, p + 1);
    case 't':
        return skip_lit(d, p, end, "true", 4);
    case 'f':
        return skip_lit(d, p, end, "false", 5);
    case 'n':
        return skip_lit(d, p, end, "null", 4);
    default:
        if (*p == '-' || IS_DIGIT(*p))
            return skip_number(d, p, end, guarded);
        return fail(d, p, "expected a value"), NULL;
    }
}

/* Where skip_run stopped and resumes. */
enum skip_at {
    SKIP_AT_VALUE,       /* at a value */
    SKIP_AT_AFTER_KEY,   /* after a key: at ':' */
    SKIP_AT_AFTER_VALUE, /* after a value inside a container */
    SKIP_AT_POPPED,      /* after a container's closing byte */
};

/* The skipper's memory: the closing bytes of the enclosing containers
 * (stack[1..depth), CLOSE the innermost's), where a run stopped for a string
 * it could not take or a container its window has no room for, and the most
 * containers the next run may hold. */
struct skip {
    const unsigned char *p;
    int depth, room;
    enum skip_at at;
    unsigned char close, stack[SKIP_WINDOW];
};

#ifdef __SSE2__
/* stops16 with its constants in registers (see stops16). */
#define STOPS16(s)                                                                                           \
    ((unsigned)_mm_movemask_epi8(_mm_or_si128(                                                               \
        _mm_cmpgt_epi8(_mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(s)), flip), above),     \
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s)), bslash))))
#endif

/* The first stop (see stops16) at or after S inside a string, in steps of
 * 16 bytes starting at or below LAST; NULL when there is none. */
static __attribute__((noinline)) const unsigned char *plain_run(const unsigned char *s, uintptr_t last)
{
    unsigned m;
    for (; (uintptr_t)s <= last; s += 16)
        if ((m = stops16(s)) != 0)
            return s + __builtin_ctz(m);
    return NULL;
}

/*
 * A plain ASCII string at P: P moves past it, or it goes to SLOW (the
 * caller's label) with P still at its opening quote.  Up to 31 bytes (most
 * keys and values) in one or two steps of 16 bytes inline, longer ones in
 * plain_run (a loop here would have GCC copy the constants before every
 * string).
 */
#ifdef __SSE2__
#define SKIP_SHORT_STRING(slow)                                                                              \
    do {                                                                                                     \
        const unsigned char *s_;                                                                             \
        unsigned m_;                                                                                         \
        if ((uintptr_t)p >= below16)                                                                         \
            goto slow;                                                                                       \
        if ((m_ = STOPS16(p + 1)) != 0) {                                                                    \
            s_ = p + 1 + (unsigned)__builtin_ctz(m_);                                                        \
        } else {                                                                                             \
            if ((uintptr_t)p >= below32)                                                                     \
                goto slow;                                                                                   \
            if ((m_ = STOPS16(p + 17)) != 0)                                                                 \
                s_ = p + 17 + (unsigned)__builtin_ctz(m_);                                                   \
            else if ((s_ = plain_run(p + 33, below16)) == NULL)                                              \
                goto slow;                                                                                   \
        }                                                                                                    \
        if (*s_ != '"')                                                                                      \
            goto slow;                                                                                       \
        p = s_ + 1;                                                                                          \
    } while (0)
#else
#define SKIP_SHORT_STRING(slow) goto slow
#endif

/*
 * The skipper's loop, from AT at P, DEPTH containers deep, the innermost
 * closed by CLOSE.  Returns 0 when the container skip_container started in
 * is closed (d->p after it); -1 on error; else stops for skip_container,
 * with ST->p, ST->depth and ST->close: 1 at a string that is not a short
 * plain one (ST->p at its opening quote, ST->at where to resume after it),
 * 2 at a container that would make more than ST->room (ST->p at it: the
 * window is full, or the nesting at REVIEW_MAX_DEPTH), 3 when the window's
 * outermost container is closed and the bit stack holds the ones around it
 * (ST->p after it).  There is no call in here, so the constants of the
 * string steps stay in registers, loaded once per run, not once per
 * string.  Compact JSON takes the first branch everywhere: whitespace is
 * looked for only where a structural byte was expected and not found.
 */
static inline __attribute__((always_inline)) int skip_run(struct dec *d, struct skip *st,
                                                          const unsigned char *p, int depth,
                                                          unsigned char close, enum skip_at at,
                                                          const bool guarded)
{
    const unsigned char *end = d->end;
    const int room = st->room;
#ifdef __SSE2__
    /* Hidden from GCC, which would load them from memory for every string
     * rather than keep them in registers (and see stops16). */
    __m128i flip = _mm_set1_epi8((char)0xFD), bslash = _mm_set1_epi8('\\'), above = _mm_set1_epi8((char)~'!');
    __asm__("" : "+x"(flip), "+x"(bslash), "+x"(above));
#endif
    const uintptr_t below16 = d->below16, below32 = d->below32;
    const unsigned char *guard = d->guard;

    switch (at) {
    case SKIP_AT_AFTER_KEY:
        goto after_key;
    case SKIP_AT_AFTER_VALUE:
        goto after;
    case SKIP_AT_POPPED:
        goto popped;
    default:
        break;
    }
value:
    if (!MORE(p))
        goto eof;
    if (*p == '"') { /* the most common values first: no jump table */
        SKIP_SHORT_STRING(value_string);
        goto after;
    }
    if (*p == '{')
        goto object;
    if (*p == '[') {
        if (depth == room)
            goto deep;
        st->stack[depth++] = close;
        close = ']';
        p++;
        SKIP_WS(p);
        if (!MORE(p))
            goto eof;
        if (*p == ']') {
            p++;
            goto pop;
        }
        goto value;
    }
    switch (*p) {
    case 't':
        if ((p = skip_lit(d, p, end, "true", 4)) == NULL)
            return -1;
        goto after;
    case 'f':
        if ((p = skip_lit(d, p, end, "false", 5)) == NULL)
            return -1;
        goto after;
    case 'n':
        if ((p = skip_lit(d, p, end, "null", 4)) == NULL)
            return -1;
        goto after;
    case ' ':
    case '\t':
    case '\n':
    case '\r': /* rare: skipped here, not looked for before every value */
        SKIP_WS(p);
        goto value;
    default:
        if (*p != '-' && !IS_DIGIT(*p))
            return fail(d, p, "expected a value");
        if ((p = skip_number(d, p, end, guarded)) == NULL)
            return -1;
        goto after;
    }

object:
    if (depth == room)
        goto deep;
    st->stack[depth++] = close;
    close = '}';
    p++;
    if (!MORE(p))
        goto eof;
    if (*p == '"')
        goto key;
    SKIP_WS(p);
    if (!MORE(p))
        goto eof;
    if (*p == '}') {
        p++;
        goto pop;
    }
    if (*p != '"')
        return fail(d, p, "expected a string key");
key: /* at the key's opening quote */
    SKIP_SHORT_STRING(key_string);
after_key:
    if (!MORE(p))
        goto eof;
    if (*p == ':') {
        p++;
        goto value;
    }
    SKIP_WS(p);
    if (!MORE(p))
        goto eof;
    if (*p != ':')
        return fail(d, p, "expected ':'");
    p++;
    goto value;

pop: /* after a closing byte */
    if (--depth == 0) {
        st->p = d->p = p;
        return d->nspill > 0 ? 3 : 0; /* 3: the bit stack holds the next */
    }
    close = st->stack[depth];
popped:
    if (guarded && p > guard) { /* that was the guard: only whitespace after it */
        p = end;
        goto eof;
    }
after: /* after a value inside a container */
    if (!MORE(p))
        goto eof;
    if (*p == ',') {
        p++;
        if (close == ']')
            goto value;
        if (!MORE(p))
            goto eof;
        if (*p == '"')
            goto key;
        SKIP_WS(p);
        if (!MORE(p))
            goto eof;
        if (*p == '"')
            goto key;
        return fail(d, p, "expected a string key");
    }
    if (*p == close) {
        p++;
        goto pop;
    }
    if (IS_WS(*p)) {
        SKIP_WS(p);
        if (!MORE(p))
            goto eof;
        if (*p == ',' || *p == close)
            goto after;
    }
    return fail(d, p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");

value_string:
    st->at = SKIP_AT_AFTER_VALUE;
    goto suspend;
key_string:
    st->at = SKIP_AT_AFTER_KEY;
suspend:
    st->p = p;
    st->close = close;
    st->depth = depth;
    return 1;
eof:
    return fail(d, p, "unexpected end of input");
deep:
    st->p = p;
    st->close = close;
    st->depth = depth;
    return 2;
}

#define SKIP_RUN_ARGS                                                                                        \
    struct dec *d, struct skip *st, const unsigned char *p, int depth, unsigned char close, enum skip_at at

static __attribute__((noinline)) int skip_run_guarded(SKIP_RUN_ARGS)
{
    return skip_run(d, st, p, depth, close, at, true);
}

static __attribute__((noinline)) int skip_run_checked(SKIP_RUN_ARGS)
{
    return skip_run(d, st, p, depth, close, at, false);
}

#ifdef HAVE_AVX2
/* The same code with VEX encodings: three-operand SSE instructions, no copies. */
static __attribute__((noinline, target("avx2"))) int skip_run_guarded_avx2(SKIP_RUN_ARGS)
{
    return skip_run(d, st, p, depth, close, at, true);
}
#endif

/* How many containers the skipper's window may hold: all of it, unless
 * REVIEW_MAX_DEPTH comes first. */
static int skip_room(const struct dec *d)
{
    size_t left = (size_t)(REVIEW_MAX_DEPTH - d->depth) - d->nspill;
    return left < SKIP_WINDOW ? (int)left : SKIP_WINDOW;
}

/* The window is full (ST->depth == ST->room) at the container at ST->p:
 * moves its outer half to the bit stack, or fails at REVIEW_MAX_DEPTH. */
static int spill(struct dec *d, struct skip *st)
{
    const int half = SKIP_WINDOW / 2;
    int i;
    if ((size_t)d->depth + d->nspill + (size_t)st->depth >= REVIEW_MAX_DEPTH)
        return fail(d, st->p, "nesting deeper than " STR(REVIEW_MAX_DEPTH) " levels");
    if (d->nspill + half > d->spillcap) {
        /* Doubling from 4096 levels up to REVIEW_MAX_DEPTH: about 250 KiB in
         * all at the limit. */
        size_t cap = d->spillcap ? d->spillcap * 2 : 4096;
        if (cap > (REVIEW_MAX_DEPTH + 63) / 64 * 64)
            cap = (REVIEW_MAX_DEPTH + 63) / 64 * 64;
        uint64_t *bits = d->alloc(d->ctx, cap / 8);
        if (d->nspill > 0)
            memcpy(bits, d->spill, (d->nspill + 63) / 64 * 8);
        d->spill = bits;
        d->spillcap = cap;
    }
    for (i = 1; i <= half; i++, d->nspill++) {
        uint64_t bit = UINT64_C(1) << (d->nspill % 64);
        if (st->stack[i] == '}')
            d->spill[d->nspill / 64] |= bit;
        else
            d->spill[d->nspill / 64] &= ~bit;
    }
    memmove(st->stack + 1, st->stack + 1 + half, (size_t)(st->depth - 1 - half));
    st->depth -= half;
    st->room = skip_room(d);
    return 0;
}

/* The window is empty and the bit stack is not: takes back up to half a
 * window, the innermost as ST->close. */
static void unspill(struct dec *d, struct skip *st)
{
    int n = d->nspill < SKIP_WINDOW / 2 ? (int)d->nspill : SKIP_WINDOW / 2, i;
    for (i = n; i >= 1; i--) {
        d->nspill--;
        unsigned char c = (d->spill[d->nspill / 64] >> (d->nspill % 64)) & 1 ? '}' : ']';
        if (i == n)
            st->close = c;
        else
            st->stack[i] = c;
    }
    st->depth = n;
    st->room = skip_room(d);
}

/* skip_container when skip_run stopped with RC 2 or 3: to the bit stack and
 * back, then on with RUN. */
static __attribute__((noinline, cold)) int skip_deep(struct dec *d, struct skip *st, int rc,
                                                     int (*run)(SKIP_RUN_ARGS))
{
    if (rc == 2) {
        if (spill(d, st) < 0)
            return -1;
        return run(d, st, st->p, st->depth, st->close, SKIP_AT_VALUE);
    }
    unspill(d, st);
    return run(d, st, st->p, st->depth, st->close, SKIP_AT_POPPED);
}

/* Validates the object or array at d->p and leaves d->p after it.  The
 * state goes to each run in registers: through memory it would wait on
 * the stores just made, in every call. */
static int skip_container(struct dec *d, bool guarded)
{
    struct skip st;
    int rc, (*run)(SKIP_RUN_ARGS) = guarded ? skip_run_guarded : skip_run_checked;
#ifdef HAVE_AVX2
    if (guarded && __builtin_cpu_supports("avx2"))
        run = skip_run_guarded_avx2;
#endif
    st.room = SKIP_WINDOW; /* = skip_room(d): nothing spilled yet, REVIEW_MAX_DEPTH far */
    rc = run(d, &st, d->p, 0, 0, SKIP_AT_VALUE);
    while (rc > 0) {
        if (rc == 1) {
            const unsigned char *p = skip_string_long(d, st.p, st.p + 1);
            if (p == NULL)
                return -1;
            rc = run(d, &st, p, st.depth, st.close, st.at);
        } else {
            rc = skip_deep(d, &st, rc, run);
        }
    }
    return rc;
}
#undef SKIP_RUN_ARGS

/* Validates the value at d->p and leaves d->p after it. */
static int skip_value(struct dec *d)
{
    const unsigned char *p = d->p, *end = d->end;
    const bool guarded = false; /* for SKIP_WS */
    SKIP_WS(p);
    d->p = p;
    if (p >= end)
        return fail(d, p, "unexpected end of input");
    if (*p == '{' || *p == '[')
        return skip_container(d, p < d->guard);
    if ((p = skip_scalar(d, p, end, false)) == NULL)
        return -1;
    d->p = p;
    return 0;
}

/* The value at d->p is null: consumes it and returns 1.  Otherwise 0, or -1
 * when it starts like null but is not. */
static int take_null(struct dec *d)
{
    if (d->p >= d->end || *d->p != 'n')
        return 0;
    return skip_literal(d, "null", 4) < 0 ? -1 : 1;
}

/* A value of the wrong type for field F: validated, skipped and flagged. */
static int wrong_type(struct dec *d, enum field f)
{
    assign(d, f, true);
    return skip_value(d);
}

static int field_string(struct dec *d, enum field f, struct review_str *out)
{
    int null;
    out->ptr = NULL;
    out->len = 0;
    if (d->p < d->end && *d->p == '"') {
        assign(d, f, false);
        return take_string(d, out);
    }
    if ((null = take_null(d)) != 0) {
        assign(d, f, false);
        return null < 0 ? -1 : 0;
    }
    return wrong_type(d, f);
}

/* Grows *ARR (holding N elements of SIZE, room for *CAP) by one slot, in
 * memory from the allocator; returns the slot. */
static void *grow(struct dec *d, void **arr, size_t n, size_t *cap, size_t size)
{
    if (n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        void *na = d->alloc(d->ctx, ncap * size);
        if (n)
            memcpy(na, *arr, n * size);
        *arr = na;
        *cap = ncap;
    }
    return (char *)*arr + n * size;
}

/* An array of strings; null elements read as "". */
static int field_strings(struct dec *d, enum field f, struct review_str **out, size_t *nout)
{
    void *arr = NULL;
    size_t n = 0, cap = 0;
    int more;
    bool bad = false;
    *out = NULL;
    *nout = 0;
    if (d->p < d->end && *d->p != '[') {
        int null = take_null(d);
        if (null != 0) {
            assign(d, f, false);
            return null < 0 ? -1 : 0;
        }
        return wrong_type(d, f);
    }
    more = enter(d, ']');
    while (more > 0) {
        if (*d->p == '"' || *d->p == 'n') {
            struct review_str *s;
            if (d->items++ == REVIEW_MAX_ITEMS) {
                d->limit = fields[f].name;
                return fail(d, d->p, "too many items");
            }
            s = grow(d, &arr, n, &cap, sizeof(*s));
            if (*d->p == '"') {
                if (take_string(d, s) < 0)
                    return -1;
            } else {
                if (skip_literal(d, "null", 4) < 0)
                    return -1;
                s->ptr = empty_string;
                s->len = 0;
            }
            n++;
        } else {
            bad = true;
            if (skip_value(d) < 0)
                return -1;
        }
        more = next(d, ']');
    }
    if (more < 0)
        return -1;
    assign(d, f, bad);
    if (!bad) {
        *out = arr;
        *nout = n;
    }
    return 0;
}

static int cmp_kv_key(const void *a, const void *b)
{
    const struct review_kv *x = *(const struct review_kv *const *)a, *y = *(const struct review_kv *const *)b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = memcmp(x->key.ptr, y->key.ptr, n);
    if (c != 0)
        return c;
    if (x->key.len != y->key.len)
        return x->key.len < y->key.len ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: by position */
}

static bool same_key(const struct review_kv *a, const struct review_kv *b)
{
    return a->key.len == b->key.len && memcmp(a->key.ptr, b->key.ptr, a->key.len) == 0;
}

/* Duplicate keys: the first position keeps the last value, as jansson's
 * json_object_set does; returns the new count. */
static size_t dedup(struct dec *d, struct review_kv *kv, size_t n)
{
    size_t i, j, out;
    if (n < 2)
        return n;
    if (n <= 16) {
        for (i = 1, out = 1; i < n; i++) {
            for (j = 0; j < out && !same_key(&kv[j], &kv[i]); j++)
                ;
            if (j < out) {
                kv[j].value = kv[i].value;
                kv[j].escaped = kv[i].escaped;
            } else
                kv[out++] = kv[i];
        }
        return out;
    }
    {
        struct review_kv **idx = d->alloc(d->ctx, n * sizeof(*idx));
        bool dup = false;
        for (i = 0; i < n; i++)
            idx[i] = &kv[i];
        qsort(idx, n, sizeof(*idx), cmp_kv_key);
        for (i = 0; i < n; i = j) {
            for (j = i + 1; j < n && same_key(idx[i], idx[j]); j++) {
                idx[j]->key.ptr = NULL; /* dropped below */
                dup = true;
            }
            if (j > i + 1) {
                idx[i]->value = idx[j - 1]->value;
                idx[i]->escaped = idx[j - 1]->escaped;
            }
        }
        if (!dup)
            return n;
        for (i = 0, out = 0; i < n; i++)
            if (kv[i].key.ptr != NULL)
                kv[out++] = kv[i];
        return out;
    }
}

static int cmp_want_key(const void *a, const void *b)
{
    const struct review_str *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->len ? memcmp(x->ptr, y->ptr, x->len) : 0;
}

/* The index in W of KEY[0..LEN), -1 when it is not there: a binary search,
 * so that a body of many annotations costs no more with many wanted keys. */
static ptrdiff_t want_find(const struct review_want *w, const char *key, size_t len)
{
    struct review_str k = {key, len};
    size_t lo = 0, hi = w->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_want_key(&w->keys[mid], &k);
        if (c == 0)
            return (ptrdiff_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The annotation key at d->p (its opening quote), with a want list: leaves
 * d->p after it and sets *WANT to its index in the list, -1 when not
 * wanted.  An escaped key is decoded, into the one d->keybuf, only when it
 * could be a wanted one: decoding never lengthens and shrinks at most
 * sixfold ("\u0041" -> "A"). */
static int wanted_key(struct dec *d, ptrdiff_t *want)
{
    const struct review_want *w = d->want;
    const unsigned char *raw;
    size_t len;
    bool esc;
    *want = -1;
    if (scan_string(d, &raw, &len, &esc) < 0)
        return -1;
    if (len < w->minlen)
        return 0;
    if (!esc) {
        if (len <= w->maxlen)
            *want = want_find(w, (const char *)raw, len);
        return 0;
    }
    if (len / 6 > w->maxlen)
        return 0;
    if (d->keybuf == NULL)
        d->keybuf = d->alloc(d->ctx, 6 * w->maxlen + 5);
    *want = want_find(w, d->keybuf, unescape(d->keybuf, raw, len));
    return 0;
}

/* Keeps KV, whose key is wanted key I, in K: at the position of the key's
 * first occurrence, with the last value. */
static void keep(struct dec *d, struct kept *k, size_t i, const struct review_kv *kv)
{
    size_t nkeys = d->want->nkeys;
    if (k->kv == NULL) {
        k->kv = d->alloc(d->ctx, nkeys * sizeof(*k->kv));
        k->key = d->alloc(d->ctx, nkeys * sizeof(*k->key));
        k->at = d->alloc(d->ctx, nkeys * sizeof(*k->at));
        memset(k->at, 0, nkeys * sizeof(*k->at));
        k->n = 0;
    }
    if (k->at[i] == 0) {
        k->key[k->n] = i;
        k->kv[k->n].key = d->want->keys[i];
        k->at[i] = ++k->n;
    }
    k->kv[k->at[i] - 1].value = kv->value;
    k->kv[k->at[i] - 1].escaped = kv->escaped;
}

/* Forgets what K kept from an earlier annotations object. */
static void kept_clear(struct kept *k)
{
    for (size_t j = 0; j < k->n; j++)
        k->at[k->key[j]] = 0;
    k->n = 0;
}

/* An object of string values; null values read as "".  Values with escapes
 * are validated but kept as written (kv->escaped): review_kv_value decodes
 * the few that are read.  With a want list, only the wanted keys are kept,
 * in d->kept: nothing here grows with the body. */
static int field_annotations(struct dec *d, enum field f, struct review_kv **out, size_t *nout)
{
    struct kept *kept = d->want != NULL ? &d->kept[f == F_OLD_ANN] : NULL;
    if (kept != NULL && !d->kept_ready) {
        memset(d->kept, 0, sizeof(d->kept));
        d->keybuf = NULL;
        d->kept_ready = true;
    }
    void *arr = NULL;
    size_t n = 0, cap = 0;
    int more;
    bool bad = false;
    *out = NULL;
    *nout = 0;
    if (d->p < d->end && *d->p != '{') {
        int null = take_null(d);
        if (null != 0) {
            assign(d, f, false);
            return null < 0 ? -1 : 0;
        }
        return wrong_type(d, f);
    }
    more = enter(d, '}');
    if (kept != NULL)
        kept_clear(kept);
    while (more > 0) {
        struct review_kv one, *kv = &one;
        ptrdiff_t want = -1;
        if (*d->p != '"')
            return fail(d, d->p, "expected a string key");
        if (kept == NULL ? take_string(d, &one.key) : wanted_key(d, &want))
            return -1;
        skip_ws(d);
        if (d->p >= d->end || *d->p != ':')
            return fail(d, d->p, d->p >= d->end ? "unexpected end of input" : "expected ':'");
        d->p++;
        skip_ws(d);
        if (d->p < d->end && (*d->p == '"' || *d->p == 'n')) {
            if (kept == NULL) {
                if (d->items++ == REVIEW_MAX_ITEMS) {
                    d->limit = fields[f].name;
                    return fail(d, d->p, "too many items");
                }
                kv = grow(d, &arr, n, &cap, sizeof(*kv));
                kv->key = one.key;
                n++;
            }
            kv->escaped = false;
            if (*d->p == '"') {
                const unsigned char *raw;
                size_t len;
                if (scan_string(d, &raw, &len, &kv->escaped) < 0)
                    return -1;
                kv->value.ptr = (const char *)raw;
                kv->value.len = len;
            } else {
                if (skip_literal(d, "null", 4) < 0)
                    return -1;
                kv->value.ptr = empty_string;
                kv->value.len = 0;
            }
            if (want >= 0)
                keep(d, kept, (size_t)want, kv);
        } else {
            bad = true;
            if (skip_value(d) < 0)
                return -1;
        }
        more = next(d, '}');
    }
    if (more < 0)
        return -1;
    assign(d, f, bad);
    if (!bad && kept != NULL) {
        *out = kept->n > 0 ? kept->kv : NULL;
        *nout = kept->n;
    } else if (!bad) {
        *out = arr;
        *nout = dedup(d, arr, n);
    }
    return 0;
}

/* Starts an object-valued field F at d->p: returns 1 when it is an object
 * (entered: the caller loops over its members), 0 when null or of the wrong
 * type (consumed), -1 on error. */
static int field_object(struct dec *d, enum field f, int *more)
{
    int null;
    if (d->p < d->end && *d->p == '{') {
        assign(d, f, false);
        *more = enter(d, '}');
        return *more < 0 ? -1 : 1;
    }
    if ((null = take_null(d)) != 0) {
        assign(d, f, false);
        return null < 0 ? -1 : 0;
    }
    return wrong_type(d, f) < 0 ? -1 : 0;
}

/* request.kind and request.resource: {group, version, THIRD}. */
static int field_gvk(struct dec *d, enum field f, struct review_str *g, struct review_str *v,
                     struct review_str *t, const char *third)
{
    int more, is;
    struct key k;
    g->ptr = v->ptr = t->ptr = NULL;
    g->len = v->len = t->len = 0;
    if ((is = field_object(d, f, &more)) <= 0)
        return is;
    while (more > 0) {
        if (take_key(d, &k) < 0)
            return -1;
        if (KEY_IS(&k, "group")) {
            if (field_string(d, f + 1, g) < 0)
                return -1;
        } else if (KEY_IS(&k, "version")) {
            if (field_string(d, f + 2, v) < 0)
                return -1;
        } else if (k.ptr && k.len == strlen(third) && memcmp(k.ptr, third, k.len) == 0) {
            if (field_string(d, f + 3, t) < 0)
                return -1;
        } else if (skip_value(d) < 0) {
            return -1;
        }
        more = next(d, '}');
    }
    return more;
}

static int field_extra(struct dec *d)
{
    int more, is;
    struct key k;
    d->r.pod_names = NULL;
    d->r.npod_names = 0;
    if ((is = field_object(d, F_EXTRA, &more)) <= 0)
        return is;
    while (more > 0) {
        if (take_key(d, &k) < 0)
            return -1;
        if (KEY_IS(&k, REVIEW_POD_NAME_KEY)) {
            if (field_strings(d, F_POD_NAMES, &d->r.pod_names, &d->r.npod_names) < 0)
                return -1;
        } else if (skip_value(d) < 0) {
            return -1;
        }
        more = next(d, '}');
    }
    return more;
}

static int field_user_info(struct dec *d)
{
    int more, is;
    struct key k;
    struct review *r = &d->r;
    r->username.ptr = r->user_uid.ptr = NULL;
    r->username.len = r->user_uid.len = 0;
    r->groups = r->pod_names = NULL;
    r->ngroups = r->npod_names = 0;
    if ((is = field_object(d, F_USER_INFO, &more)) <= 0)
        return is;
    while (more > 0) {
        if (take_key(d, &k) < 0)
            return -1;
        if (KEY_IS(&k, "username"))
            is = field_string(d, F_USERNAME, &r->username);
        else if (KEY_IS(&k, "uid"))
            is = field_string(d, F_USER_UID, &r->user_uid);
        else if (KEY_IS(&k, "groups"))
            is = field_strings(d, F_GROUPS, &r->groups, &r->ngroups);
        else if (KEY_IS(&k, "extra"))
            is = field_extra(d);
        else
            is = skip_value(d);
        if (is < 0)
            return -1;
        more = next(d, '}');
    }
    return more;
}

/* object.metadata / oldObject.metadata (F is the metadata field). */
static int field_metadata(struct dec *d, enum field f, struct review_kv **ann, size_t *nann)
{
    int more, is;
    struct key k;
    *ann = NULL;
    *nann = 0;
    if ((is = field_object(d, f, &more)) <= 0)
        return is;
    while (more > 0) {
        if (take_key(d, &k) < 0)
            return -1;
        if (KEY_IS(&k, "annotations"))
            is = field_annotations(d, f + 1, ann, nann);
        else
            is = skip_value(d);
        if (is < 0)
            return -1;
        more = next(d, '}');
    }
    return more;
}

/* request.object / request.oldObject (F is the object field). */
static int field_k8s_object(struct dec *d, enum field f, bool *has, struct review_kv **ann, size_t *nann)
{
    int more, is;
    struct key k;
    *has = false;
    *ann = NULL;
    *nann = 0;
    if ((is = field_object(d, f, &more)) <= 0)
        return is;
    *has = true;
    while (more > 0) {
        if (take_key(d, &k) < 0)
            return -1;
        if (KEY_IS(&k, "metadata"))
            is = field_metadata(d, f + 1, ann, nann);
        else
            is = skip_value(d);
        if (is < 0)
            return -1;
        more = next(d, '}');
    }
    return more;
}

static int field_bool(struct dec *d, enum field f, bool *out)
{
    int null;
    *out = false;
    if (d->p < d->end && (*d->p == 't' || *d->p == 'f')) {
        assign(d, f, false);
        *out = *d->p == 't';
        return *out ? skip_literal(d, "true", 4) : skip_literal(d, "false", 5);
    }
    if ((null = take_null(d)) != 0) {
        assign(d, f, false);
        return null < 0 ? -1 : 0;
    }
    return wrong_type(d, f);
}

static int field_request(struct dec *d)
{
    int more, is;
    struct key k;
    struct review *r = &d->r;
    memset(r, 0, sizeof(*r));
    d->has_request = false;
    if ((is = field_object(d, F_REQUEST, &more)) <= 0)
        return is;
    d->has_request = true;
    while (more > 0) {
        if (take_key(d, &k) < 0)
            return -1;
        switch (k.len) {
        case 3:
            if (KEY_IS(&k, "uid"))
                is = field_string(d, F_UID, &r->uid);
            else
                is = skip_value(d);
            break;
        case 4:
            if (KEY_IS(&k, "kind"))
                is = field_gvk(d, F_RKIND, &r->kind_group, &r->kind_version, &r->kind_kind, "kind");
            else if (KEY_IS(&k, "name"))
                is = field_string(d, F_NAME, &r->name);
            else
                is = skip_value(d);
            break;
        case 6:
            if (KEY_IS(&k, "object"))
                is = field_k8s_object(d, F_OBJECT, &r->has_object, &r->annotations, &r->nannotations);
            else if (KEY_IS(&k, "dryRun"))
                is = field_bool(d, F_DRY_RUN, &r->dry_run);
            else
                is = skip_value(d);
            break;
        case 8:
            if (KEY_IS(&k, "resource"))
                is = field_gvk(d, F_RES, &r->res_group, &r->res_version, &r->res_resource, "resource");
            else if (KEY_IS(&k, "userInfo"))
                is = field_user_info(d);
            else
                is = skip_value(d);
            break;
        case 9:
            if (KEY_IS(&k, "namespace"))
                is = field_string(d, F_NAMESPACE, &r->namespace_);
            else if (KEY_IS(&k, "operation"))
                is = field_string(d, F_OPERATION, &r->operation);
            else if (KEY_IS(&k, "oldObject"))
                is =
                    field_k8s_object(d, F_OLD, &r->has_old_object, &r->old_annotations, &r->nold_annotations);
            else
                is = skip_value(d);
            break;
        case 11:
            if (KEY_IS(&k, "subResource"))
                is = field_string(d, F_SUB_RESOURCE, &r->sub_resource);
            else
                is = skip_value(d);
            break;
        default:
            is = skip_value(d);
            break;
        }
        if (is < 0)
            return -1;
        more = next(d, '}');
    }
    return more;
}

static int top_object(struct dec *d)
{
    int more = enter(d, '}'), is;
    struct key k;
    while (more > 0) {
        if (take_key(d, &k) < 0)
            return -1;
        if (KEY_IS(&k, "apiVersion"))
            is = field_string(d, F_API_VERSION, &d->api_version);
        else if (KEY_IS(&k, "kind"))
            is = field_string(d, F_KIND, &d->kind);
        else if (KEY_IS(&k, "request"))
            is = field_request(d);
        else
            is = skip_value(d);
        if (is < 0)
            return -1;
        more = next(d, '}');
    }
    return more;
}

/* Quotes at most 64 bytes of S for a message, printable ASCII only. */
static void quote(char *dst, size_t size, struct review_str s)
{
    size_t i, n = s.len < 64 ? s.len : 64, o = 0;
    for (i = 0; i < n && o + 4 < size; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        dst[o++] = c >= 0x20 && c < 0x7F && c != '\'' ? (char)c : '?';
    }
    if (n < s.len && o + 4 < size) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* Reports the first problem with the fields, in the order of enum field. */
static int check_fields(struct dec *d, char *err, size_t errlen)
{
    char q[80];
    int f;
    if (d->bad & (UINT64_C(1) << F_API_VERSION))
        goto bad_type; /* the lowest bad bit: this one */
    if (d->api_version.ptr == NULL) {
        snprintf(err, errlen, "apiVersion is missing");
        return -1;
    }
    if (review_str_eq(d->api_version, "admission.k8s.io/v1")) {
        d->r.version = REVIEW_V1;
    } else if (review_str_eq(d->api_version, "admission.k8s.io/v1beta1")) {
        d->r.version = REVIEW_V1BETA1;
    } else {
        quote(q, sizeof(q), d->api_version);
        snprintf(err, errlen, "apiVersion '%s' is not supported", q);
        return -1;
    }
    if (d->bad & (UINT64_C(1) << F_KIND))
        goto bad_type;
    if (d->kind.ptr == NULL) {
        snprintf(err, errlen, "kind is missing");
        return -1;
    }
    if (!review_str_eq(d->kind, "AdmissionReview")) {
        quote(q, sizeof(q), d->kind);
        snprintf(err, errlen, "kind '%s' is not AdmissionReview", q);
        return -1;
    }
    if (d->bad & (UINT64_C(1) << F_REQUEST))
        goto bad_type;
    if (!d->has_request) {
        snprintf(err, errlen, "request is missing");
        return -1;
    }
    if (d->bad & (UINT64_C(1) << F_UID))
        goto bad_type;
    if (d->r.uid.ptr == NULL) {
        snprintf(err, errlen, "request.uid is missing");
        return -1;
    }
    if (d->r.uid.len == 0) {
        snprintf(err, errlen, "request.uid is empty");
        return -1;
    }
bad_type:
    if (d->bad != 0) {
        f = __builtin_ctzll(d->bad);
        snprintf(err, errlen, "%s must be %s", fields[f].name, fields[f].want);
        return -1;
    }
    return 0;
}

void review_want_init(struct review_want *w, struct review_str *keys, size_t n)
{
    size_t i, out = 0;
    if (n > 0)
        qsort(keys, n, sizeof(*keys), cmp_want_key);
    w->minlen = SIZE_MAX;
    w->maxlen = 0;
    for (i = 0; i < n; i++) {
        if (out > 0 && cmp_want_key(&keys[out - 1], &keys[i]) == 0)
            continue;
        keys[out++] = keys[i];
        if (keys[i].len < w->minlen)
            w->minlen = keys[i].len;
        if (keys[i].len > w->maxlen)
            w->maxlen = keys[i].len;
    }
    w->keys = keys;
    w->nkeys = out;
}

int review_decode(struct review *out, const char *buf, size_t len, const struct review_want *want,
                  review_alloc_fn alloc, void *ctx, char *err, size_t errlen)
{
    struct dec d;
    int rc;
    if (len == 0) { /* also spares NULL + 0 when BUF is NULL */
        snprintf(err, errlen, "invalid JSON at byte 0: empty input");
        return -1;
    }
    memset(&d, 0, offsetof(struct dec, r));
    d.base = d.p = (const unsigned char *)buf;
    d.end = d.base + len;
    d.alloc = alloc;
    d.ctx = ctx;
    d.want = want;
    d.guard = d.end;
    while (d.guard > d.base && IS_WS(d.guard[-1]))
        d.guard--;
    d.guard = d.guard > d.base && d.guard[-1] == '}' ? d.guard - 1 : d.base;
    d.below16 = len >= 16 ? (uintptr_t)d.end - 16 : 0;
    d.below32 = len >= 32 ? (uintptr_t)d.end - 32 : 0;

    skip_ws(&d);
    if (d.p >= d.end) {
        rc = fail(&d, d.p, "no value");
    } else if (*d.p == '{') {
        rc = top_object(&d);
    } else {
        rc = skip_value(&d);
        d.not_object = true;
    }
    if (rc == 0) {
        skip_ws(&d);
        if (d.p < d.end)
            rc = fail(&d, d.p, "data after the document");
    }
    if (rc == 0 && d.not_object) {
        snprintf(err, errlen, "an AdmissionReview must be a JSON object");
        return -1;
    }
    if (rc < 0) {
        if (d.limit != NULL)
            snprintf(err, errlen, "%s has too many items: more than %d in groups%s together", d.limit,
                     REVIEW_MAX_ITEMS, want != NULL ? " and pod names" : ", pod names and annotations");
        else
            snprintf(err, errlen, "invalid JSON at byte %zu: %s", d.pos, d.syntax);
        return -1;
    }
    if (check_fields(&d, err, errlen) < 0)
        return -1;
    d.r.alloc = alloc;
    d.r.alloc_ctx = ctx;
    d.r.want = want;
    *out = d.r;
    return 0;
}

struct review_str review_kv_value(const struct review *r, const struct review_kv *kv)
{
    struct review_str s = kv->value;
    if (kv->escaped) {
        char *buf = r->alloc(r->alloc_ctx, s.len);
        s.len = unescape(buf, (const unsigned char *)s.ptr, s.len);
        s.ptr = buf;
    }
    return s;
}

struct review_str review_annotation(const struct review *r, bool old, const char *key)
{
    const struct review_kv *kv = old ? r->old_annotations : r->annotations;
    size_t n = old ? r->nold_annotations : r->nannotations;
    struct review_str none = {NULL, 0};
    if (r->want != NULL && want_find(r->want, key, strlen(key)) < 0) {
        lf_fatal("review_annotation: a key not in the want list the review was decoded with");
    }
    for (size_t i = n; i-- > 0;)
        if (review_str_eq(kv[i].key, key))
            return review_kv_value(r, &kv[i]);
    return none;
}
