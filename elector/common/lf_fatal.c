#include "lf_fatal.h"
#include "fdio.h"
#include "lf_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies S into OUT (room N) as the inside of a JSON string; what cannot be kept simply becomes '?'. */
static void json_inner(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (; s != NULL && *s != '\0' && o + 1 < n; s++)
        out[o++] = (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) ? '?' : *s;
    out[o] = '\0';
}

_Noreturn void lf_fatal_at(const char *file, int line, const char *msg, const char *what, size_t size)
{
    char ts[32], m[128], w[128], f[256], out[768];
    int64_t now_ms = lf_clock_real_ns() / 1000000;
    lf_clock_utc_text(now_ms / 1000, ts, sizeof(ts));
    json_inner(m, sizeof(m), msg);
    json_inner(w, sizeof(w), what);
    json_inner(f, sizeof(f), file);
    int n =
        snprintf(out, sizeof(out),
                 "{\"ts\":\"%s.%03dZ\",\"level\":\"fatal\",\"msg\":\"%s\",\"what\":\"%s\",\"size\":\"%zu\","
                 "\"file\":\"%s\",\"line\":\"%d\"}\n",
                 ts, (int)(now_ms % 1000), m, w, size, f, line);
    if (n > 0)
        fd_write_all(STDERR_FILENO, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
    abort();
}
