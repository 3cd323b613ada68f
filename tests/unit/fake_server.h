/*
 * fake_server: the fake Kubernetes API server the unit tests share.  Plain HTTP/1.1 on 127.0.0.1, on
 * a port the kernel picks; each accepted connection is handed to the test's handler, which reads the
 * requests and writes the answers it wants (fake_server_read_request, fake_server_send*).
 */
#ifndef LEASEFENCE_TESTS_FAKE_SERVER_H
#define LEASEFENCE_TESTS_FAKE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct kube_client;

/** Serves connection CONN (closed by the fake once the handler returns); CTX is fake_server.ctx. */
typedef void fake_server_handler(void *ctx, int conn);

struct fake_server {
    int fd, port;
    bool threaded; /* a thread per connection; else one connection at a time, in order */
    fake_server_handler *handler;
    void *ctx;
    atomic_int stop;    /* set by fake_server_stop: handlers that wait should watch it */
    atomic_int threads; /* connection threads still running */
    pthread_t th;
};

/** Listens on 127.0.0.1:0 (the port in fs->port) and serves on a thread of its own until stopped. */
void fake_server_start(struct fake_server *fs, fake_server_handler *handler, void *ctx, bool threaded);

/** Stops accepting, joins the accept thread and waits (up to 3 s) for the connection threads. */
void fake_server_stop(struct fake_server *fs);

/** A kube client for the fake (a kubeconfig with token "t"); you own it. */
struct kube_client *fake_server_client(const struct fake_server *fs);

/**
 * Reads one request from CONN into BUF (NUL-terminated): the head, and the body by Content-Length when
 * WITH_BODY.  Returns its length; 0 when the client closed first.
 */
size_t fake_server_read_request(int conn, char *buf, size_t cap, bool with_body);

/** Writes S whole, or nothing more once the client hung up (no SIGPIPE). */
void fake_server_send(int conn, const char *s);

/** Writes a whole response: STATUS ("200 OK"), JSON BODY with its Content-Length, Connection: close. */
void fake_server_send_json(int conn, const char *status, const char *body);

/** Sleeps MS milliseconds. */
void fake_server_sleep_ms(int ms);

/** Sleeps MS milliseconds, or less once fs is being stopped. */
void fake_server_nap(struct fake_server *fs, int ms);

#endif
