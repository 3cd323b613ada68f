#ifndef LEASEFENCE_LISTENER_H
#define LEASEFENCE_LISTENER_H
/* Listening TCP sockets, for every listener of the program. */
#include <stddef.h>

/** Opens a non-blocking, close-on-exec listening socket on SPEC: "HOST:PORT", ":PORT" (every address) or
 * "[V6]:PORT".  Returns the socket (you own it), or -1 with ERR naming SPEC and why. */
int listener_open(const char *spec, char *err, size_t errlen);

#endif
