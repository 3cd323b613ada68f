/* The webhook server: h2o event loops, request handlers, reloads and shutdown. */
#include "serve.h"
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
#include "log.h"
#include "metrics.h"
#include "review.h"
#include "strict.h"
#include "tls.h"
#include "tracker.h"
#include "version.h"

#define MAX_REQUEST_BYTES    (7 * 1024 * 1024)
#define REQUEST_TIMEOUT_MS   10000
#define HANDSHAKE_TIMEOUT_MS 10000
#define LOOP_WAKEUP_MS       100
#define HEARTBEAT_STALE_NS   (5 * 1000000000LL)
/* After SIGTERM, a loop whose connections saw no request for this long is done. */
#define SHUTDOWN_QUIET_NS (1000000000LL)

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
    int64_t heartbeat_ns; /* atomic */
    int64_t last_request_ns;
    int started; /* atomic: the loop is running */
};

static struct server {
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
    uint64_t config_gen; /* atomic */
    SSL_CTX *ssl;
    uint64_t ssl_gen; /* atomic */

    pthread_cond_t loops_done_cond; /* with lock: loops_done grew */
    int loops_done;

    int stopping; /* atomic */
    int64_t stop_deadline_ns;
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER,
         .loops_done_cond = PTHREAD_COND_INITIALIZER,
         .fd_tls = -1,
         .fd_plain = -1};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool stopping(void)
{
    return __atomic_load_n(&srv.stopping, __ATOMIC_ACQUIRE) != 0;
}

/* ---- published state: configuration and TLS context ---- */

static void config_unref_locked(struct config_ref *c)
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
        t->fences[i].lease_idx = tracker_track(srv.tracker, t->fences[i].ns, t->fences[i].name, err, errlen);
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
    size_t n = tracker_count(srv.tracker);
    unsigned char *fenced = xcalloc(n + 1, 1);
    for (size_t i = 0; i < t->nfences; i++)
        if (t->fences[i].lease_idx >= 0 && (size_t)t->fences[i].lease_idx < n)
            fenced[t->fences[i].lease_idx] = 1;
    for (size_t i = 0; i < n; i++)
        if (!fenced[i])
            tracker_untrack(srv.tracker, i);
    free(fenced);
}

static void publish_config(struct fence_table *t)
{
    struct config_ref *c = xmalloc(sizeof(*c));
    c->table = t;
    c->refs = 1;
    pthread_mutex_lock(&srv.lock);
    config_unref_locked(srv.config);
    srv.config = c;
    __atomic_add_fetch(&srv.config_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&srv.lock);
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
    if (srv.leader != NULL)
        leader_update(srv.leader, v);
    fencesrc_view_release(v);
    /* Building a table parses every fence's JSON: with 10,000 fences, tens of megabytes freed between
     * long-lived allocations, which malloc would otherwise keep. */
    malloc_trim(0);
}

