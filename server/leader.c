/* The elected replica's work: the webhook configuration and the LeaseFences' status. */
#include "leader.h"
#include "xmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "candidate.h"
#include "lf_clock.h"
#include "lf_file.h"
#include "fencesrc.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "vwc.h"

#define TICK_NS (1000000000LL) /* the work runs at least this often */

struct leader {
    struct leader_options o;
    char *ns, *lease, *identity, *vwc_name;
    struct candidate *cand;
    struct vwc *vwc;
    struct status *status;
    pthread_t cand_tid, work_tid;
    bool started;

    pthread_mutex_t lock; /* view, dirty, stop */
    pthread_cond_t cond;
    struct fencesrc_view *view;
    bool dirty, stop;
};

static int64_t mono_ns(void)
{
    return lf_clock_mono_ns();
}

static void wake(void *ctx)
{
    struct leader *l = ctx;
    pthread_mutex_lock(&l->lock);
    l->dirty = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

static void started_leading(void *ctx, const char *epoch)
{
    struct leader *l = ctx;
    log_event(LOGL_INFO, "elected: keeping the webhook configuration and the LeaseFence status", "identity",
              l->identity, "epoch", epoch, NULL);
    wake(l);
}

static void stopped_leading(void *ctx)
{
    struct leader *l = ctx;
    log_event(LOGL_INFO, "no longer elected", "identity", l->identity, NULL);
    wake(l);
}

static void new_leader(void *ctx, const char *holder, size_t holder_len)
{
    (void)ctx;
    (void)holder;
    (void)holder_len;
}

static bool leading(struct leader *l)
{
    struct candidate_status st;
    candidate_status(l->cand, &st);
    bool yes = st.leading;
    candidate_status_release(&st);
    return yes;
}

static void count_objects(const struct fencesrc_view *v)
{
    uint64_t counts[4] = {0, 0, 0, 0};
    for (size_t i = 0; v != NULL && i < v->nobjects; i++)
        counts[v->objects[i].state]++;
    metrics_set_leasefences(counts);
}

static void *work(void *arg)
{
    struct leader *l = arg;
    int64_t due = 0;
    pthread_mutex_lock(&l->lock);
    while (!l->stop) {
        int64_t now = mono_ns(), until = now + TICK_NS;
        if (due > now && due < until)
            until = due;
        if (!l->dirty && until > now) {
            int64_t t = lf_clock_real_ns() + (until - now); /* the condition variable's clock */
            struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
            pthread_cond_timedwait(&l->cond, &l->lock, &ts);
            if (l->stop)
                break;
        }
        l->dirty = false;
        struct fencesrc_view *v = l->view ? fencesrc_view_ref(l->view) : NULL;
        pthread_mutex_unlock(&l->lock);

        bool lead = leading(l);
        metrics_set_leader(lead);
        count_objects(v);
        due = 0;
        if (l->vwc != NULL)
            due = vwc_sync(l->vwc, v, lead, mono_ns());
        if (lead && v != NULL) {
            struct vwc_state vs = {0};
            if (l->vwc != NULL)
                vwc_state(l->vwc, &vs);
            int64_t d = status_sync(l->status, v, l->vwc != NULL ? &vs : NULL, mono_ns());
            if (d != 0 && (due == 0 || d < due))
                due = d;
            vwc_state_release(&vs);
        }
        fencesrc_view_release(v);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

static void *campaign(void *arg)
{
    struct leader *l = arg;
    candidate_run(l->cand);
    return NULL;
}

struct leader *leader_new(const struct leader_options *o, char *err, size_t errlen)
{
    struct leader *l = xcalloc(1, sizeof(*l));
    l->o = *o;
    l->ns = xstrdup(o->ns);
    l->lease = xstrdup(o->lease);
    l->identity = xstrdup(o->identity);
    l->vwc_name =
        o->webhook_configuration && o->webhook_configuration[0] ? xstrdup(o->webhook_configuration) : NULL;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);

    struct candidate_config cfg;
    candidate_config_init(&cfg);
    cfg.ns = l->ns;
    cfg.name = l->lease;
    cfg.identity = l->identity;
    if (o->lease_duration_ns > 0)
        cfg.lease_duration_ns = o->lease_duration_ns;
    if (o->renew_deadline_ns > 0)
        cfg.renew_deadline_ns = o->renew_deadline_ns;
    if (o->retry_period_ns > 0)
        cfg.retry_period_ns = o->retry_period_ns;
    cfg.cb.started_leading = started_leading;
    cfg.cb.stopped_leading = stopped_leading;
    cfg.cb.new_leader = new_leader;
    cfg.cb.ctx = l;
    l->cand = candidate_new(o->kube, &cfg, err, errlen);
    if (l->cand == NULL) {
        leader_free(l);
        return NULL;
    }
    if (l->vwc_name != NULL)
        l->vwc = vwc_new(o->kube, l->vwc_name, wake, l);
    l->status = status_new(o->kube, o->tracker, o->max_skew_ns);
    return l;
}

int leader_start(struct leader *l, char *err, size_t errlen)
{
    int e;
    if (l->vwc != NULL && vwc_start(l->vwc, err, errlen) < 0)
        return -1;
    if ((e = pthread_create(&l->work_tid, NULL, work, l)) != 0) {
        snprintf(err, errlen, "cannot start the leader's work thread: %s", strerror(e));
        return -1;
    }
    if ((e = pthread_create(&l->cand_tid, NULL, campaign, l)) != 0) {
        snprintf(err, errlen, "cannot start the election thread: %s", strerror(e));
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_cond_signal(&l->cond);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->work_tid, NULL);
        return -1;
    }
    l->started = true;
    return 0;
}

void leader_update(struct leader *l, struct fencesrc_view *v)
{
    fencesrc_view_ref(v);
    pthread_mutex_lock(&l->lock);
    struct fencesrc_view *old = l->view;
    l->view = v;
    l->dirty = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    fencesrc_view_release(old);
}

void leader_stop(struct leader *l)
{
    if (!l->started) {
        vwc_stop(l->vwc); /* leader_start may have started it, then failed */
        return;
    }
    /* the work first: nothing is written once the Lease may be someone else's */
    pthread_mutex_lock(&l->lock);
    l->stop = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->work_tid, NULL);
    metrics_set_leader(false);
    candidate_cancel(l->cand);
    pthread_join(l->cand_tid, NULL);
    /* and the webhook configuration's watch: its thread would otherwise still be connecting (TLS) when the
     * process exits, and crash in OpenSSL's exit-time cleanup (seen under valgrind) */
    vwc_stop(l->vwc);
    l->started = false;
}

