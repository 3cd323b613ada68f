/*
 * A Lease election candidate following client-go's leaderelection.go:
 * tryAcquireOrRenew, the jittered acquire loop, the renew loop bounded by the
 * renew deadline, and release on cancel.
 */
#include "candidate.h"
#include "xmem.h"

#include "kube.h"
#include "lease.h"
#include "lf_clock.h"
#include "lf_duration.h"
#include "lf_name.h"
#include "log.h"
#include "testing.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000LL

struct candidate {
    struct candidate_config cfg;
    char *ns, *name, *identity;
    size_t identity_len;
    char lease_desc[600]; /* "ns/name" */
    struct candidate_ops ops;

    pthread_mutex_t lock; /* guards what candidate_status reads and the cancel flag */
    pthread_cond_t cond;
    bool cancelled;
    bool leading;
    char term_epoch[320];         /* the epoch started leading announced; "" outside a term */
    struct lease_record observed; /* the record last seen or written */
    bool have_observed;
    int64_t observed_mono; /* when it was last seen to change */
    json_t *lease;         /* the object last read or written (to update) */
    char *reported_leader; /* for the new-leader callback (reported_len bytes) */
    size_t reported_len;
    int64_t try_deadline; /* ops clock; 0: each request may take the whole renew deadline */
    unsigned rand_state;
};

/* ---- default ops ---- */

static int k_get(void *ctx, const char *ns, const char *name, long timeout_ms, json_t **out, char *err,
                 size_t errlen)
{
    return kube_lease_get(ctx, ns, name, timeout_ms, out, err, errlen);
}

static int k_create(void *ctx, const char *ns, json_t *obj, long timeout_ms, json_t **out, char *err,
                    size_t errlen)
{
    return kube_lease_create(ctx, ns, obj, timeout_ms, out, err, errlen);
}

static int k_update(void *ctx, const char *ns, const char *name, json_t *obj, long timeout_ms, json_t **out,
                    char *err, size_t errlen)
{
    return kube_lease_update(ctx, ns, name, obj, timeout_ms, out, err, errlen);
}

static int64_t real_mono(void *ctx)
{
    (void)ctx;
    return lf_clock_mono_ns();
}

static int64_t real_wall(void *ctx)
{
    (void)ctx;
    return lf_clock_real_us();
}

/* ---- config ---- */

void candidate_config_init(struct candidate_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->lease_duration_ns = 15 * NS_PER_S;
    cfg->renew_deadline_ns = 10 * NS_PER_S;
    cfg->retry_period_ns = 2 * NS_PER_S;
    cfg->release_on_cancel = true;
}

int candidate_config_validate(const struct candidate_config *cfg, char *err, size_t errlen)
{
    if (cfg->ns == NULL || cfg->ns[0] == '\0' || cfg->name == NULL || cfg->name[0] == '\0') {
        snprintf(err, errlen, "lease namespace and name are required");
        return -1;
    }
    /* Checked here, not only by the command: the names go into the request's URL path unescaped. */
    if (lf_name_check_lease(cfg->ns, strlen(cfg->ns), cfg->name, strlen(cfg->name), err, errlen) != 0)
        return -1;
    if (cfg->identity == NULL || cfg->identity[0] == '\0') {
        snprintf(err, errlen, "identity is required");
        return -1;
    }
    /* holderIdentity is a JSON string: an identity that is not UTF-8 could never be written (nor read back
     * as ours: the API server would replace the bad bytes). */
    json_t *probe = json_string(cfg->identity);
    if (probe == NULL) {
        snprintf(err, errlen, "identity is not valid UTF-8");
        return -1;
    }
    json_decref(probe);
    if (cfg->retry_period_ns <= 0) {
        snprintf(err, errlen, "retry period must be greater than zero");
        return -1;
    }
    if (cfg->lease_duration_ns < NS_PER_S) {
        snprintf(err, errlen, "lease duration must be at least 1s (it is written in whole seconds)");
        return -1;
    }
    if (cfg->lease_duration_ns <= cfg->renew_deadline_ns) {
        snprintf(err, errlen, "lease duration must be greater than renew deadline");
        return -1;
    }
    if ((double)cfg->renew_deadline_ns <= CANDIDATE_JITTER * (double)cfg->retry_period_ns) {
        snprintf(err, errlen, "renew deadline must be greater than retry period x %.1f", CANDIDATE_JITTER);
        return -1;
    }
    return 0;
}