static size_t fences_in_force(void)
{
    pthread_mutex_lock(&srv.lock);
    size_t n = srv.config != NULL ? srv.config->table->nfences : 0;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

/* The thread's configuration, switched to the newest one when a reload published it.  The
 * handler uses it synchronously, so holding one reference per thread is enough. */
static const struct fence_table *thread_config(struct loop_thread *lt)
{
    uint64_t gen = __atomic_load_n(&srv.config_gen, __ATOMIC_ACQUIRE);
    if (gen != lt->config_gen) {
        pthread_mutex_lock(&srv.lock);
        config_unref_locked(lt->config);
        lt->config = srv.config;
        lt->config->refs++;
        lt->config_gen = __atomic_load_n(&srv.config_gen, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&srv.lock);
    }
    return lt->config->table;
}

static void publish_ssl(SSL_CTX *ctx)
{
    pthread_mutex_lock(&srv.lock);
    SSL_CTX_free(srv.ssl);
    srv.ssl = ctx;
    __atomic_add_fetch(&srv.ssl_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&srv.lock);
}

/* New handshakes use the newest context; SSL_new takes its own reference, so a connection
 * keeps the context it began with after a rotation. */
static void thread_ssl(struct loop_thread *lt)
{
    uint64_t gen = __atomic_load_n(&srv.ssl_gen, __ATOMIC_ACQUIRE);
    if (gen != lt->ssl_gen) {
        pthread_mutex_lock(&srv.lock);
        SSL_CTX_up_ref(srv.ssl);
        SSL_CTX_free(lt->accept_tls.ssl_ctx);
        lt->accept_tls.ssl_ctx = srv.ssl;
        lt->ssl_gen = __atomic_load_n(&srv.ssl_gen, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&srv.lock);
    }
}

/* ---- responses ---- */

static h2o_generator_t generator = {NULL, NULL};

static void respond(h2o_req_t *req, int status, const char *reason, const char *ctype, const char *body,
                    size_t len)
{
    h2o_iovec_t buf = h2o_iovec_init(body, len);
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_start_response(req, &generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static void respond_text(h2o_req_t *req, int status, const char *reason, const char *text)
{
    size_t n = strlen(text);
    char *body = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(body, text, n);
    body[n] = '\n';
    respond(req, status, reason, "text/plain; charset=utf-8", body, n + 1);
}

/* A 4xx for /validate, counted and logged. */
static void bad_request(struct loop_thread *lt, h2o_req_t *req, int status, const char *reason,
                        const char *msg)
{
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    metrics_count_bad_request(lt->metrics, status);
    log_event(LOGL_WARN, "bad request", "code", code, "error", msg, NULL);
    respond_text(req, status, reason, msg);
}

/* A JSON writer on the request's pool, sized by the caller for the worst case. */
struct jbuf {
    char *p;
    size_t len, cap;
};

static void jraw(struct jbuf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap)
        abort(); /* the caller's size estimate is wrong: a bug */
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void jlit(struct jbuf *b, const char *s)
{
    jraw(b, s, strlen(s));
}

/* A JSON string (with quotes); at most 6 bytes per input byte + 2.  Runs that need no escape are copied
 * whole. */
static void jstr(struct jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending unescaped run */
    jraw(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20)
            continue;
        jraw(b, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            jraw(b, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jraw(b, e, 6);
        }
    }
    jraw(b, s + run, n - run);
    jraw(b, "\"", 1);
}

static size_t jsize(size_t n)
{
    return 6 * n + 2;
}

/* ---- POST /validate ---- */

static void *pool_alloc(void *ctx, size_t size)
{
    uintptr_t p = (uintptr_t)h2o_mem_alloc_pool(ctx, size + 15);
    return (void *)((p + 15) & ~(uintptr_t)15);
}

/* "application/json", any case, optionally followed by parameters. */
static bool is_json(h2o_iovec_t v)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;
    if (v.len < n || !h2o_lcstris(v.base, n, want, n))
        return false;
    return v.len == n || v.base[n] == ';' || v.base[n] == ' ' || v.base[n] == '\t';
}

static void log_check(const struct review *r, const struct fence_table *t, const struct fence_check *c,
                      const struct lease_snapshot *snap, bool allowed)
{
    const struct fence *f = &t->fences[c->fence];
    char resource[320];
    char object[512];
    snprintf(resource, sizeof(resource), "%.*s%s%.*s", (int)r->res_group.len,
             r->res_group.ptr ? r->res_group.ptr : "", r->res_group.len ? "/" : "", (int)r->res_resource.len,
             r->res_resource.ptr ? r->res_resource.ptr : "");
    snprintf(object, sizeof(object), "%.*s%s%.*s", (int)r->namespace_.len,
             r->namespace_.ptr ? r->namespace_.ptr : "", r->namespace_.len ? "/" : "", (int)r->name.len,
             r->name.ptr ? r->name.ptr : "");
    struct log_field fields[] = {
        {"uid", r->uid.ptr, r->uid.len},
        {"user", r->username.ptr ? r->username.ptr : "", r->username.len},
        {"identity", c->identity.ptr ? c->identity.ptr : "", c->identity.len},
        {"operation", r->operation.ptr ? r->operation.ptr : "", r->operation.len},
        {"resource", resource, strlen(resource)},
        {"object", object, strlen(object)},
        {"lease", f->lease, strlen(f->lease)},
        {"holder", snap ? snap->holder : "", snap ? snap->holder_len : 0},
        {"reason", decide_reason_name(c->reason), strlen(decide_reason_name(c->reason))},
        {"mode", config_mode_name(f->mode), strlen(config_mode_name(f->mode))},
        {"dryRun", r->dry_run ? "true" : "false", r->dry_run ? 4 : 5},
    };
    log_fields(LOGL_WARN, allowed ? "write would be denied" : "write denied", fields,
               sizeof(fields) / sizeof(fields[0]));
}

/* What one review weighed: every fence naming its writer, with its snapshot and check. */
struct weighing {
    int *fences;
    const struct lease_snapshot **snaps;
    struct fence_check *checks;
    size_t n;
};

static void answer(h2o_req_t *req, const struct review *r, const struct fence_table *t,
                   const struct decision *d, const struct weighing *w)
{
    const struct lease_snapshot *snap = d->check >= 0 ? w->snaps[d->check] : NULL;
    const char *holder = snap ? snap->holder : "";
    size_t mlen = strlen(d->message), hlen = snap ? snap->holder_len : 0, nwarn = 0;
    char(*warnings)[sizeof(d->message)] = NULL;
    struct jbuf b;

    /* Every failing warn fence adds its warning; the deciding fence's is d->message. */
    for (size_t i = 0; i < w->n && d->allowed; i++)
        if (w->checks[i].failed && t->fences[w->checks[i].fence].mode == FENCE_WARN)
            nwarn++;
    if (nwarn > 0) {
        size_t k = 0;
        warnings = h2o_mem_alloc_pool(&req->pool, nwarn * sizeof(*warnings));
        for (size_t i = 0; i < w->n; i++)
            if (w->checks[i].failed && t->fences[w->checks[i].fence].mode == FENCE_WARN)
                decide_message(r, t, &w->checks[i], w->snaps[i], warnings[k++], sizeof(*warnings));
    }
    b.cap = 512 + jsize(r->uid.len) + 2 * jsize(mlen) + jsize(hlen) + nwarn * jsize(sizeof(*warnings));
    b.p = h2o_mem_alloc_pool(&req->pool, b.cap);
    b.len = 0;
    jlit(&b, r->version == REVIEW_V1BETA1 ? "{\"apiVersion\":\"admission.k8s.io/v1beta1\""
                                          : "{\"apiVersion\":\"admission.k8s.io/v1\"");
    jlit(&b, ",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
    jstr(&b, r->uid.ptr, r->uid.len);
    jlit(&b, d->allowed ? ",\"allowed\":true" : ",\"allowed\":false");
    if (!d->allowed) {
        jlit(&b, ",\"status\":{\"metadata\":{},\"status\":\"Failure\",\"message\":");
        jstr(&b, d->message, mlen);
        jlit(&b, ",\"reason\":\"Forbidden\",\"code\":403}");
    }
    if (nwarn > 0) {
        jlit(&b, ",\"warnings\":[");
        for (size_t k = 0; k < nwarn; k++) {
            if (k > 0)
                jlit(&b, ",");
            jstr(&b, warnings[k], strlen(warnings[k]));
        }
        jlit(&b, "]");
    }
    if (d->fenced) {
        /* the API server prefixes each key with the webhook's name ("NAME/reason") */
        jlit(&b, ",\"auditAnnotations\":{\"reason\":");
        jstr(&b, decide_reason_name(d->reason), strlen(decide_reason_name(d->reason)));
        jlit(&b, ",\"lease\":");
        jstr(&b, t->fences[d->fence].lease, strlen(t->fences[d->fence].lease));
        jlit(&b, ",\"holder\":");
        jstr(&b, holder, hlen);
        jlit(&b, "}");
    }
    jlit(&b, "}}");
    respond(req, 200, "OK", "application/json", b.p, b.len);
}

/* Weighs R against every fence naming its writer; W's arrays come from the request's pool. */
static void weigh(h2o_req_t *req, const struct review *r, const struct fence_table *t, struct weighing *w)
{
    int stack[8];
    size_t n = decide_fences(r, t, stack, sizeof(stack) / sizeof(stack[0]));
    w->fences = stack;
    if (n > sizeof(stack) / sizeof(stack[0])) {
        w->fences = h2o_mem_alloc_pool(&req->pool, n * sizeof(*w->fences));
        n = decide_fences(r, t, w->fences, n);
    } else if (n > 0) {
        w->fences = h2o_mem_alloc_pool(&req->pool, n * sizeof(*w->fences));
        memcpy(w->fences, stack, n * sizeof(*w->fences));
    }
    w->n = n;
    if (n == 0)
        return;
    w->snaps = h2o_mem_alloc_pool(&req->pool, n * sizeof(*w->snaps));
    w->checks = h2o_mem_alloc_pool(&req->pool, n * sizeof(*w->checks));
    int64_t now = now_ns();
    for (size_t i = 0; i < n; i++) {
        int li = t->fences[w->fences[i]].lease_idx;
        w->snaps[i] = li >= 0 ? tracker_acquire(srv.tracker, (size_t)li) : NULL;
        decide_check(r, t, w->fences[i], w->snaps[i], now, srv.opts->max_skew_ms * 1000000LL, &w->checks[i]);
    }
}

/* Answers R as D says, then logs every failed check and counts. */
static void conclude(struct loop_thread *lt, h2o_req_t *req, const struct review *r,
                     const struct fence_table *t, const struct decision *d, const struct weighing *w,
                     int64_t start)
{
    answer(req, r, t, d, w);
    for (size_t i = 0; i < w->n; i++) {
        const struct fence *f = &t->fences[w->fences[i]];
        if (w->checks[i].failed)
            log_check(r, t, &w->checks[i], w->snaps[i], f->mode != FENCE_ENFORCE);
        metrics_count_check(lt->metrics, f->lease_idx, f->mode, w->checks[i].reason);
    }
    metrics_in_flight(lt->metrics, -1);
    metrics_count_request(lt->metrics, d->fenced ? t->fences[d->fence].lease_idx : -1,
                          d->fenced ? t->fences[d->fence].mode : FENCE_ENFORCE, d->reason, d->allowed,
                          (uint64_t)(now_ns() - start));
}

/* ---- strict fences: a passing check is made again on a record read afresh ---- */

/* A review waiting for fresh reads.  Its weighing is copied out of the request's pool (the request may go
 * away first), holding the watched snapshots and the configuration until the wait is freed. */
struct strict_review {
    struct loop_thread *lt;
    struct review r; /* points into the request: read only in done */
    struct config_ref *config;
    struct weighing w;
    const struct lease_snapshot **watched; /* w.snaps as weighed: the references to release */
    size_t *pending, npending;             /* the checks made again: indexes into w */
    size_t *read_of;                       /* per pending check, its Lease's index in the reads */
    int64_t start;
};

static void strict_done(void *ctx, h2o_req_t *req, const struct strict_read *reads, size_t n, bool timed_out,
                        uint64_t waited_ns)
{
    struct strict_review *sr = ctx;
    const struct fence_table *t = sr->config->table;
    struct weighing *w = &sr->w;
    struct decision d;
    int64_t now = now_ns();
    unsigned overturned = 0;
    bool failed = false, late = timed_out;
    (void)n;
    for (size_t k = 0; k < sr->npending; k++) {
        size_t i = sr->pending[k];
        const struct strict_read *rd = &reads[sr->read_of[k]];
        if (rd->snap != NULL) {
            w->snaps[i] = rd->snap;
            decide_check(&sr->r, t, w->fences[i], rd->snap, now, srv.opts->max_skew_ms * 1000000LL,
                         &w->checks[i]);
            overturned += w->checks[i].failed;
        } else {
            w->snaps[i] = NULL;
            decide_check_unread(&sr->r, t, w->fences[i], rd->why, &w->checks[i]);
            failed = true;
            late = late || rd->late;
        }
    }
    decide(&sr->r, t, w->checks, w->snaps, w->n, &d);
    metrics_count_strict_wait(sr->lt->metrics,
                              late     ? STRICT_TIMEOUT
                              : failed ? STRICT_FAILED
                                       : STRICT_FRESH,
                              waited_ns, overturned);
    conclude(sr->lt, req, &sr->r, t, &d, w, sr->start);
}

static void strict_gone(void *ctx, uint64_t waited_ns)
{
    struct strict_review *sr = ctx;
    metrics_count_strict_wait(sr->lt->metrics, STRICT_GONE, waited_ns, 0);
    metrics_in_flight(sr->lt->metrics, -1);
}

static void strict_cleanup(void *ctx)
{
    struct strict_review *sr = ctx;
    for (size_t i = 0; i < sr->w.n; i++)
        tracker_release(srv.tracker, sr->watched[i]);
    pthread_mutex_lock(&srv.lock);
    config_unref_locked(sr->config);
    pthread_mutex_unlock(&srv.lock);
    free(sr->w.fences);
    free(sr->w.snaps);
    free(sr->w.checks);
    free(sr->watched);
    free(sr->pending);
    free(sr->read_of);
}

static const struct strict_ops strict_ops = {strict_done, strict_gone, strict_cleanup};

static void *copy_of(const void *p, size_t size)
{
    void *q = xmalloc(size);
    memcpy(q, p, size);
    return q;
}

/* Parks the review until the Leases of its PENDING[0..NP) checks are read afresh; the wait answers it. */
static void strict_begin(struct loop_thread *lt, h2o_req_t *req, const struct review *r,
                         const struct weighing *w, const size_t *pending, size_t np, int64_t start)
{
    const struct fence_table *t = lt->config->table;
    size_t *leases = xcalloc(np, sizeof(*leases)), *read_of = xcalloc(np, sizeof(*read_of)), nleases = 0;
    for (size_t k = 0; k < np; k++) { /* one read per Lease, whatever number of its fences wait for it */
        size_t li = (size_t)t->fences[w->fences[pending[k]]].lease_idx, j = 0;
        while (j < nleases && leases[j] != li)
            j++;
        if (j == nleases)
            leases[nleases++] = li;
        read_of[k] = j;
    }
    struct strict_review *sr = strict_wait(lt->strict, req, leases, nleases, sizeof(*sr), &strict_ops);
    free(leases);
    sr->lt = lt;
    sr->r = *r;
    sr->start = start;
    pthread_mutex_lock(&srv.lock);
    sr->config = lt->config;
    sr->config->refs++;
    pthread_mutex_unlock(&srv.lock);
    sr->w.n = w->n;
    sr->w.fences = copy_of(w->fences, w->n * sizeof(*w->fences));
    sr->w.snaps = copy_of(w->snaps, w->n * sizeof(*w->snaps));
    sr->w.checks = copy_of(w->checks, w->n * sizeof(*w->checks));
    sr->watched = copy_of(w->snaps, w->n * sizeof(*w->snaps));
    sr->pending = copy_of(pending, np * sizeof(*pending));
    sr->npending = np;
    sr->read_of = read_of;
}

static void handle_validate(struct loop_thread *lt, h2o_req_t *req)
{
    struct review r;
    struct decision d;
    struct weighing w = {0};
    char err[256];
    int64_t start = now_ns();
    ssize_t ct;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        bad_request(lt, req, 405, "Method Not Allowed", "method not allowed: /validate takes POST");
        return;
    }
    ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct < 0 || !is_json(req->headers.entries[ct].value)) {
        bad_request(lt, req, 415, "Unsupported Media Type",
                    "unsupported media type: /validate takes Content-Type application/json");
        return;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        bad_request(lt, req, 400, "Bad Request", "bad request: empty body, expected an AdmissionReview");
        return;
    }
    const struct fence_table *t = thread_config(lt);
    if (review_decode(&r, req->entity.base, req->entity.len, &t->want, pool_alloc, &req->pool, err,
                      sizeof(err)) != 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "bad AdmissionReview: %s", err);
        bad_request(lt, req, 400, "Bad Request", msg);
        return;
    }
    metrics_in_flight(lt->metrics, 1);
    weigh(req, &r, t, &w);
    decide(&r, t, w.checks, w.snaps, w.n, &d);
    size_t *pending = w.n > 0 ? h2o_mem_alloc_pool(&req->pool, w.n * sizeof(*pending)) : NULL;
    size_t np = w.n > 0 ? decide_strict_pending(t, w.checks, w.n, &d, pending) : 0;
    if (np > 0) { /* not on the watched state alone: answered once the Leases are read afresh */
        strict_begin(lt, req, &r, &w, pending, np, start);
        return;
    }
    conclude(lt, req, &r, t, &d, &w, start);
    for (size_t i = 0; i < w.n; i++)
        tracker_release(srv.tracker, w.snaps[i]);
}

