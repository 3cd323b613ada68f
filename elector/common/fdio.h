#ifndef LEASEFENCE_FDIO_H
#define LEASEFENCE_FDIO_H
#include <stddef.h>

/** Writes all N bytes at P to FD, retrying short writes and EINTR; gives up silently on other errors. */
void fd_write_all(int fd, const char *p, size_t n);

#endif
