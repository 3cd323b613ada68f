/* The webhook server: its published state, the event loops, start and shutdown. */
#include "serve.h"
#include "serve_int.h"
#include "xmem.h"

#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "decide.h"
#include "fencesrc.h"
#include "kube.h"
#include "leader.h"
#include "lf_clock.h"
#include "log.h"
#include "metrics.h"
#include "handlers.h"
#include "listener.h"
#include "reload.h"
#include "throttle.h"
#include "strict.h"
#include "tls.h"
#include "tracker.h"
#include "version.h"

#define MAX_REQUEST_BYTES (7 * 1024 * 1024)
#define LOOP_WAKEUP_MS    100
/* After SIGTERM, a loop whose connections saw no request for this long is done. */
#define SHUTDOWN_QUIET_NS (1000000000LL)

struct serve_state serve_srv = {.lock = PTHREAD_MUTEX_INITIALIZER,
                                .loops_done_cond = PTHREAD_COND_INITIALIZER,
                                .fd_tls = -1,
                                .fd_plain = -1};

bool serve_stopping(void)
{
    return atomic_load_explicit(&serve_srv.stopping, memory_order_acquire);
}

/* ---- published state: configuration and TLS context ---- */

void serve_config_unref_locked(struct config_ref *c)
{
    if (c != NULL && --c->refs == 0) {
        config_free(c->table);
        free(c);
    }
}

/* Binds the fences of T to tracker indexes (tracking new Leases). */
static int bind_leases(struct fence_table *t, char *err, size_t errlen)
{
    for (size_t i = 0; i < t->nfences; i++) {
        t->fences[i].lease_idx =
            tracker_track(serve_srv.tracker, t->fences[i].ns, t->fences[i].name, err, errlen);
        if (t->fences[i].lease_idx < 0)
            return -1;
    }
    return 0;
}

/* Stops reading the Leases no fence of T names any more (a reload removed them): their watches end, and
 * RBAC narrowed with the fence does not leave the tracker retrying forever.  Tracking one again (a later
 * reload) lists it afresh. */
static void untrack_unfenced(const struct fence_table *t)
{
    size_t n = tracker_count(serve_srv.tracker);
    unsigned char *fenced = xcalloc(n + 1, 1);
    for (size_t i = 0; i < t->nfences; i++)
        if (t->fences[i].lease_idx >= 0 && (size_t)t->fences[i].lease_idx < n)
            fenced[t->fences[i].lease_idx] = 1;
    for (size_t i = 0; i < n; i++)
        if (!fenced[i])
            tracker_untrack(serve_srv.tracker, i);
    free(fenced);
}

static void publish_config(struct fence_table *t)
{
    struct config_ref *c = xmalloc(sizeof(*c));
    c->table = t;
    c->refs = 1;
    pthread_mutex_lock(&serve_srv.lock);
    serve_config_unref_locked(serve_srv.config);
    serve_srv.config = c;
    atomic_fetch_add_explicit(&serve_srv.config_gen, 1, memory_order_release);
    pthread_mutex_unlock(&serve_srv.lock);
}

/* The fence source's publisher: a new table of the --config file and the LeaseFences, in force at once. */
static void on_fences(void *ctx, struct fence_table *t, struct fencesrc_view *v)
{
    char err[1024];
    (void)ctx;
    if (bind_leases(t, err, sizeof(err)) < 0) {
        log_event(LOGL_ERROR, "fences not applied, keeping the previous ones", "error", err, NULL);
        config_free(t);
        fencesrc_view_release(v);
        return;
    }
    for (size_t i = 0; i < v->nobjects; i++)
        if (v->objects[i].fence >= 0)
            v->objects[i].lease_idx = t->fences[v->objects[i].fence].lease_idx;
    publish_config(t);
    metrics_fences_changed();
    untrack_unfenced(t);
    if (serve_srv.leader != NULL)
        leader_update(serve_srv.leader, v);
    fencesrc_view_release(v);
    /* Building a table parses every fence's JSON: with 10,000 fences, tens of megabytes freed between
     * long-lived allocations, which malloc would otherwise keep. */
    malloc_trim(0);
}