/* ---- probes and metrics ---- */

static void handle_healthz(h2o_req_t *req)
{
    int64_t now = now_ns();
    for (int i = 0; i < srv.nthreads; i++) {
        int64_t hb = __atomic_load_n(&srv.threads[i].heartbeat_ns, __ATOMIC_RELAXED);
        if (now - hb > HEARTBEAT_STALE_NS) {
            char msg[96];
            snprintf(msg, sizeof(msg), "event loop %d has not run for %.1fs", i, (double)(now - hb) / 1e9);
            respond_text(req, 500, "Internal Server Error", msg);
            return;
        }
    }
    respond_text(req, 200, "OK", "ok");
}

/* Ready when every tracked Lease is synced (serve untracks the Leases a reload stopped fencing). */
static void handle_readyz(h2o_req_t *req)
{
    if (stopping()) {
        respond_text(req, 503, "Service Unavailable", "shutting down");
        return;
    }
    if (!fencesrc_synced(srv.fences)) { /* until then, a fenced writer would be answered unfenced */
        char msg[600];
        fencesrc_why_not_synced(srv.fences, msg, sizeof(msg));
        respond_text(req, 503, "Service Unavailable", msg);
        return;
    }
    if (!tracker_all_synced(srv.tracker)) {
        char msg[1024];
        size_t n = tracker_count(srv.tracker), len;
        len = (size_t)snprintf(msg, sizeof(msg), "leases not synced yet:");
        for (size_t i = 0; i < n && len < sizeof(msg) - 1; i++) {
            const struct lease_snapshot *s = tracker_acquire(srv.tracker, i);
            if (s->tracked && !s->known)
                len += (size_t)snprintf(msg + len, sizeof(msg) - len, " %s/%s", s->ns, s->name);
            tracker_release(srv.tracker, s);
        }
        respond_text(req, 503, "Service Unavailable", msg);
        return;
    }
    respond_text(req, 200, "OK", "ok");
}

