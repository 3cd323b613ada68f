#include "xmem.h"
#include "lf_fatal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *xmem_malloc_at(const char *file, int line, size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        lf_fatal_at(file, line, "out of memory", "malloc", size);
    return p;
}

void *xmem_calloc_at(const char *file, int line, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        lf_fatal_at(file, line, "out of memory", "calloc",
                    n > 0 && size > SIZE_MAX / n ? SIZE_MAX : n * size);
    return p;
}

void *xmem_realloc_at(const char *file, int line, void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        lf_fatal_at(file, line, "out of memory", "realloc", size);
    return q;
}

void xmem_grow_at(const char *file, int line, char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : c * 2;
    *buf = xmem_realloc_at(file, line, *buf, c);
    *cap = c;
}

char *xmem_strdup_at(const char *file, int line, const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        lf_fatal_at(file, line, "out of memory", "strdup", strlen(s) + 1);
    return p;
}

char *xmem_strndup_at(const char *file, int line, const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        lf_fatal_at(file, line, "out of memory", "strndup", strnlen(s, n) + 1);
    return p;
}
