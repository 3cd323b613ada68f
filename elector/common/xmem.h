#ifndef LEASEFENCE_XMEM_H
#define LEASEFENCE_XMEM_H
/*
 * The out-of-memory policy, decided once (like h2o's h2o_mem_alloc; shared runtime tier,
 * elector/common/README): these never return NULL.  When the allocator fails they log one line through
 * lf_fatal (what, the size, the caller's file and line) and abort, so callers never check for NULL.
 */
#include <stddef.h>

void *xmem_malloc_at(const char *file, int line, size_t size);
void *xmem_calloc_at(const char *file, int line, size_t n, size_t size);
void *xmem_realloc_at(const char *file, int line, void *p, size_t size);
void xmem_grow_at(const char *file, int line, char **buf, size_t *cap, size_t need);
char *xmem_strdup_at(const char *file, int line, const char *s);
char *xmem_strndup_at(const char *file, int line, const char *s, size_t n);

/** malloc(SIZE); you own the block. */
#define xmalloc(size) xmem_malloc_at(__FILE__, __LINE__, (size))

/** calloc(N, SIZE), N * SIZE overflow included in the failures. */
#define xcalloc(n, size) xmem_calloc_at(__FILE__, __LINE__, (n), (size))

/** realloc(P, SIZE). */
#define xrealloc(p, size) xmem_realloc_at(__FILE__, __LINE__, (p), (size))

/**
 * Grows *BUF (capacity *CAP) to hold at least NEED bytes, doubling from 4 KiB; a NEED the doubling cannot
 * reach without overflow is taken exactly (and an impossible one fails in realloc, fatally).
 */
#define xgrow(buf, cap, need) xmem_grow_at(__FILE__, __LINE__, (buf), (cap), (need))

/** strdup(S); you own the copy. */
#define xstrdup(s) xmem_strdup_at(__FILE__, __LINE__, (s))

/** strndup(S, N): at most N bytes of S, NUL-terminated; you own the copy. */
#define xstrndup(s, n) xmem_strndup_at(__FILE__, __LINE__, (s), (n))

#endif