static void *metrics_pool_alloc(void *ctx, size_t size)
{
    return h2o_mem_alloc_pool(ctx, size);
}

static void handle_metrics(h2o_req_t *req)
{
    char *text;
    size_t len;
    metrics_render(srv.tracker, srv.kube, now_ns(), metrics_pool_alloc, &req->pool, &text, &len);
    respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct loop_thread *lt = H2O_STRUCT_FROM_MEMBER(struct loop_thread, ctx, req->conn->ctx);
    h2o_iovec_t path = req->path_normalized;
    bool tls = req->scheme == &H2O_URL_SCHEME_HTTPS;
    (void)self;
    lt->last_request_ns = now_ns();
    if (stopping())
        req->http1_is_persistent = 0; /* close each connection after its answer */
    if (tls && h2o_memis(path.base, path.len, H2O_STRLIT("/validate"))) {
        handle_validate(lt, req);
        return 0;
    }
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
               h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    void (*fn)(h2o_req_t *) = NULL;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz")))
        fn = handle_healthz;
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz")))
        fn = handle_readyz;
    else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")))
        fn = handle_metrics;
    if (fn == NULL) {
        metrics_count_bad_request(lt->metrics, 404);
        respond_text(req, 404, "Not Found", "not found");
    } else if (!get) {
        metrics_count_bad_request(lt->metrics, 405);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        respond_text(req, 405, "Method Not Allowed", "method not allowed");
    } else {
        fn(req);
    }
    return 0;
}

