/*
 * Deterministic cost of the admission hot path, for `make bench`.
 *
 *   build/bench/cost [--iterations N] [--fences M] [--lease NS/NAME] [--writer USER]
 *                    [--holder POD] [--want KEY]... FILE...
 *
 * For each AdmissionReview in FILE..., runs review_decode N times; then the
 * decision (decide_fences + decide_check + decide) N times against a table of one fence, and
 * N times against a table of M fences (default 1000) with the writer's fence
 * last; then jansson's full parse (json_loadb + json_decref) N times for
 * comparison.  The fence is LEASE (default bench/controller-leader) for
 * writer USER (system:serviceaccount:bench:controller), identity podName, and
 * the Lease is held, unexpired, by POD (controller-6d8f9c7b5-holdr): the
 * defaults of tests/bench/make-reviews.py.  With --want (any number, "" for
 * none), review_decode keeps only those annotation keys (review_want_init);
 * without, all of them.
 *
 * Run it under `valgrind --tool=callgrind --collect-atstart=no`: each
 * measured loop is bracketed by callgrind client requests and dumped as
 * "decode:FILE", "decide:FILE", "decidemany:FILE", "jansson:FILE", so the
 * dump totals divided by N are instructions per review with no timing noise
 * (tests/bench/run.sh does that).  Run natively it prints ns per review.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <valgrind/callgrind.h>

#include "config.h"
#include "decide.h"
#include "lf_clock.h"
#include "lf_file.h"
#include "review.h"

/* A bump allocator reset for every review, like a request's memory pool. */
struct arena {
    char *base;
    size_t used, cap;
};

static void *arena_alloc(void *ctx, size_t size)
{
    struct arena *a = ctx;
    size_t off = (a->used + 15) & ~(size_t)15;

    if (off > a->cap || size > a->cap - off) {
        fprintf(stderr, "cost: arena exhausted (%zu bytes)\n", a->cap);
        abort();
    }
    a->used = off + size;
    return a->base + off;
}

/* The largest document read (kube-apiserver's request limit is 3 MiB). */
#define MAX_DOCUMENT (16u << 20)

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* The annotation keys of --want, NULL without. */
static struct review_want *want;

/* Decodes BUF N times; returns the number of successful decodes. */
static long run_decode(const char *buf, size_t len, long n, struct arena *a, char *err, size_t errlen)
{
    struct review r;
    long i, ok = 0;

    for (i = 0; i < n; i++) {
        a->used = 0;
        if (review_decode(&r, buf, len, want, arena_alloc, a, err, errlen) == 0)
            ok++;
    }
    return ok;
}

/* Decides R N times; returns how many were allowed. */
static long run_decide(const struct review *r, const struct fence_table *t, const struct lease_snapshot *snap,
                       int64_t now, long n)
{
    struct decision d;
    struct fence_check checks[8];
    const struct lease_snapshot *snaps[8];
    int idx[8];
    long i, allowed = 0;

    for (i = 0; i < n; i++) {
        size_t k = decide_fences(r, t, idx, 8);
        for (size_t j = 0; j < k && j < 8; j++) {
            snaps[j] = snap;
            decide_check(r, t, idx[j], snap, now, 30 * 1000000000LL, &checks[j]);
        }
        decide(r, t, checks, snaps, k < 8 ? k : 8, &d);
        allowed += d.allowed;
    }
    return allowed;
}

/* A table of NFENCES fences, WRITER's fence on LEASE last, as config_parse reads it. */
static struct fence_table *make_table(long nfences, const char *lease, const char *writer)
{
    struct fence_table *t;
    char err[256], *text, *p;
    size_t cap = (size_t)nfences * 200 + strlen(lease) + strlen(writer) + 200, used;
    long i;

