/*
 * The floor: a do-nothing h2o TLS webhook, built only for the benchmark.
 *
 *   build/bench/floor --listen ADDR:PORT --tls-cert FILE --tls-key FILE [--threads N]
 *                     [--shared-listener]
 *
 * It runs the same TLS library, the same h2o, the same number of event-loop
 * threads and the same protocol setup (HTTP/1.1 only: ALPN "http/1.1" and no
 * h2c upgrade) as `leasefence serve`, and answers POST /validate with the same
 * response shape.  It decides nothing: it finds the request uid with a plain
 * memmem and says allowed.  Whatever leasefence spends beyond this is the cost
 * of decoding and deciding; the ratio of the two is what `make bench` reports.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "h2o.h"

struct floor_opts {
    const char *listen, *cert, *key;
    long threads;
    int shared; /* one listening socket for all threads (as leasefence serve), not one each */
};

static h2o_globalconf_t floor_config;
static SSL_CTX *floor_ssl;
static struct addrinfo *floor_addr;

static const h2o_iovec_t floor_alpn[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};

static const char resp_head[] = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                                "\"response\":{\"uid\":\"";
static const char resp_tail[] = "\",\"allowed\":true}}";

/* The uid string after the first "request" key: enough to echo, nothing checked. */
static h2o_iovec_t find_uid(h2o_iovec_t body)
{
    const char *end = body.base + body.len, *p, *q;

    p = memmem(body.base, body.len, "\"request\"", 9);
    if (p == NULL)
        return h2o_iovec_init(NULL, 0);
    p = memmem(p, (size_t)(end - p), "\"uid\"", 5);
    if (p == NULL)
        return h2o_iovec_init(NULL, 0);
    p += 5;
    while (p < end && (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p >= end || *p != '"')
        return h2o_iovec_init(NULL, 0);
    p++;
    q = memchr(p, '"', (size_t)(end - p));
    if (q == NULL)
        return h2o_iovec_init(NULL, 0);
    return h2o_iovec_init(p, (size_t)(q - p));
}

static int on_validate(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t uid, body;

    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) ||
        !h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/validate")))
        return -1;
    uid = find_uid(req->entity);
    if (uid.base == NULL) {
        h2o_send_error_400(req, "Bad Request", "no request.uid", 0);
        return 0;
    }
    body.len = sizeof(resp_head) - 1 + uid.len + sizeof(resp_tail) - 1;
    body.base = h2o_mem_alloc_pool(&req->pool, body.len);
    memcpy(body.base, resp_head, sizeof(resp_head) - 1);
    memcpy(body.base + sizeof(resp_head) - 1, uid.base, uid.len);
    memcpy(body.base + sizeof(resp_head) - 1 + uid.len, resp_tail, sizeof(resp_tail) - 1);

    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_accept_ctx_t *actx = listener->data;
    h2o_socket_t *sock;

    if (err != NULL)
        return;
    /* Drain the backlog: several connections may be waiting after one wakeup. */
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(actx, sock);
}

static int open_listener(void)
{
    int fd, on = 1;

    fd = socket(floor_addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* By default one listening socket per thread with SO_REUSEPORT: the kernel spreads
     * connections evenly.  --shared-listener shares one socket (dup'd) among the loops. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, floor_addr->ai_addr, floor_addr->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *run_loop(void *arg)
{
    h2o_context_t ctx;
    h2o_accept_ctx_t actx;
    h2o_socket_t *listener;
    int fd = (int)(intptr_t)arg;

    memset(&actx, 0, sizeof(actx));
    h2o_context_init(&ctx, h2o_evloop_create(), &floor_config);
    actx.ctx = &ctx;
    actx.hosts = floor_config.hosts;
    actx.ssl_ctx = floor_ssl;
    listener = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = &actx;
    h2o_socket_read_start(listener, on_accept);
    for (;;)
        h2o_evloop_run(ctx.loop, INT32_MAX);
    return NULL;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int resolve(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    struct addrinfo hints;
    size_t hlen;

    if (colon == NULL)
        return -1;
    hlen = (size_t)(colon - hostport);
    if (hlen >= 2 && hostport[0] == '[' && hostport[hlen - 1] == ']') {
        hostport++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host))
        return -1;
    memcpy(host, hostport, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    return getaddrinfo(hlen > 0 ? host : NULL, colon + 1, &hints, &floor_addr) == 0 ? 0 : -1;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: floor --listen ADDR:PORT --tls-cert FILE --tls-key FILE [--threads N] [--shared-listener]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, struct floor_opts *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},    {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},   {"threads", required_argument, NULL, 't'},
        {"shared-listener", no_argument, NULL, 's'}, {NULL, 0, NULL, 0},
    };
    int ch;

    o->listen = "127.0.0.1:8443";
    o->cert = o->key = NULL;
    o->shared = 0;
    o->threads = sysconf(_SC_NPROCESSORS_ONLN);
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            o->listen = optarg;
            break;
        case 'c':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 's':
            o->shared = 1;
            break;
        case 't':
            if (parse_long(optarg, 1, 256, &o->threads) != 0) {
                fprintf(stderr, "floor: invalid --threads '%s'\n", optarg);
                exit(2);
            }
            break;
        default:
            usage();
        }
    }
    if (optind != argc || o->cert == NULL || o->key == NULL)
        usage();
    if (o->threads < 1)
        o->threads = 1;
}

int main(int argc, char **argv)
{
    struct floor_opts o;
    h2o_hostconf_t *host;
    h2o_handler_t *handler;
    pthread_t tid;
    long i;
    int fd;

    parse_args(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    if (resolve(o.listen) != 0) {
        fprintf(stderr, "floor: cannot parse --listen '%s'\n", o.listen);
        return 1;
    }

    h2o_config_init(&floor_config);
    floor_config.http1.upgrade_to_http2 = 0;
    host = h2o_config_register_host(&floor_config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    handler = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*handler));
    handler->on_req = on_validate;

    floor_ssl = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(floor_ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(floor_ssl, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(floor_ssl, o.cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(floor_ssl, o.key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "floor: cannot load '%s' / '%s': %s\n", o.cert, o.key,
                ERR_reason_error_string(ERR_get_error()));
        return 1;
    }
    h2o_ssl_register_alpn_protocols(floor_ssl, floor_alpn);

    for (i = 0, fd = -1; i < o.threads; i++) {
        if (o.shared && fd >= 0)
            fd = dup(fd);
        else
            fd = open_listener();
        if (fd < 0) {
            fprintf(stderr, "floor: cannot listen on '%s': %s\n", o.listen, strerror(errno));
            return 1;
        }
        if (i + 1 == o.threads)
            break;
        if (pthread_create(&tid, NULL, run_loop, (void *)(intptr_t)fd) != 0) {
            fprintf(stderr, "floor: cannot start thread\n");
            return 1;
        }
    }
    fprintf(stderr, "floor: listening on %s with %ld threads\n", o.listen, o.threads);
    run_loop((void *)(intptr_t)fd);
    return 0;
}