/* ---- event loops ---- */

static void on_accept_tls(h2o_socket_t *listener, const char *err);
static void on_accept_plain(h2o_socket_t *listener, const char *err);

static void pause_listeners(struct loop_thread *lt, bool pause)
{
    if (lt->closed || lt->paused == pause)
        return;
    lt->paused = pause;
    if (pause) {
        h2o_socket_read_stop(lt->listen_tls);
        if (lt->listen_plain != NULL)
            h2o_socket_read_stop(lt->listen_plain);
    } else {
        h2o_socket_read_start(lt->listen_tls, on_accept_tls);
        if (lt->listen_plain != NULL)
            h2o_socket_read_start(lt->listen_plain, on_accept_plain);
    }
}

static void on_conn_close(void *data)
{
    struct loop_thread *lt = data;
    lt->conns--;
    if (lt->paused && lt->conns < lt->max_conns && !stopping())
        pause_listeners(lt, false);
}

static void accept_some(h2o_socket_t *listener, h2o_accept_ctx_t *actx)
{
    struct loop_thread *lt = listener->data;
    for (int i = 0; i < 16 && lt->conns < lt->max_conns; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        lt->conns++;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = lt;
        h2o_accept(actx, sock);
    }
    if (lt->conns >= lt->max_conns)
        pause_listeners(lt, true);
}