size_t serve_fences_in_force(void)
{
    pthread_mutex_lock(&serve_srv.lock);
    size_t n = serve_srv.config != NULL ? serve_srv.config->table->nfences : 0;
    pthread_mutex_unlock(&serve_srv.lock);
    return n;
}

/* The thread's configuration, switched to the newest one when a reload published it.  The
 * handler uses it synchronously, so holding one reference per thread is enough. */
const struct fence_table *serve_thread_config(struct loop_thread *lt)
{
    uint64_t gen = atomic_load_explicit(&serve_srv.config_gen, memory_order_acquire);
    if (gen != lt->config_gen) {
        pthread_mutex_lock(&serve_srv.lock);
        serve_config_unref_locked(lt->config);
        lt->config = serve_srv.config;
        lt->config->refs++;
        lt->config_gen = atomic_load_explicit(&serve_srv.config_gen, memory_order_acquire);
        pthread_mutex_unlock(&serve_srv.lock);
    }
    return lt->config->table;
}

void serve_publish_ssl(SSL_CTX *ctx)
{
    pthread_mutex_lock(&serve_srv.lock);
    SSL_CTX_free(serve_srv.ssl);
    serve_srv.ssl = ctx;
    atomic_fetch_add_explicit(&serve_srv.ssl_gen, 1, memory_order_release);
    pthread_mutex_unlock(&serve_srv.lock);
}

/* New handshakes use the newest context; SSL_new takes its own reference, so a connection
 * keeps the context it began with after a rotation. */
void serve_thread_ssl(struct loop_thread *lt)
{
    uint64_t gen = atomic_load_explicit(&serve_srv.ssl_gen, memory_order_acquire);
    if (gen != lt->ssl_gen) {
        pthread_mutex_lock(&serve_srv.lock);
        SSL_CTX_up_ref(serve_srv.ssl);
        SSL_CTX_free(lt->accept_tls.ssl_ctx);
        lt->accept_tls.ssl_ctx = serve_srv.ssl;
        lt->ssl_gen = atomic_load_explicit(&serve_srv.ssl_gen, memory_order_acquire);
        pthread_mutex_unlock(&serve_srv.lock);
    }
}

/* ---- event loops ---- */

static void *loop_main(void *arg)
{
    struct loop_thread *lt = arg;
    lt->loop = h2o_evloop_create();
    h2o_context_init(&lt->ctx, lt->loop, &serve_srv.globalconf);
    lt->accept_tls.ctx = &lt->ctx;
    lt->accept_tls.hosts = serve_srv.globalconf.hosts;
    lt->accept_plain = lt->accept_tls;
    lt->accept_plain.ssl_ctx = NULL;
    lt->strict = strict_loop_new(&lt->ctx, serve_srv.tracker, (uint64_t)serve_srv.opts->strict_timeout_ms);
    serve_thread_ssl(lt);
    serve_thread_config(lt);
    throttle_start(lt);
    atomic_store_explicit(&lt->heartbeat_ns, lf_clock_mono_ns(), memory_order_relaxed);

    log_batch_begin(); /* this thread's lines are written once per loop iteration */
    for (;;) {
        h2o_evloop_run(lt->loop, LOOP_WAKEUP_MS);
        log_flush();
        int64_t now = lf_clock_mono_ns();
        atomic_store_explicit(&lt->heartbeat_ns, now, memory_order_relaxed);
        if (!serve_stopping())
            continue;
        if (!lt->closed) {
            throttle_close(lt);
            h2o_context_request_shutdown(&lt->ctx);
            lt->last_request_ns = now;
        }
        /* (a review waiting for a fresh read is answered within --strict-timeout: quiet does not cut it) */
        if (lt->conns <= 0 || now >= serve_srv.stop_deadline_ns ||
            (now - lt->last_request_ns >= SHUTDOWN_QUIET_NS && strict_loop_waiting(lt->strict) == 0))
            break;
    }
    log_batch_end();
    /* Report done, then park instead of returning: h2o keeps buffers in thread-local recycle
     * bins that would look leaked if the thread ended before the process exits. */
    pthread_mutex_lock(&serve_srv.lock);
    serve_srv.loops_done++;
    pthread_cond_signal(&serve_srv.loops_done_cond);
    pthread_mutex_unlock(&serve_srv.lock);
    for (;;)
        pause();
    return NULL;
}