    text = malloc(cap);
    if (text == NULL)
        abort();
    used = (size_t)snprintf(text, cap, "{\"fences\":[");
    for (i = 0; i < nfences; i++) {
        p = text + used;
        if (i + 1 < nfences)
            used += (size_t)snprintf(p, cap - used,
                                     "{\"lease\":\"bench/fence-%04ld\",\"writers\":{\"users\":"
                                     "[\"system:serviceaccount:bench:writer-%04ld\"],\"groups\":[]},"
                                     "\"identity\":\"podName\",\"mode\":\"enforce\"},",
                                     i, i);
        else
            used += (size_t)snprintf(p, cap - used,
                                     "{\"lease\":\"%s\",\"writers\":{\"users\":[\"%s\"],\"groups\":[]},"
                                     "\"identity\":\"podName\",\"mode\":\"enforce\"}]}",
                                     lease, writer);
        if (used >= cap)
            abort();
    }
    t = config_parse(text, used, "cost", err, sizeof(err));
    if (t == NULL)
        fprintf(stderr, "cost: %s\n", err);
    free(text);
    return t;
}

static long run_jansson(const char *buf, size_t len, long n)
{
    json_error_t jerr;
    json_t *doc;
    long i, ok = 0;

    for (i = 0; i < n; i++) {
        doc = json_loadb(buf, len, 0, &jerr);
        if (doc != NULL) {
            ok++;
            json_decref(doc);
        }
    }
    return ok;
}

static int parse_count(const char *s, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 100000000)
        return -1;
    *out = v;
    return 0;
}

/* What a measured loop works on: a document, and for the decision its decoded review and the Lease. */
struct pass {
    const char *buf;
    size_t len;
    struct arena *a;
    char err[256];
    const struct review *r;
    const struct fence_table *t;
    const struct lease_snapshot *snap;
    int64_t now;
};

/* One measured loop: runs N times on P, returns how many decoded or were allowed. */
typedef long pass_fn(struct pass *p, long n);

static long pass_decode(struct pass *p, long n)
{
    return run_decode(p->buf, p->len, n, p->a, p->err, sizeof(p->err));
}

static long pass_decide(struct pass *p, long n)
{
    return run_decide(p->r, p->t, p->snap, p->now, n);
}

static long pass_jansson(struct pass *p, long n)
{
    return run_jansson(p->buf, p->len, n);
}

/*
 * Runs FN once untimed (lazy binding and first touch stay out of the figures), then N times bracketed by
 * callgrind client requests and dumped as "LABEL:NAME".  Sets *NS_EACH to the nanoseconds per run of the
 * N; returns what FN returned for them.
 */
static long measure(const char *label, const char *name, pass_fn *fn, struct pass *p, long n, double *ns_each)
{
    char dump[512];
    int64_t t0;
    long result;

    fn(p, 1);
    t0 = lf_clock_mono_ns();
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
    result = fn(p, n);
    CALLGRIND_TOGGLE_COLLECT;
    snprintf(dump, sizeof(dump), "%s:%s", label, name);
    CALLGRIND_DUMP_STATS_AT(dump);
    *ns_each = (double)(lf_clock_mono_ns() - t0) / (double)n;
    return result;
}