static void on_accept_tls(h2o_socket_t *listener, const char *err)
{
    struct loop_thread *lt = listener->data;
    if (err != NULL)
        return;
    thread_ssl(lt);
    accept_some(listener, &lt->accept_tls);
}

static void on_accept_plain(h2o_socket_t *listener, const char *err)
{
    struct loop_thread *lt = listener->data;
    if (err != NULL)
        return;
    accept_some(listener, &lt->accept_plain);
}

static h2o_socket_t *listen_on(struct loop_thread *lt, int fd, h2o_socket_cb cb)
{
    int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0) {
        log_event(LOGL_ERROR, "cannot duplicate the listening socket", "error", strerror(errno), NULL);
        exit(1);
    }
    h2o_socket_t *sock = h2o_evloop_socket_create(lt->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = lt;
    h2o_socket_read_start(sock, cb);
    return sock;
}

/* Connections already queued on LISTENER are accepted and answered, not reset by the close. */
static void drain(h2o_socket_t *listener, h2o_accept_ctx_t *actx)
{
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL) {
        struct loop_thread *lt = listener->data;
        lt->conns++;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = lt;
        h2o_accept(actx, sock);
    }
}

static void close_listeners(struct loop_thread *lt)
{
    if (lt->closed)
        return;
    thread_ssl(lt);
    drain(lt->listen_tls, &lt->accept_tls);
    if (lt->listen_plain != NULL)
        drain(lt->listen_plain, &lt->accept_plain);
    lt->closed = true;
    if (!lt->paused)
        h2o_socket_read_stop(lt->listen_tls);
    h2o_socket_close(lt->listen_tls);
    if (lt->listen_plain != NULL) {
        if (!lt->paused)
            h2o_socket_read_stop(lt->listen_plain);
        h2o_socket_close(lt->listen_plain);
    }
}

static void *loop_main(void *arg)
{
    struct loop_thread *lt = arg;
    lt->loop = h2o_evloop_create();
    h2o_context_init(&lt->ctx, lt->loop, &srv.globalconf);
    lt->accept_tls.ctx = &lt->ctx;
    lt->accept_tls.hosts = srv.globalconf.hosts;
    lt->accept_plain = lt->accept_tls;
    lt->accept_plain.ssl_ctx = NULL;
    lt->strict = strict_loop_new(&lt->ctx, srv.tracker, (uint64_t)srv.opts->strict_timeout_ms);
    thread_ssl(lt);
    thread_config(lt);
    lt->listen_tls = listen_on(lt, srv.fd_tls, on_accept_tls);
    if (srv.fd_plain >= 0)
        lt->listen_plain = listen_on(lt, srv.fd_plain, on_accept_plain);
    __atomic_store_n(&lt->heartbeat_ns, now_ns(), __ATOMIC_RELAXED);
    __atomic_store_n(&lt->started, 1, __ATOMIC_RELEASE);

    log_batch_begin(); /* this thread's lines are written once per loop iteration */
    for (;;) {
        h2o_evloop_run(lt->loop, LOOP_WAKEUP_MS);
        log_flush();
        int64_t now = now_ns();
        __atomic_store_n(&lt->heartbeat_ns, now, __ATOMIC_RELAXED);
        if (!stopping())
            continue;
        if (!lt->closed) {
            close_listeners(lt);
            h2o_context_request_shutdown(&lt->ctx);
            lt->last_request_ns = now;
        }
        /* (a review waiting for a fresh read is answered within --strict-timeout: quiet does not cut it) */
        if (lt->conns <= 0 || now >= srv.stop_deadline_ns ||
            (now - lt->last_request_ns >= SHUTDOWN_QUIET_NS && strict_loop_waiting(lt->strict) == 0))
            break;
    }
    log_batch_end();
    /* Report done, then park instead of returning: h2o keeps buffers in thread-local recycle
     * bins that would look leaked if the thread ended before the process exits. */
    pthread_mutex_lock(&srv.lock);
    srv.loops_done++;
    pthread_cond_signal(&srv.loops_done_cond);
    pthread_mutex_unlock(&srv.lock);
    for (;;)
        pause();
    return NULL;
}