int candidate_parse_duration(const char *s, int64_t *out)
{
    char err[128];
    return lf_duration_parse(s, out, err, sizeof(err));
}

/* ---- candidate ---- */

struct candidate *candidate_new(struct kube_client *client, const struct candidate_config *cfg, char *err,
                                size_t errlen)
{
    struct candidate_ops ops = {k_get, k_create, k_update, real_mono, real_wall, client};
    return candidate_new_ops(cfg, &ops, err, errlen);
}

struct candidate *candidate_new_ops(const struct candidate_config *cfg, const struct candidate_ops *ops,
                                    char *err, size_t errlen)
{
    if (candidate_config_validate(cfg, err, errlen) != 0)
        return NULL;
    struct candidate *c = xcalloc(1, sizeof(*c));
    c->cfg = *cfg;
    c->ns = xstrdup(cfg->ns);
    c->name = xstrdup(cfg->name);
    c->identity = xstrdup(cfg->identity);
    c->identity_len = strlen(c->identity);
    c->cfg.ns = c->ns;
    c->cfg.name = c->name;
    c->cfg.identity = c->identity;
    snprintf(c->lease_desc, sizeof(c->lease_desc), "%s/%s", c->ns, c->name);
    c->ops = *ops;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    c->rand_state = (unsigned)real_mono(NULL) ^ (unsigned)(uintptr_t)c;
    return c;
}