/* ---- the whole server ---- */

static void setup_globalconf(void)
{
    h2o_config_init(&serve_srv.globalconf);
    serve_srv.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("leasefence"));
    serve_srv.globalconf.max_request_entity_size = MAX_REQUEST_BYTES;
    serve_srv.globalconf.http1.req_timeout = (uint64_t)serve_srv.opts->request_timeout_ms;
    serve_srv.globalconf.handshake_timeout = (uint64_t)serve_srv.opts->request_timeout_ms;
    serve_srv.globalconf.http1.upgrade_to_http2 = serve_srv.opts->http2 ? 1 : 0;
    h2o_hostconf_t *host =
        h2o_config_register_host(&serve_srv.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(path, sizeof(*h));
    h->on_req = handlers_on_req;
    /* h2o answers a body over the limit before any path is chosen: on the host's fallback path */
    h2o_create_logger(path, sizeof(h2o_logger_t))->log_access = handlers_on_access;
    h2o_create_logger(&host->fallback_path, sizeof(h2o_logger_t))->log_access = handlers_on_access;
}

int serve_run(const struct serve_options *opts)
{
    char err[1024] = "";
    int64_t not_after = 0;
    sigset_t sigs;
    int rc = 1;

    serve_srv.opts = opts;
    metrics_init();
    metrics_set_max_clock_skew(opts->max_skew_ms * 1000000LL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread inherits it; the main thread waits for them */

    if (opts->config_path != NULL) { /* a broken file fails the start before anything else is tried */
        struct fence_table *t = config_load(opts->config_path, err, sizeof(err));
        if (t == NULL)
            goto fail;
        config_free(t);
    }
    reload_init();
    SSL_CTX *ssl = tls_load(opts->cert_path, opts->key_path, opts->http2, &not_after, err, sizeof(err));
    if (ssl == NULL)
        goto fail;
    serve_publish_ssl(ssl);
    metrics_set_certificate_expiry(not_after);
    /* Bound before any thread starts: a taken port fails the start cleanly. */
    if ((serve_srv.fd_tls = listener_open("--listen", opts->listen, LISTENER_NONBLOCK, err, sizeof(err))) < 0)
        goto fail;
    if (opts->probe_listen != NULL && opts->probe_listen[0] != '\0' &&
        (serve_srv.fd_plain =
             listener_open("--probe-listen", opts->probe_listen, LISTENER_NONBLOCK, err, sizeof(err))) < 0)
        goto fail;

    serve_srv.kube = kube_client_new(opts->kubeconfig, err, sizeof(err));
    if (serve_srv.kube == NULL)
        goto fail;
    {
        /* The token file is re-read every minute, as client-go does; tests that rotate it ask for less. */
        const char *rr = getenv("LEASEFENCE_TEST_TOKEN_REREAD_S");
        char *end;
        long s = rr != NULL ? strtol(rr, &end, 10) : 0;
        if (rr != NULL && end != rr && *end == '\0' && s >= 1 && s <= 3600)
            kube_client_set_token_reread(serve_srv.kube, (int)s);
    }
    serve_srv.tracker = tracker_new(serve_srv.kube);
    tracker_set_refresh_timeout(serve_srv.tracker, (long)opts->strict_timeout_ms);
    {
        char ns[256], id[256];
        leader_namespace(opts->ns, ns, sizeof(ns));
        leader_identity(id, sizeof(id));
        struct leader_options lo = {.kube = serve_srv.kube,
                                    .tracker = serve_srv.tracker,
                                    .ns = ns,
                                    .lease = opts->election_lease,
                                    .identity = id,
                                    .lease_duration_ns = opts->election_lease_duration_ms * 1000000LL,
                                    .renew_deadline_ns = opts->election_renew_deadline_ms * 1000000LL,
                                    .retry_period_ns = opts->election_retry_period_ms * 1000000LL,
                                    .webhook_configuration = opts->webhook_configuration,
                                    .max_skew_ns = opts->max_skew_ms * 1000000LL};
        if ((serve_srv.leader = leader_new(&lo, err, sizeof(err))) == NULL)
            goto fail;
        char lease[600];
        snprintf(lease, sizeof(lease), "%s/%s", ns, opts->election_lease);
        log_event(LOGL_INFO, "standing for election", "lease", lease, "identity", id, "webhookConfiguration",
                  opts->webhook_configuration, NULL);
    }
    struct fencesrc_options fo = {
        .kube = serve_srv.kube, .any_writer = opts->any_writer, .publish = on_fences};
    serve_srv.fences = fencesrc_new(&fo);
    if (opts->config_path != NULL) {
        if (fencesrc_load_file(serve_srv.fences, opts->config_path, err, sizeof(err)) < 0)
            goto fail;
    } else if (fencesrc_publish(serve_srv.fences, err, sizeof(err)) < 0) {
        goto fail;
    }
    if (tracker_start(serve_srv.tracker, err, sizeof(err)) < 0 ||
        fencesrc_start(serve_srv.fences, err, sizeof(err)) < 0 ||
        leader_start(serve_srv.leader, err, sizeof(err)) < 0)
        goto fail;
    setup_globalconf();
    serve_srv.nthreads = opts->threads;
    serve_srv.threads = xcalloc((size_t)serve_srv.nthreads, sizeof(*serve_srv.threads));
    for (int i = 0; i < serve_srv.nthreads; i++) {
        struct loop_thread *lt = &serve_srv.threads[i];
        lt->id = i;
        lt->max_conns =
            opts->max_connections / serve_srv.nthreads > 0 ? opts->max_connections / serve_srv.nthreads : 1;
        lt->metrics = metrics_thread_new();
        atomic_init(&lt->heartbeat_ns, lf_clock_mono_ns());
        if ((errno = pthread_create(&lt->tid, NULL, loop_main, lt)) != 0) {
            snprintf(err, sizeof(err), "cannot start event loop thread: %s", strerror(errno));
            goto fail;
        }
    }
    {
        char threads[16], nf[16];
        snprintf(threads, sizeof(threads), "%d", serve_srv.nthreads);
        snprintf(nf, sizeof(nf), "%zu", serve_fences_in_force());
        log_event(LOGL_INFO, "serving", "listen", opts->listen, "probeListen", opts->probe_listen, "threads",
                  threads, "fences", nf, "http2", opts->http2 ? "on" : "off", "version", LEASEFENCE_VERSION,
                  NULL);
    }

    for (;;) {
        struct timespec wait = {opts->reload_interval_ms / 1000, (opts->reload_interval_ms % 1000) * 1000000};
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            log_event(LOGL_INFO, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
            break;
        }
        reload_poll();
    }
    serve_srv.stop_deadline_ns = lf_clock_mono_ns() + opts->shutdown_grace_ms * 1000000LL;
    atomic_store_explicit(&serve_srv.stopping, true, memory_order_release);
    /* the loops hold duplicates: the sockets stop listening when the last loop has drained and closed its own
     */
    close(serve_srv.fd_tls);
    if (serve_srv.fd_plain >= 0)
        close(serve_srv.fd_plain);
    pthread_mutex_lock(&serve_srv.lock);
    while (serve_srv.loops_done < serve_srv.nthreads)
        pthread_cond_wait(&serve_srv.loops_done_cond, &serve_srv.lock);
    pthread_mutex_unlock(&serve_srv.lock);
    leader_stop(serve_srv.leader); /* releases the election Lease: the next replica takes over at once */
    fencesrc_stop(serve_srv.fences);
    tracker_stop(serve_srv.tracker);
    log_event(LOGL_INFO, "stopped", NULL);
    return 0;

fail:
    log_event(LOGL_ERROR, "cannot serve", "error", err, NULL);
    /* What started before the failure is stopped: a thread still talking TLS to the API server when the
     * process exits would crash in OpenSSL's exit-time cleanup. */
    if (serve_srv.leader != NULL)
        leader_stop(serve_srv.leader);
    if (serve_srv.fences != NULL)
        fencesrc_stop(serve_srv.fences);
    if (serve_srv.tracker != NULL)
        tracker_stop(serve_srv.tracker);
    return rc;
}
