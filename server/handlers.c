/* The webhook's requests: POST /validate (with strict fences' waits), /healthz, /readyz, /metrics. */
#include "handlers.h"
#include "serve_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decide.h"
#include "fencesrc.h"
#include "lf_clock.h"
#include "log.h"
#include "metrics.h"
#include "respond.h"
#include "review.h"
#include "strict.h"
#include "tracker.h"
#include "xmem.h"

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
    struct respond_json b;

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
    b.cap = 512 + respond_json_size(r->uid.len) + 2 * respond_json_size(mlen) + respond_json_size(hlen) +
            nwarn * respond_json_size(sizeof(*warnings));
    b.p = h2o_mem_alloc_pool(&req->pool, b.cap);
    b.len = 0;
    respond_json_lit(&b, r->version == REVIEW_V1BETA1 ? "{\"apiVersion\":\"admission.k8s.io/v1beta1\""
                                                      : "{\"apiVersion\":\"admission.k8s.io/v1\"");
    respond_json_lit(&b, ",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
    respond_json_str(&b, r->uid.ptr, r->uid.len);
    respond_json_lit(&b, d->allowed ? ",\"allowed\":true" : ",\"allowed\":false");
    if (!d->allowed) {
        respond_json_lit(&b, ",\"status\":{\"metadata\":{},\"status\":\"Failure\",\"message\":");
        respond_json_str(&b, d->message, mlen);
        respond_json_lit(&b, ",\"reason\":\"Forbidden\",\"code\":403}");
    }
    if (nwarn > 0) {
        respond_json_lit(&b, ",\"warnings\":[");
        for (size_t k = 0; k < nwarn; k++) {
            if (k > 0)
                respond_json_lit(&b, ",");
            respond_json_str(&b, warnings[k], strlen(warnings[k]));
        }
        respond_json_lit(&b, "]");
    }
    if (d->fenced) {
        /* the API server prefixes each key with the webhook's name ("NAME/reason") */
        respond_json_lit(&b, ",\"auditAnnotations\":{\"reason\":");
        respond_json_str(&b, decide_reason_name(d->reason), strlen(decide_reason_name(d->reason)));
        respond_json_lit(&b, ",\"lease\":");
        respond_json_str(&b, t->fences[d->fence].lease, strlen(t->fences[d->fence].lease));
        respond_json_lit(&b, ",\"holder\":");
        respond_json_str(&b, holder, hlen);
        respond_json_lit(&b, "}");
    }
    respond_json_lit(&b, "}}");
    respond_send(req, 200, "OK", "application/json", b.p, b.len);
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
    int64_t now = lf_clock_mono_ns();
    for (size_t i = 0; i < n; i++) {
        int li = t->fences[w->fences[i]].lease_idx;
        w->snaps[i] = li >= 0 ? tracker_acquire(serve_srv.tracker, (size_t)li) : NULL;
        decide_check(r, t, w->fences[i], w->snaps[i], now, serve_srv.opts->max_skew_ms * 1000000LL,
                     &w->checks[i]);
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
                          (uint64_t)(lf_clock_mono_ns() - start));
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
    int64_t now = lf_clock_mono_ns();
    unsigned overturned = 0;
    bool failed = false, late = timed_out;
    (void)n;
    for (size_t k = 0; k < sr->npending; k++) {
        size_t i = sr->pending[k];
        const struct strict_read *rd = &reads[sr->read_of[k]];
        if (rd->snap != NULL) {
            w->snaps[i] = rd->snap;
            decide_check(&sr->r, t, w->fences[i], rd->snap, now, serve_srv.opts->max_skew_ms * 1000000LL,
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
        tracker_release(serve_srv.tracker, sr->watched[i]);
    pthread_mutex_lock(&serve_srv.lock);
    serve_config_unref_locked(sr->config);
    pthread_mutex_unlock(&serve_srv.lock);
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
    pthread_mutex_lock(&serve_srv.lock);
    sr->config = lt->config;
    sr->config->refs++;
    pthread_mutex_unlock(&serve_srv.lock);
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
    int64_t start = lf_clock_mono_ns();
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
    const struct fence_table *t = serve_thread_config(lt);
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
        tracker_release(serve_srv.tracker, w.snaps[i]);
}

/* ---- probes and metrics ---- */

static void handle_healthz(h2o_req_t *req)
{
    int64_t now = lf_clock_mono_ns();
    for (int i = 0; i < serve_srv.nthreads; i++) {
        int64_t hb = atomic_load_explicit(&serve_srv.threads[i].heartbeat_ns, memory_order_relaxed);
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
    if (serve_stopping()) {
        respond_text(req, 503, "Service Unavailable", "shutting down");
        return;
    }
    if (!fencesrc_synced(serve_srv.fences)) { /* until then, a fenced writer would be answered unfenced */
        char msg[600];
        fencesrc_why_not_synced(serve_srv.fences, msg, sizeof(msg));
        respond_text(req, 503, "Service Unavailable", msg);
        return;
    }
    if (!tracker_all_synced(serve_srv.tracker)) {
        char msg[1024];
        size_t n = tracker_count(serve_srv.tracker), len;
        len = (size_t)snprintf(msg, sizeof(msg), "leases not synced yet:");
        for (size_t i = 0; i < n && len < sizeof(msg) - 1; i++) {
            const struct lease_snapshot *s = tracker_acquire(serve_srv.tracker, i);
            if (s->tracked && !s->known)
                len += (size_t)snprintf(msg + len, sizeof(msg) - len, " %s/%s", s->ns, s->name);
            tracker_release(serve_srv.tracker, s);
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
    metrics_render(serve_srv.tracker, serve_srv.kube, lf_clock_mono_ns(), metrics_pool_alloc, &req->pool,
                   &text, &len);
    respond_send(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
}

int handlers_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct loop_thread *lt = H2O_STRUCT_FROM_MEMBER(struct loop_thread, ctx, req->conn->ctx);
    h2o_iovec_t path = req->path_normalized;
    bool tls = req->scheme == &H2O_URL_SCHEME_HTTPS;
    (void)self;
    lt->last_request_ns = lf_clock_mono_ns();
    if (serve_stopping())
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

void handlers_on_access(h2o_logger_t *self, h2o_req_t *req)
{
    (void)self;
    /* h2o refuses a body over max_request_entity_size itself: no handler sees the request */
    if (req->res.status == 413) {
        struct loop_thread *lt = H2O_STRUCT_FROM_MEMBER(struct loop_thread, ctx, req->conn->ctx);
        metrics_count_bad_request(lt->metrics, 413);
        log_event(LOGL_WARN, "bad request", "code", "413", "error", "request too large", NULL);
    }
}
