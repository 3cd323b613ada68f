/*
 * libFuzzer target: the list scanner (listscan_feed, listscan_end).  The first byte picks a chunk size
 * and an element cap; the rest is fed once whole and once in chunks, and both must hand on the same
 * elements (text and truncation), in order, keep the same metadata and fail with the same error.
 *   make build/fuzz/fuzz_listscan && build/fuzz/fuzz_listscan tests/fuzz/listscan
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
    uint64_t hash;
    size_t items;
    size_t max;
};

static uint64_t mix(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int on_item(void *ctx, const char *item, size_t len, bool truncated, char *err, size_t errlen)
{
    struct trace *t = ctx;
    char tag = truncated ? 't' : '-';
    if (len > t->max || (truncated && len != t->max))
        abort(); /* an element is never longer than the cap, and a truncated one is cut at it */
    t->items++;
    t->hash = mix(mix(t->hash, &tag, 1), item, len);
    /* An element "0" makes the callback refuse, to exercise that path. */
    if (len == 1 && item[0] == '0') {
        snprintf(err, errlen, "refused");
        return -1;
    }
    return 0;
}

static int run(const char *p, size_t n, size_t chunk, struct trace *t, char *err, size_t errlen)
{
    struct listscan s;
    int rc = 0;
    listscan_init(&s, t->max, on_item, t);
    for (size_t off = 0; off < n && rc == 0; off += chunk) {
        size_t take = n - off < chunk ? n - off : chunk;
        /* An exact-size copy per chunk, so ASan sees reads past it. */
        char *c = malloc(take);
        if (c == NULL)
            abort();
        memcpy(c, p + off, take);
        rc = listscan_feed(&s, c, take, err, errlen);
        free(c);
    }
    if (rc == 0)
        rc = listscan_end(&s, err, errlen);
    if (rc == 0)
        t->hash = mix(t->hash, s.meta != NULL ? s.meta : "", s.meta_len);
    if (s.items != t->items || s.meta_len > LISTSCAN_MAX_META)
        abort();
    listscan_release(&s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1, max = (size_t)(data[0] >> 4) * 4 + 1;
    struct trace whole = {14695981039346656037ULL, 0, max}, chunked = {14695981039346656037ULL, 0, max};
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    char e1[256] = "", e2[256] = "";
    int a = run(p, n, n ? n : 1, &whole, e1, sizeof(e1));
    int b = run(p, n, chunk, &chunked, e2, sizeof(e2));
    if (a != b || whole.items != chunked.items || whole.hash != chunked.hash || strcmp(e1, e2) != 0) {
        fprintf(stderr, "whole feed: rc %d, %zu items, '%s'; chunks of %zu: rc %d, %zu items, '%s'\n", a,
                whole.items, e1, chunk, b, chunked.items, e2);
        abort();
    }
    return 0;
}