/* ---- listening sockets ---- */

/* Opens a listening socket on "HOST:PORT", ":PORT" (every address) or "[V6]:PORT". */
static int open_listener(const char *spec, char *err, size_t errlen)
{
    char host[256] = "", port[16];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc, on = 1;

    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= sizeof(port) ||
        (size_t)(colon - spec) >= sizeof(host)) {
        snprintf(err, errlen, "listen address '%s': expected HOST:PORT or :PORT", spec);
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    snprintf(port, sizeof(port), "%s", colon + 1);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = host[0] == '\0' ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 && host[0] == '\0') {
        hints.ai_family = AF_INET;
        rc = getaddrinfo(NULL, port, &hints, &res);
    }
    if (rc != 0) {
        snprintf(err, errlen, "listen address '%s': %s", spec, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (ai->ai_family == AF_INET6 && host[0] == '\0') {
            int off = 0;
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        snprintf(err, errlen, "listen address '%s': %s", spec, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && err[0] == '\0')
        snprintf(err, errlen, "listen address '%s': no usable address", spec);
    return fd;
}

/* ---- reloads ---- */

/* What identifies a file's content for reloads: ConfigMap and Secret volumes swap a symlink,
 * so the resolved path and the inode matter as well as mtime and size. */
struct file_id {
    char path[4096];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool ok;
};

static struct file_id file_id_of(const char *path)
{
    struct file_id id;
    struct stat st;
    memset(&id, 0, sizeof(id));
    if (realpath(path, id.path) == NULL || stat(id.path, &st) != 0)
        return id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime = st.st_mtim;
    id.ok = true;
    return id;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
    return a->ok == b->ok && strcmp(a->path, b->path) == 0 && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static struct file_id config_id, cert_id, key_id;

static void reload_config(void)
{
    char err[1024] = "";
    if (srv.opts->config_path == NULL)
        return;
    struct file_id id = file_id_of(srv.opts->config_path);
    if (file_id_eq(&id, &config_id))
        return;
    config_id = id;
    if (fencesrc_load_file(srv.fences, srv.opts->config_path, err, sizeof(err)) < 0) {
        metrics_config_reload(false);
        log_event(LOGL_ERROR, "configuration not reloaded, keeping the previous one", "error", err, NULL);
        return;
    }
    char n[32];
    snprintf(n, sizeof(n), "%zu", fences_in_force());
    metrics_config_reload(true);
    log_event(LOGL_INFO, "configuration reloaded", "path", srv.opts->config_path, "fences", n, NULL);
}

static void reload_tls(void)
{
    char err[1024] = "";
    int64_t not_after = 0;
    struct file_id c = file_id_of(srv.opts->cert_path), k = file_id_of(srv.opts->key_path);
    if (file_id_eq(&c, &cert_id) && file_id_eq(&k, &key_id))
        return;
    cert_id = c;
    key_id = k;
    SSL_CTX *ctx =
        tls_load(srv.opts->cert_path, srv.opts->key_path, srv.opts->http2, &not_after, err, sizeof(err));
    if (ctx == NULL) {
        metrics_certificate_reload(false);
        log_event(LOGL_ERROR, "certificate not reloaded, keeping the previous one", "error", err, NULL);
        return;
    }
    publish_ssl(ctx);
    metrics_set_certificate_expiry(not_after);
    metrics_certificate_reload(true);
    log_event(LOGL_INFO, "certificate reloaded", "path", srv.opts->cert_path, NULL);
}

/* ---- the whole server ---- */

static void setup_globalconf(void)
{
    h2o_config_init(&srv.globalconf);
    srv.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("leasefence"));
    srv.globalconf.max_request_entity_size = MAX_REQUEST_BYTES;
    srv.globalconf.http1.req_timeout = (uint64_t)srv.opts->request_timeout_ms;
    srv.globalconf.handshake_timeout = (uint64_t)srv.opts->request_timeout_ms;
    srv.globalconf.http1.upgrade_to_http2 = srv.opts->http2 ? 1 : 0;
    h2o_hostconf_t *host =
        h2o_config_register_host(&srv.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(path, sizeof(*h));
    h->on_req = on_req;
}

int serve_run(const struct serve_options *opts)
{
    char err[1024] = "";
    int64_t not_after = 0;
    sigset_t sigs;
    int rc = 1;

    srv.opts = opts;
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
    cert_id = file_id_of(opts->cert_path);
    key_id = file_id_of(opts->key_path);
    SSL_CTX *ssl = tls_load(opts->cert_path, opts->key_path, opts->http2, &not_after, err, sizeof(err));
    if (ssl == NULL)
        goto fail;
    publish_ssl(ssl);
    metrics_set_certificate_expiry(not_after);
    srv.kube = kube_client_new(opts->kubeconfig, err, sizeof(err));
    if (srv.kube == NULL)
        goto fail;
    {
        /* The token file is re-read every minute, as client-go does; tests that rotate it ask for less. */
        const char *rr = getenv("LEASEFENCE_TEST_TOKEN_REREAD_S");
        char *end;
        long s = rr != NULL ? strtol(rr, &end, 10) : 0;
        if (rr != NULL && end != rr && *end == '\0' && s >= 1 && s <= 3600)
            kube_client_set_token_reread(srv.kube, (int)s);
    }
    srv.tracker = tracker_new(srv.kube);
    tracker_set_refresh_timeout(srv.tracker, (long)opts->strict_timeout_ms);
    {
        char ns[256], id[256];
        leader_namespace(opts->ns, ns, sizeof(ns));
        leader_identity(id, sizeof(id));
        struct leader_options lo = {.kube = srv.kube,
                                    .tracker = srv.tracker,
                                    .ns = ns,
                                    .lease = opts->election_lease,
                                    .identity = id,
                                    .lease_duration_ns = opts->election_lease_duration_ms * 1000000LL,
                                    .renew_deadline_ns = opts->election_renew_deadline_ms * 1000000LL,
                                    .retry_period_ns = opts->election_retry_period_ms * 1000000LL,
                                    .webhook_configuration = opts->webhook_configuration,
                                    .max_skew_ns = opts->max_skew_ms * 1000000LL};
        if ((srv.leader = leader_new(&lo, err, sizeof(err))) == NULL)
            goto fail;
        char lease[600];
        snprintf(lease, sizeof(lease), "%s/%s", ns, opts->election_lease);
        log_event(LOGL_INFO, "standing for election", "lease", lease, "identity", id, "webhookConfiguration",
                  opts->webhook_configuration, NULL);
    }
    struct fencesrc_options fo = {.kube = srv.kube, .any_writer = opts->any_writer, .publish = on_fences};
    srv.fences = fencesrc_new(&fo);
    if (opts->config_path != NULL) {
        config_id = file_id_of(opts->config_path);
        if (fencesrc_load_file(srv.fences, opts->config_path, err, sizeof(err)) < 0)
            goto fail;
    } else if (fencesrc_publish(srv.fences, err, sizeof(err)) < 0) {
        goto fail;
    }
    if (tracker_start(srv.tracker, err, sizeof(err)) < 0 ||
        fencesrc_start(srv.fences, err, sizeof(err)) < 0 || leader_start(srv.leader, err, sizeof(err)) < 0)
        goto fail;
    if ((srv.fd_tls = open_listener(opts->listen, err, sizeof(err))) < 0)
        goto fail;
    if (opts->probe_listen != NULL && opts->probe_listen[0] != '\0' &&
        (srv.fd_plain = open_listener(opts->probe_listen, err, sizeof(err))) < 0)
        goto fail;

    setup_globalconf();
    srv.nthreads = opts->threads;
    srv.threads = calloc((size_t)srv.nthreads, sizeof(*srv.threads));
    if (srv.threads == NULL)
        abort();
    for (int i = 0; i < srv.nthreads; i++) {
        struct loop_thread *lt = &srv.threads[i];
        lt->id = i;
        lt->max_conns = opts->max_connections / srv.nthreads > 0 ? opts->max_connections / srv.nthreads : 1;
        lt->metrics = metrics_thread_new();
        lt->heartbeat_ns = now_ns();
        if ((errno = pthread_create(&lt->tid, NULL, loop_main, lt)) != 0) {
            snprintf(err, sizeof(err), "cannot start event loop thread: %s", strerror(errno));
            goto fail;
        }
    }
    {
        char threads[16], nf[16];
        snprintf(threads, sizeof(threads), "%d", srv.nthreads);
        snprintf(nf, sizeof(nf), "%zu", fences_in_force());
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
        reload_config();
        reload_tls();
    }
    srv.stop_deadline_ns = now_ns() + opts->shutdown_grace_ms * 1000000LL;
    __atomic_store_n(&srv.stopping, 1, __ATOMIC_RELEASE);
    /* the loops hold duplicates: the sockets stop listening when the last loop has drained and closed its own
     */
    close(srv.fd_tls);
    if (srv.fd_plain >= 0)
        close(srv.fd_plain);
    pthread_mutex_lock(&srv.lock);
    while (srv.loops_done < srv.nthreads)
        pthread_cond_wait(&srv.loops_done_cond, &srv.lock);
    pthread_mutex_unlock(&srv.lock);
    leader_stop(srv.leader); /* releases the election Lease: the next replica takes over at once */
    fencesrc_stop(srv.fences);
    tracker_stop(srv.tracker);
    log_event(LOGL_INFO, "stopped", NULL);
    return 0;

fail:
    log_event(LOGL_ERROR, "cannot serve", "error", err, NULL);
    return rc;
}
