/*
 * Benchmark of the AdmissionReview decoder against a full jansson parse of the
 * same documents.  Not a test: nothing is asserted about time.
 *
 *   bench_review [-n ITERATIONS] [-m ours|read|jansson|both] FILE...
 *
 * Prints, per file, ns per review for review_decode (with a bump allocator
 * reset per review, as h2o's request pool would be) and for json_loadb +
 * json_decref.  Mode "read" is "ours" plus reading every annotation value
 * through review_kv_value(), which decodes the escaped ones on demand: what
 * a decoder that unescaped everything eagerly would pay.  For instruction
 * counts run it under callgrind with a fixed count and one mode, e.g.
 *   valgrind --tool=callgrind --toggle-collect=review_decode bench_review -n 1000 -m ours FILE
 * and divide the reported Ir by the count.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_clock.h"
#include "lf_file.h"
#include "review.h"

struct bump {
    char *buf;
    size_t used, cap;
};

static void *bump_alloc(void *ctx, size_t size)
{
    struct bump *b = ctx;
    void *p;
    size = (size + 15) & ~(size_t)15;
    if (b->used + size > b->cap) {
        fprintf(stderr, "bench_review: bump arena exhausted\n");
        abort();
    }
    p = b->buf + b->used;
    b->used += size;
    return p;
}

/* CLOCK_MONOTONIC in nanoseconds, as a double for the divisions below. */
static double now_ns(void)
{
    return (double)lf_clock_mono_ns();
}

/* FILE whole, or exit 2 saying why. */
static char *slurp(const char *path, size_t *len)
{
    char err[768];
    char *buf = lf_file_read("document", path, 64u << 20, len, err, sizeof(err));
    if (buf == NULL) {
        fprintf(stderr, "bench_review: %s\n", err);
        exit(2);
    }
    return buf;
}

static volatile size_t sink;

int main(int argc, char **argv)
{
    long iterations = 0;
    const char *mode = "both";
    struct bump arena;
    int i;

    arena.cap = 16 << 20;
    arena.buf = malloc(arena.cap);
    if (arena.buf == NULL)
        abort();
    for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc) {
            fprintf(stderr, "usage: bench_review [-n ITERATIONS] [-m ours|read|jansson|both] FILE...\n");
            return 2;
        }
        if (strcmp(argv[i], "-n") == 0)
            iterations = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-m") == 0)
            mode = argv[i + 1];
    }
    if (i >= argc) {
        fprintf(stderr, "usage: bench_review [-n ITERATIONS] [-m ours|read|jansson|both] FILE...\n");
        return 2;
    }
    for (; i < argc; i++) {
        size_t len;
        char *buf = slurp(argv[i], &len), err[256];
        struct review r;
        long n = iterations > 0 ? iterations : (long)(200e6 / (double)(len + 100)), k;
        double t0, ours = 0, jans = 0;
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];

        arena.used = 0;
        if (review_decode(&r, buf, len, NULL, bump_alloc, &arena, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], err);
            return 1;
        }
        if (strcmp(mode, "jansson") != 0) {
            t0 = now_ns();
            for (k = 0; k < n; k++) {
                arena.used = 0;
                review_decode(&r, buf, len, NULL, bump_alloc, &arena, err, sizeof(err));
                sink += r.uid.len;
                if (strcmp(mode, "read") == 0) {
                    for (size_t j = 0; j < r.nannotations; j++)
                        sink += review_kv_value(&r, &r.annotations[j]).len;
                    for (size_t j = 0; j < r.nold_annotations; j++)
                        sink += review_kv_value(&r, &r.old_annotations[j]).len;
                }
            }
            ours = (now_ns() - t0) / (double)n;
        }
        if (strcmp(mode, "ours") != 0 && strcmp(mode, "read") != 0) {
            long nj = iterations > 0 ? iterations : n / 10 + 1;
            t0 = now_ns();
            for (k = 0; k < nj; k++) {
                json_t *root = json_loadb(buf, len, 0, NULL);
                sink += root != NULL;
                json_decref(root);
            }
            jans = (now_ns() - t0) / (double)nj;
        }
        printf("%-32s %6zu bytes  review_decode %8.0f ns  (%5.2f GB/s)  jansson %8.0f ns  (x%.0f)\n", name,
               len, ours, ours > 0 ? (double)len / ours : 0.0, jans, ours > 0 ? jans / ours : 0.0);
        free(buf);
    }
    free(arena.buf);
    return 0;
}
