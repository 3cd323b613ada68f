/* Listening TCP sockets from "HOST:PORT" flags. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define BACKLOG 1024

/* HOST (brackets dropped; "" for every address) and PORT of SPEC. */
struct spec {
    char host[256];
    char port[12];
    unsigned short num; /* PORT */
};

static int spec_parse(const char *what, const char *spec, struct spec *s, char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    size_t hl = colon != NULL ? (size_t)(colon - spec) : 0;
    char *end;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;

    if (colon == NULL || colon[1] < '0' || colon[1] > '9' || *end != '\0' || port > 65535 ||
        hl >= sizeof(s->host)) {
        snprintf(err, errlen, "%s: expected HOST:PORT or :PORT", what);
        return -1;
    }
    if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
        memcpy(s->host, spec + 1, hl - 2);
        s->host[hl - 2] = '\0';
    } else {
        memcpy(s->host, spec, hl);
        s->host[hl] = '\0';
    }
    s->num = (unsigned short)port;
    snprintf(s->port, sizeof(s->port), "%u", (unsigned)s->num);
    return 0;
}

/* A listening socket on SA, or -1 with errno; DUAL: IPv4 too on an IPv6 socket. */
static int open_one(const struct sockaddr *sa, socklen_t salen, bool dual, int flags)
{
    int type = SOCK_STREAM | SOCK_CLOEXEC | ((flags & LISTENER_NONBLOCK) ? SOCK_NONBLOCK : 0);
    int fd = socket(sa->sa_family, type, 0), on = 1, off = 0;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if ((dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) ||
        bind(fd, sa, salen) != 0 || listen(fd, BACKLOG) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* True when ERRNO says the kernel has no IPv6 (booted with ipv6.disable=1, or built without it). */
static bool no_ipv6(int e)
{
    return e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == EADDRNOTAVAIL;
}

/* Every address: [::] with IPv4 mapped in, else 0.0.0.0 when the kernel has no IPv6. */
static int open_any(const char *what, unsigned short port, int flags, char *err, size_t errlen)
{
    struct sockaddr_in6 six = {
        .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT, .sin6_port = htons(port)};
    struct sockaddr_in four = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY), .sin_port = htons(port)};
    int fd = open_one((const struct sockaddr *)&six, sizeof(six), true, flags);
    if (fd >= 0)
        return fd;
    int e6 = errno;
    if (!no_ipv6(e6)) {
        snprintf(err, errlen, "%s: [::]:%u: %s", what, port, strerror(e6));
        return -1;
    }
    fd = open_one((const struct sockaddr *)&four, sizeof(four), false, flags);
    if (fd < 0)
        snprintf(err, errlen, "%s: 0.0.0.0:%u: %s (IPv6: %s)", what, port, strerror(errno), strerror(e6));
    return fd;
}

/* The first address of HOST that takes a listening socket. */
static int open_host(const char *what, const struct spec *s, int flags, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res, *ai;
    int rc = getaddrinfo(s->host, s->port, &hints, &res), fd = -1, e = 0;
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", what, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
        if ((fd = open_one(ai->ai_addr, ai->ai_addrlen, false, flags)) < 0)
            e = errno;
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "%s: %s", what, strerror(e));
    return fd;
}

/* "ADDR:PORT" or "[V6]:PORT" of FD's bound address into BUF. */
static void bound_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    char a[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        ss.ss_family = AF_UNSPEC;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%u", a, port);
        return;
    }
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
        port = ntohs(s4->sin_port);
    }
    snprintf(buf, len, "%s:%u", a, port);
}

int listener_open(const char *name, const char *spec, int flags, char *err, size_t errlen)
{
    struct spec s;
    char bound[INET6_ADDRSTRLEN + 16], what[320];
    snprintf(what, sizeof(what), "%s '%s'", name, spec);
    if (spec_parse(what, spec, &s, err, errlen) < 0)
        return -1;
    int fd = s.host[0] == '\0' ? open_any(what, s.num, flags, err, errlen)
                               : open_host(what, &s, flags, err, errlen);
    if (fd < 0)
        return -1;
    bound_address(fd, bound, sizeof(bound));
    log_event(LOGL_INFO, "listening", "listener", name, "address", bound, NULL);
    return fd;
}
