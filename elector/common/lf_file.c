#include "lf_file.h"
#include "xmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads FD to the end, or to MAX + 1 bytes, into BUF (room MAX + 1); the count, or -1 (errno). */
static ssize_t read_upto(int fd, char *buf, size_t max)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        n += (size_t)r;
        if (r == 0 || n > max)
            return (ssize_t)n;
    }
}

char *lf_file_read(const char *what, const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s '%s': cannot open: %s", what, path, strerror(errno));
        return NULL;
    }
    /* Room for all of it up front (untouched pages cost nothing): no realloc leaves a copy unwiped. */
    char *buf = xmalloc(max + 1);
    ssize_t n = read_upto(fd, buf, max);
    if (n < 0)
        snprintf(err, errlen, "%s '%s': cannot read: %s", what, path, strerror(errno));
    else if ((size_t)n > max)
        snprintf(err, errlen, "%s '%s': larger than %zu bytes", what, path, max);
    close(fd);
    if (n < 0 || (size_t)n > max) {
        explicit_bzero(buf, max + 1);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}