void candidate_free(struct candidate *c)
{
    if (c == NULL)
        return;
    lease_record_release(&c->observed);
    json_decref(c->lease);
    free(c->reported_leader);
    free(c->ns);
    free(c->name);
    free(c->identity);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void candidate_cancel(struct candidate *c)
{
    pthread_mutex_lock(&c->lock);
    c->cancelled = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static bool is_cancelled(struct candidate *c)
{
    pthread_mutex_lock(&c->lock);
    bool r = c->cancelled;
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* Sleeps NS on the real monotonic clock or until cancelled; true when cancelled. */
static bool sleep_ns(struct candidate *c, int64_t ns)
{
    int64_t end = lf_clock_mono_ns() + ns;
    struct timespec until = {.tv_sec = end / NS_PER_S, .tv_nsec = end % NS_PER_S};
    pthread_mutex_lock(&c->lock);
    while (!c->cancelled) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT)
            break;
    }
    bool r = c->cancelled;
    pthread_mutex_unlock(&c->lock);
    return r;
}

static double rand01(struct candidate *c)
{
    c->rand_state = c->rand_state * 1103515245u + 12345u;
    return (double)((c->rand_state >> 8) & 0xffffff) / (double)0x1000000;
}

/* Records REC (stolen) as observed at NOW when it differs from what we had (client-go's setObservedRecord).
 */
static void observe(struct candidate *c, struct lease_record *rec, int64_t now, bool force)
{
    pthread_mutex_lock(&c->lock);
    if (force || !c->have_observed || !lease_record_same(rec, &c->observed) ||
        strcmp(rec->uid, c->observed.uid) != 0) {
        c->observed_mono = now;
    }
    lease_record_release(&c->observed);
    c->observed = *rec;
    c->have_observed = true;
    memset(rec, 0, sizeof(*rec));
    pthread_mutex_unlock(&c->lock);
}

/* Byte for byte: a holder "pod-a\0x" is not "pod-a". */
static bool observed_is_us(struct candidate *c)
{
    return c->have_observed && lease_holder_is(&c->observed, c->identity, c->identity_len);
}

static bool lease_valid(struct candidate *c, int64_t now)
{
    return c->have_observed && c->observed_mono + (int64_t)c->observed.duration_s * NS_PER_S > now;
}

static void keep_lease(struct candidate *c, json_t *obj)
{
    json_decref(c->lease);
    c->lease = obj;
}

/*
 * Takes the server's answer OBJ (stolen) after our write: the object we will update next and the observed
 * record.  Like client-go's setObservedRecord, the observation time is read after the request returned.
 */
static bool accept_written(struct candidate *c, json_t *obj)
{
    struct lease_record rec;
    char err[256];
    if (lease_parse(obj, &rec, err, sizeof(err)) != 0) {
        log_event(LOGL_ERROR, "the server answered our write with a malformed lease", "lease", c->lease_desc,
                  "error", err, NULL);
        json_decref(obj);
        return false;
    }
    keep_lease(c, obj);
    observe(c, &rec, c->ops.mono_ns(c->ops.ctx), true);
    return true;
}

/* Like client-go's renew context: every request of one renewal attempt ends by the renew deadline. */
static long request_timeout_ms(struct candidate *c)
{
    int64_t left = c->cfg.renew_deadline_ns;
    if (c->try_deadline != 0) {
        left = c->try_deadline - c->ops.mono_ns(c->ops.ctx);
        if (left > c->cfg.renew_deadline_ns)
            left = c->cfg.renew_deadline_ns;
    }
    return left < 1000000 ? 1 : (long)(left / 1000000);
}

bool candidate_try(struct candidate *c)
{
    char err[1024] = "";
    int64_t now = c->ops.mono_ns(c->ops.ctx);
    int64_t wall = c->ops.wall_us(c->ops.ctx);
    int32_t dur = (int32_t)(c->cfg.lease_duration_ns / NS_PER_S);
    json_t *out = NULL;

    /* 1. Fast path: the leader updates the object it has, assuming it is current. */
    if (observed_is_us(c) && lease_valid(c, now) && c->lease != NULL) {
        json_t *obj = json_deep_copy(c->lease);
        lease_set_spec(obj, c->identity, c->identity_len, dur, c->observed.acquire_us, wall,
                       c->observed.transitions);
        int code =
            c->ops.update(c->ops.ctx, c->ns, c->name, obj, request_timeout_ms(c), &out, err, sizeof(err));
        json_decref(obj);
        if (code >= 200 && code < 300) {
            if (accept_written(c, out))
                return true;
            snprintf(err, sizeof(err), "the answer to our update is not a valid lease");
        }
        log_event(LOGL_WARN, "cannot renew optimistically, falling back to the slow path", "lease",
                  c->lease_desc, "error", err, NULL);
    }

    /* 2. Get, or create on 404. */
    json_t *cur = NULL;
    int code = c->ops.get(c->ops.ctx, c->ns, c->name, request_timeout_ms(c), &cur, err, sizeof(err));
    if (code == 404) {
        json_t *obj = lease_new_object(c->ns, c->name);
        lease_set_spec(obj, c->identity, c->identity_len, dur, wall, wall, 0);
        code = c->ops.create(c->ops.ctx, c->ns, obj, request_timeout_ms(c), &out, err, sizeof(err));
        json_decref(obj);
        if (code < 200 || code > 299) {
            log_event(code == 409 ? LOGL_INFO : LOGL_WARN,
                      code == 409 ? "lost the race to create the lease" : "cannot create lease", "lease",
                      c->lease_desc, "error", err, NULL);
            return false;
        }
        return accept_written(c, out);
    }
    if (code < 200 || code > 299) {
        log_event(LOGL_WARN, "cannot get lease", "lease", c->lease_desc, "error", err, NULL);
        return false;
    }

    /*
     * 3. Record obtained: note when it changed, check holder and expiry.  A change is stamped with the
     * time the answer arrived, not the start of this step: a slow request must not make another
     * holder's lease look older than it is.  Expiry is judged at the step's start, as client-go does.
     */
    struct lease_record rec;
    if (lease_parse(cur, &rec, err, sizeof(err)) != 0) {
        log_event(LOGL_ERROR, "malformed lease, not touching it", "lease", c->lease_desc, "error", err, NULL);
        json_decref(cur);
        return false;
    }
    int32_t old_transitions = rec.transitions;
    int64_t old_acquire = rec.acquire_us;
    bool held = rec.holder_len != 0; /* a holder "\0x" is a holder */
    observe(c, &rec, c->ops.mono_ns(c->ops.ctx), false);
    keep_lease(c, cur);
    if (held && lease_valid(c, now) && !observed_is_us(c))
        return false;

    /* 4. Take over or renew. */
    json_t *obj = json_deep_copy(c->lease);
    if (observed_is_us(c))
        lease_set_spec(obj, c->identity, c->identity_len, dur, old_acquire, wall, old_transitions);
    else
        lease_set_spec(obj, c->identity, c->identity_len, dur, wall, wall, old_transitions + 1);
    code = c->ops.update(c->ops.ctx, c->ns, c->name, obj, request_timeout_ms(c), &out, err, sizeof(err));
    json_decref(obj);
    if (code < 200 || code > 299) {
        log_event(code == 409 ? LOGL_INFO : LOGL_WARN,
                  code == 409 ? "lost the race to update the lease" : "cannot update lease", "lease",
                  c->lease_desc, "error", err, NULL);
        return false;
    }
    return accept_written(c, out);
}

bool candidate_release(struct candidate *c)
{
    char err[1024];
    long tmo = request_timeout_ms(c);
    json_t *cur = NULL, *out = NULL;
    int code = c->ops.get(c->ops.ctx, c->ns, c->name, tmo, &cur, err, sizeof(err));
    if (code < 200 || code > 299) {
        log_event(LOGL_WARN, "cannot release lease", "lease", c->lease_desc, "error", err, NULL);
        return false;
    }
    struct lease_record rec;
    if (lease_parse(cur, &rec, err, sizeof(err)) != 0) {
        log_event(LOGL_ERROR, "malformed lease, not releasing it", "lease", c->lease_desc, "error", err,
                  NULL);
        json_decref(cur);
        return false;
    }
    observe(c, &rec, c->ops.mono_ns(c->ops.ctx), false);
    keep_lease(c, cur);
    if (!observed_is_us(c))
        return true;
    int64_t wall = c->ops.wall_us(c->ops.ctx);
    json_t *obj = json_deep_copy(c->lease);
    lease_set_spec(obj, "", 0, 1, wall, wall, c->observed.transitions);
    code = c->ops.update(c->ops.ctx, c->ns, c->name, obj, tmo, &out, err, sizeof(err));
    json_decref(obj);
    if (code < 200 || code > 299) {
        log_event(LOGL_WARN, "cannot release lease", "lease", c->lease_desc, "error", err, NULL);
        return false;
    }
    accept_written(c, out);
    log_event(LOGL_INFO, "released lease", "lease", c->lease_desc, "identity", c->identity, NULL);
    return true;
}

/* A NUL-terminated copy of the N bytes at P (which may hold NUL bytes themselves); you own it. */
static char *dup_bytes(const char *p, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static void maybe_report_transition(struct candidate *c)
{
    /* Only this thread writes observed and reported_leader: no lock needed to read them here. */
    /* client-go's reportedLeader starts as "": a Lease first seen released reports no new leader. */
    if (!c->have_observed ||
        lease_holder_is(&c->observed, c->reported_leader ? c->reported_leader : "", c->reported_len))
        return;
    free(c->reported_leader);
    c->reported_leader = dup_bytes(c->observed.holder, c->observed.holder_len);
    c->reported_len = c->observed.holder_len;
    if (c->cfg.cb.new_leader != NULL)
        c->cfg.cb.new_leader(c->cfg.cb.ctx, c->reported_leader, c->reported_len);
}

static void set_leading(struct candidate *c, bool v)
{
    pthread_mutex_lock(&c->lock);
    c->leading = v;
    if (!v)
        c->term_epoch[0] = '\0';
    pthread_mutex_unlock(&c->lock);
}

/* Acquire loop: client-go's wait.JitterUntil(tryAcquireOrRenew, retry, 1.2, sliding). */
static bool acquire(struct candidate *c)
{
    for (;;) {
        if (is_cancelled(c))
            return false;
        c->try_deadline = 0;
        bool ok = candidate_try(c);
        maybe_report_transition(c);
        if (ok)
            return true;
        int64_t wait =
            c->cfg.retry_period_ns + (int64_t)(rand01(c) * CANDIDATE_JITTER * (double)c->cfg.retry_period_ns);
        if (sleep_ns(c, wait))
            return false;
    }
}

/*
 * Renew loop: every retry period, retry until success or the renew deadline passes.  Also ends the term
 * when a successful write carries another epoch than EPOCH: the Lease was released or re-created under us
 * and we took it again, so what the started-leading callback was told no longer holds.
 */
static void renew(struct candidate *c, const char *epoch)
{
    for (;;) {
        int64_t start = c->ops.mono_ns(c->ops.ctx);
        bool ok = false;
        for (;;) {
            if (is_cancelled(c))
                return;
            c->try_deadline = start + c->cfg.renew_deadline_ns;
            ok = candidate_try(c);
            c->try_deadline = 0;
            maybe_report_transition(c);
            if (ok)
                break;
            if (c->have_observed && !observed_is_us(c)) {
                /* Another holder (or none) is in the Lease: any write that gives it back to us is a takeover
                 * with a new epoch, so this term is over now, not at the renew deadline.  The command stops
                 * at once and the status agrees with what was observed. */
                log_event(LOGL_INFO, "the lease has another holder, stopping leading", "lease", c->lease_desc,
                          "identity", c->identity, NULL);
                return;
            }
            int64_t left = start + c->cfg.renew_deadline_ns - c->ops.mono_ns(c->ops.ctx);
            if (left <= 0)
                break;
            if (sleep_ns(c, left < c->cfg.retry_period_ns ? left : c->cfg.retry_period_ns))
                return;
            if (start + c->cfg.renew_deadline_ns <= c->ops.mono_ns(c->ops.ctx))
                break;
        }
        if (!ok) {
            log_event(LOGL_INFO, "failed to renew lease before the renew deadline", "lease", c->lease_desc,
                      "identity", c->identity, NULL);
            return;
        }
        char now_epoch[320];
        pthread_mutex_lock(&c->lock);
        lease_epoch(&c->observed, now_epoch, sizeof(now_epoch));
        pthread_mutex_unlock(&c->lock);
        if (strcmp(now_epoch, epoch) != 0) {
            log_event(LOGL_INFO, "the lease changed epoch while we renewed it, starting a new term", "lease",
                      c->lease_desc, "identity", c->identity, "epoch", now_epoch, NULL);
            return;
        }
        if (sleep_ns(c, c->cfg.retry_period_ns))
            return;
    }
}

int candidate_run(struct candidate *c)
{
    while (acquire(c)) {
        if (is_cancelled(c)) {
            /* Cancelled while the winning write was under way: give the Lease back without starting. */
            if (c->cfg.release_on_cancel)
                candidate_release(c);
            break;
        }
        char epoch[320];
        pthread_mutex_lock(&c->lock);
        lease_epoch(&c->observed, epoch, sizeof(epoch));
        snprintf(c->term_epoch, sizeof(c->term_epoch), "%s", epoch);
        c->leading = true;
        pthread_mutex_unlock(&c->lock);
        if (c->cfg.cb.started_leading != NULL)
            c->cfg.cb.started_leading(c->cfg.cb.ctx, epoch);
        renew(c, epoch);
        set_leading(c, false);
        if (c->cfg.cb.stopped_leading != NULL)
            c->cfg.cb.stopped_leading(c->cfg.cb.ctx);
        if (is_cancelled(c)) {
            if (c->cfg.release_on_cancel)
                candidate_release(c);
            break;
        }
    }
    return 0;
}

void candidate_status(struct candidate *c, struct candidate_status *out)
{
    memset(out, 0, sizeof(*out));
    int64_t now = c->ops.mono_ns(c->ops.ctx);
    pthread_mutex_lock(&c->lock);
    out->leading = c->leading && observed_is_us(c) && lease_valid(c, now);
    if (out->leading)
        snprintf(out->epoch, sizeof(out->epoch), "%s", c->term_epoch);
    if (c->have_observed) {
        out->holder = dup_bytes(c->observed.holder, c->observed.holder_len);
        out->holder_len = c->observed.holder_len;
    } else {
        out->holder = dup_bytes("", 0);
    }
    pthread_mutex_unlock(&c->lock);
}

void candidate_status_release(struct candidate_status *st)
{
    free(st->holder);
    memset(st, 0, sizeof(*st));
}
