/*
 * libFuzzer target: the watch-stream decoder (kube_watch_feed).  The first
 * byte picks a chunk size; the rest is fed once whole and once in chunks, and
 * both feeds must report the same events, in order, and fail at the same
 * place.  Every event object also goes through lease_parse, as the tracker does.
 *   make build/fuzz/fuzz_watch && build/fuzz/fuzz_watch tests/fuzz/watch
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
    uint64_t hash;
    size_t events;
};

static uint64_t mix(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int on_event(void *ctx, const char *type, json_t *object)
{
    struct trace *t = ctx;
    struct lease_record r;
    char err[256];
    char *dump = json_dumps(object, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    t->events++;
    t->hash = mix(t->hash, type, strlen(type) + 1);
    if (dump != NULL)
        t->hash = mix(t->hash, dump, strlen(dump) + 1);
    free(dump);
    if (lease_parse(object, &r, err, sizeof(err)) == 0)
        lease_record_release(&r);
    /* A type of "STOP" makes the callback refuse, to exercise that path. */
    return strcmp(type, "STOP") == 0 ? 1 : 0;
}

static int run(const char *p, size_t n, size_t chunk, struct trace *t)
{
    struct kube_watch_decoder d;
    char err[256];
    int rc = 0;
    kube_watch_decoder_init(&d, 512);
    for (size_t off = 0; off < n && rc == 0; off += chunk) {
        size_t take = n - off < chunk ? n - off : chunk;
        /* An exact-size copy per chunk, so ASan sees reads past it. */
        char *c = malloc(take);
        if (c == NULL)
            abort();
        memcpy(c, p + off, take);
        rc = kube_watch_feed(&d, c, take, on_event, t, err, sizeof(err));
        free(c);
    }
    kube_watch_decoder_release(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace whole = {14695981039346656037ULL, 0}, chunked = {14695981039346656037ULL, 0};
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    int a = run(p, n, n ? n : 1, &whole);
    int b = run(p, n, chunk, &chunked);
    if (a != b || whole.events != chunked.events || whole.hash != chunked.hash) {
        fprintf(stderr, "whole feed: rc %d, %zu events; chunks of %zu: rc %d, %zu events\n", a, whole.events,
                chunk, b, chunked.events);
        abort();
    }
    return 0;
}
