#ifndef LEASEFENCE_LISTENER_H
#define LEASEFENCE_LISTENER_H
/*
 * Listening TCP sockets, for every listener of the program: serve --listen
 * and --probe-listen, elect --status-listen.
 */
#include <stddef.h>

enum {
    LISTENER_NONBLOCK = 1, /* accept() does not block (for an event loop) */
};

/**
 * Opens a close-on-exec listening socket on SPEC: "HOST:PORT" (HOST a name or an address), "[V6]:PORT", or
 * ":PORT", every address: IPv6 and IPv4 on one socket, or IPv4 alone when the kernel has no IPv6.  PORT 0
 * takes a free port.  FLAGS: LISTENER_*.  Logs one line naming the listener NAME (e.g. "--listen") and
 * the address and port bound.  Returns the socket (you own it), or -1 with ERR naming SPEC and the
 * system's error.
 */
int listener_open(const char *name, const char *spec, int flags, char *err, size_t errlen);

#endif
