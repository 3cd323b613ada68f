#ifndef LEASEFENCE_SERVE_INT_H
#define LEASEFENCE_SERVE_INT_H
/*
 * Internals shared by serve's files, not for other modules: serve.c (the
 * published state, the event loops, serve_run), handlers.c (the requests),
 * throttle.c (accepting connections), reload.c (file reloads).
 */
#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "serve.h"

#define HEARTBEAT_STALE_NS (5 * 1000000000LL)

/* A reference-counted published configuration. */
struct config_ref {
    struct fence_table *table;
    int refs;
};

struct loop_thread {
    int id;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_tls, accept_plain;
    h2o_socket_t *listen_tls, *listen_plain;
    bool paused, closed;
    int conns, max_conns;
    struct metrics_thread *metrics;
    struct strict_loop *strict; /* reviews waiting for fresh Lease reads (strict fences) */
    struct config_ref *config;  /* this thread's reference */
    uint64_t config_gen, ssl_gen;
    _Atomic int64_t heartbeat_ns; /* when the loop last ran (lf_clock_mono_ns): /healthz reads it */
    int64_t last_request_ns;
};

struct serve_state {
    const struct serve_options *opts;
    h2o_globalconf_t globalconf;
    struct kube_client *kube;
    struct tracker *tracker;
    struct fencesrc *fences;
    struct leader *leader;
    int fd_tls, fd_plain;
    struct loop_thread *threads;
    int nthreads;

    pthread_mutex_t lock; /* guards the "current" pointers and config refs */
    struct config_ref *config;
    _Atomic uint64_t config_gen;
    SSL_CTX *ssl;
    _Atomic uint64_t ssl_gen;

    pthread_cond_t loops_done_cond; /* with lock: loops_done grew */
    int loops_done;

    atomic_bool stopping;
    int64_t stop_deadline_ns;
};

/** The one server of the process (serve_run). */
extern struct serve_state serve_srv;

/** True once SIGTERM or SIGINT began the shutdown. */
bool serve_stopping(void);

/** Drops one reference to C (NULL: nothing), freeing it with the last; call it with serve_srv.lock held. */
void serve_config_unref_locked(struct config_ref *c);

/** LT's configuration, switched to the newest published one; borrowed until LT's next call. */
const struct fence_table *serve_thread_config(struct loop_thread *lt);

/** Points LT's TLS accept context at the newest published certificate. */
void serve_thread_ssl(struct loop_thread *lt);

/** The number of fences in force. */
size_t serve_fences_in_force(void);

/** Publishes CTX (stolen) for new handshakes. */
void serve_publish_ssl(SSL_CTX *ctx);

#endif
