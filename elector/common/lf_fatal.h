#ifndef LEASEFENCE_LF_FATAL_H
#define LEASEFENCE_LF_FATAL_H
/*
 * The one fatal path (shared runtime tier, elector/common/README: the library and the program only).
 * Writes one JSON line to stderr,
 * {"ts":…,"level":"fatal","msg":MSG,"what":WHAT,"size":"N","file":…,"line":"N"}, without allocating, then
 * aborts.  Like h2o's h2o_fatal and redis's zmalloc_default_oom.
 */
#include <stddef.h>

/** Logs MSG, WHAT (what failed, may be NULL), SIZE (bytes asked for; 0: none) and FILE:LINE, then aborts. */
_Noreturn void lf_fatal_at(const char *file, int line, const char *msg, const char *what, size_t size);

/** An unrecoverable failure of WHAT ("pthread_mutex_init"). */
#define lf_fatal(what) lf_fatal_at(__FILE__, __LINE__, "fatal error", (what), 0)

/** An allocation of SIZE bytes by WHAT ("malloc") that failed. */
#define lf_fatal_oom(what, size) lf_fatal_at(__FILE__, __LINE__, "out of memory", (what), (size))

#endif