void leader_free(struct leader *l)
{
    if (l == NULL)
        return;
    leader_stop(l);
    vwc_free(l->vwc);
    status_free(l->status);
    if (l->cand != NULL)
        candidate_free(l->cand);
    fencesrc_view_release(l->view);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l->ns);
    free(l->lease);
    free(l->identity);
    free(l->vwc_name);
    free(l);
}

void leader_namespace(const char *flag, char *buf, size_t len)
{
    const char *env = getenv("POD_NAMESPACE");
    if (flag != NULL && flag[0] != '\0') {
        snprintf(buf, len, "%s", flag);
        return;
    }
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, len, "%s", env);
        return;
    }
    const char *dir = getenv("LEASEFENCE_TEST_SERVICEACCOUNT_DIR"); /* for tests, as kubeconfig.c */
    char path[4096];
    snprintf(path, sizeof(path), "%s/namespace", dir ? dir : "/var/run/secrets/kubernetes.io/serviceaccount");
    char err[256];
    size_t n = 0;
    char *line = lf_file_read("namespace file", path, 255, &n, err, sizeof(err));
    if (line != NULL)
        line[strcspn(line, " \t\r\n")] = '\0';
    snprintf(buf, len, "%s", line != NULL && line[0] != '\0' ? line : "leasefence-system");
    free(line);
}

void leader_identity(char *buf, size_t len)
{
    const char *pod = getenv("POD_NAME");
    if (pod != NULL && pod[0] != '\0') {
        snprintf(buf, len, "%s", pod);
        return;
    }
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "leasefence");
    host[sizeof(host) - 1] = '\0';
    snprintf(buf, len, "%s", host);
}
