#ifndef LEASEFENCE_LF_FILE_H
#define LEASEFENCE_LF_FILE_H
/*
 * The small-file reader (shared runtime tier, elector/common/README).  With read(2), not stdio: a FILE
 * keeps its own buffer, which fclose frees without wiping, and these files may hold keys and tokens.
 */
#include <stddef.h>

/**
 * Reads PATH whole (at most MAX bytes) into a new NUL-terminated buffer of *LEN bytes; you own it (wipe it
 * before freeing when it holds a secret).  NULL with ERR "WHAT 'PATH': cannot open: No such file or
 * directory", "WHAT 'PATH': cannot read: …" or "WHAT 'PATH': larger than MAX bytes".
 */
char *lf_file_read(const char *what, const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif
