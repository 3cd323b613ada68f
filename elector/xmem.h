#ifndef LEASEFENCE_XMEM_H
#define LEASEFENCE_XMEM_H
/*
 * The out-of-memory policy, decided once (like h2o's h2o_mem_alloc): these
 * abort the process when the allocator fails, so callers never check for NULL.
 */
#include <stddef.h>

/** malloc(SIZE) that aborts on failure. */
void *xmalloc(size_t size);

/** calloc(N, SIZE) that aborts on failure (including N * SIZE overflow). */
void *xcalloc(size_t n, size_t size);

/** realloc(P, SIZE) that aborts on failure. */
void *xrealloc(void *p, size_t size);

/** Grows *BUF (capacity *CAP) to hold at least NEED bytes, doubling from 4 KiB; aborts on failure. */
void xgrow(char **buf, size_t *cap, size_t need);

/** strdup(S) that aborts on failure; you own the copy. */
char *xstrdup(const char *s);

#endif