/* Measures the document at PATH and prints its line; -1 when it cannot be read. */
static int cost_file(const char *path, long n, const struct fence_table *one, const struct fence_table *many,
                     const struct lease_snapshot *snap, int64_t now, struct arena *a)
{
    const char *name = base_name(path);
    struct pass p = {.a = a, .snap = snap, .now = now};
    struct review r;
    double ns[4] = {0, 0, 0, 0};
    long allowed[2] = {0, 0};
    char *buf = lf_file_read("document", path, MAX_DOCUMENT, &p.len, p.err, sizeof(p.err));

    if (buf == NULL) {
        fprintf(stderr, "cost: %s\n", p.err);
        return -1;
    }
    p.buf = buf;
    if (measure("decode", name, pass_decode, &p, n, &ns[0]) != n)
        fprintf(stderr, "cost: %s: review_decode failed: %s\n", name, p.err);
    /* The decision reads the decoded review: decode once more, outside the measurement. */
    a->used = 0;
    if (review_decode(&r, buf, p.len, want, arena_alloc, a, p.err, sizeof(p.err)) == 0) {
        p.r = &r;
        p.t = one;
        allowed[0] = measure("decide", name, pass_decide, &p, n, &ns[1]);
        p.t = many;
        allowed[1] = measure("decidemany", name, pass_decide, &p, n, &ns[2]);
        if (allowed[0] != allowed[1])
            fprintf(stderr, "cost: %s: the decision differs with %zu fences\n", name, many->nfences);
    }
    if (measure("jansson", name, pass_jansson, &p, n, &ns[3]) != n)
        fprintf(stderr, "cost: %s: json_loadb failed\n", name);
    printf("%-36s %8zu %9.0f ns %9.0f ns %9.0f ns %9.0f ns  %s\n", name, p.len, ns[0], ns[1], ns[2], ns[3],
           allowed[0] == n   ? "allowed"
           : allowed[0] == 0 ? "denied"
                             : "mixed");
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"iterations", required_argument, NULL, 'n'},
        {"fences", required_argument, NULL, 'f'},
        {"lease", required_argument, NULL, 'l'},
        {"writer", required_argument, NULL, 'w'},
        {"holder", required_argument, NULL, 'h'},
        {"want", required_argument, NULL, 'k'},
        {NULL, 0, NULL, 0},
    };
    static struct review_str want_keys[16];
    static struct review_want want_list;
    size_t nwant = 0;
    const char *lease = "bench/controller-leader", *writer = "system:serviceaccount:bench:controller";
    const char *holder = "controller-6d8f9c7b5-holdr";
    struct fence_table *one, *many;
    struct lease_snapshot snap;
    struct arena a;
    char lease_ns[254];
    long n = RUNNING_ON_VALGRIND ? 10 : 20000, nfences = 1000, ok;
    int ch, i, rc = 0;
    int64_t now;

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            ok = parse_count(optarg, &n);
            break;
        case 'f':
            ok = parse_count(optarg, &nfences);
            break;
        case 'l':
            lease = optarg;
            ok = 0;
            break;
        case 'w':
            writer = optarg;
            ok = 0;
            break;
        case 'h':
            holder = optarg;
            ok = 0;
            break;
        case 'k':
            ok = nwant < sizeof(want_keys) / sizeof(want_keys[0]) ? 0 : -1;
            if (ok == 0 && optarg[0] != '\0') {
                want_keys[nwant].ptr = optarg;
                want_keys[nwant++].len = strlen(optarg);
            }
            want = &want_list;
            break;
        default:
            ok = -1;
        }
        if (ok != 0)
            goto usage;
    }
    if (optind == argc || strchr(lease, '/') == NULL)
        goto usage;
    review_want_init(&want_list, want_keys, nwant);
    one = make_table(1, lease, writer);
    many = make_table(nfences, lease, writer);
    if (one == NULL || many == NULL)
        return 1;
    now = lf_clock_mono_ns();
    memset(&snap, 0, sizeof(snap));
    snap.known = snap.exists = snap.watching = true;
    snprintf(lease_ns, sizeof(lease_ns), "%.*s", (int)(strchr(lease, '/') - lease), lease);
    snap.ns = lease_ns;
    snap.name = strchr(lease, '/') + 1;
    snap.holder = holder;
    snap.holder_len = strlen(holder);
    snap.lease_duration_s = 3600;
    snap.uid = "2f3c1b0a-9e8d-4c7b-8a69-5f4e3d2c1b0a";
    snap.resource_version = "1";
    snap.epoch = "2f3c1b0a-9e8d-4c7b-8a69-5f4e3d2c1b0a/0";
    snap.changed_mono_ns = snap.contact_mono_ns = now;
    a.cap = 4u << 20;
    a.base = malloc(a.cap);
    if (a.base == NULL)
        abort();

    printf("%-36s %8s %12s %12s %12s %12s\n", "document", "bytes", "decode", "decide", "decide@many",
           "jansson");
    for (i = optind; i < argc; i++)
        if (cost_file(argv[i], n, one, many, &snap, now, &a) != 0)
            rc = 1;
    printf("iterations %ld, %ld fences in the large table\n", n, nfences);
    config_free(one);
    config_free(many);
    free(a.base);
    return rc;
usage:
    fprintf(stderr, "usage: cost [--iterations N] [--fences M] [--lease NS/NAME] [--writer USER] [--holder "
                    "POD] [--want KEY]... FILE...\n");
    return 2;
}
