/* The webhook configuration's owned matchConditions, kept in step with the fences by the elected replica. */
#include "vwc.h"
#include "xmem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fencesrc.h"
#include "informer.h"
#include "lf_buf.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"

#define VWC_PATH           "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
#define MIN_INTERVAL_NS    (1000000000LL)  /* one patch a second at most */
#define BACKOFF_MAX_NS     (30000000000LL) /* after failures, up to 30 s between attempts */
#define FIGHT_WINDOW_NS    (60000000000LL) /* this many patches within a minute: someone reverts ours */
#define FIGHT_PATCHES      10
#define REQUEST_TIMEOUT_MS 10000

/* ---- expressions ---- */

/* The expressions are built from the fence table, itself bounded by the 4 MiB configuration. */
#define EXPR_MAX (64u << 20)

char *vwc_cel_string(const char *s, size_t len)
{
    struct lf_buf b;
    lf_buf_init(&b, EXPR_MAX);
    lf_buf_append(&b, "'", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == '\'') {
            char e[2] = {'\\', (char)c};
            lf_buf_append(&b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[8];
            snprintf(e, sizeof(e), "\\x%02x", c);
            lf_buf_append_str(&b, e);
        } else {
            lf_buf_append(&b, s + i, 1);
        }
    }
    lf_buf_append(&b, "'", 1);
    return b.data;
}

static void put_list(struct lf_buf *b, char *const *items, size_t n)
{
    lf_buf_append(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        char *q = vwc_cel_string(items[i], strlen(items[i]));
        if (i > 0)
            lf_buf_append(b, ", ", 2);
        lf_buf_append_str(b, q);
        free(q);
    }
    lf_buf_append(b, "]", 1);
}

char *vwc_fenced_writers(char *const *users, size_t nusers, char *const *groups, size_t ngroups)
{
    struct lf_buf b;
    lf_buf_init(&b, EXPR_MAX);
    lf_buf_append_str(&b, "(has(request.userInfo.username) && request.userInfo.username in ");
    put_list(&b, users, nusers);
    lf_buf_append_str(&b, ") || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ");
    put_list(&b, groups, ngroups);
    lf_buf_append_str(&b, "))");
    return b.data;
}

char *vwc_not_elections(char *const *leases, size_t nleases)
{
    struct lf_buf b;
    lf_buf_init(&b, EXPR_MAX);
    lf_buf_append_str(
        &b, "!(request.resource.group == 'coordination.k8s.io' && (request.resource.resource == "
            "'leasecandidates' || (request.resource.resource == 'leases' && (request.namespace + '/' + "
            "request.name) in ");
    put_list(&b, leases, nleases);
    lf_buf_append_str(&b, ")))");
    return b.data;
}

static void add_op(json_t *ops, const char *op, const char *path, json_t *value)
{
    json_array_append_new(ops, json_pack("{s:s,s:s,s:o}", "op", op, "path", path, "value", value));
}

json_t *vwc_patch_for(json_t *obj, const char *writers, const char *elections, char *problem, size_t len)
{
    json_t *ops = json_array(), *hooks = json_object_get(obj, "webhooks");
    size_t i, j;
    json_t *hook, *cond;
    int found_writers = 0, found_elections = 0;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

    problem[0] = '\0';
    json_array_foreach(hooks, i, hook)
    {
        const char *hname = json_string_value(json_object_get(hook, "name"));
        int has_w = 0, has_e = 0;
        json_array_foreach(json_object_get(hook, "matchConditions"), j, cond)
        {
            const char *cname = json_string_value(json_object_get(cond, "name"));
            const char *want = NULL;
            if (cname != NULL && strcmp(cname, VWC_FENCED_WRITERS) == 0) {
                want = writers;
                has_w = 1;
            } else if (cname != NULL && strcmp(cname, VWC_NOT_ELECTIONS) == 0) {
                want = elections;
                has_e = 1;
            }
            const char *have = json_string_value(json_object_get(cond, "expression"));
            if (want == NULL || (have != NULL && strcmp(have, want) == 0))
                continue;
            char p[128];
            /* the tests make the patch fail, not land elsewhere, if the list changed since we read it */
            snprintf(p, sizeof(p), "/webhooks/%zu/name", i);
            add_op(ops, "test", p, json_string(hname ? hname : ""));
            snprintf(p, sizeof(p), "/webhooks/%zu/matchConditions/%zu/name", i, j);
            add_op(ops, "test", p, json_string(cname));
            snprintf(p, sizeof(p), "/webhooks/%zu/matchConditions/%zu/expression", i, j);
            add_op(ops, have != NULL ? "replace" : "add", p, json_string(want));
        }
        if (has_w != has_e && problem[0] == '\0')
            snprintf(problem, len,
                     "webhook '%s' of validatingwebhookconfiguration '%s' has no matchCondition '%s'",
                     hname ? hname : "", name ? name : "", has_w ? VWC_NOT_ELECTIONS : VWC_FENCED_WRITERS);
        found_writers += has_w;
        found_elections += has_e;
    }
    if (found_writers == 0 && problem[0] == '\0')
        snprintf(problem, len,
                 "no webhook of validatingwebhookconfiguration '%s' has a matchCondition '%s' (an API server "
                 "older than 1.28 drops matchConditions: see the README, Install)",
                 name ? name : "", VWC_FENCED_WRITERS);
    (void)found_elections;
    if (json_array_size(ops) == 0) {
        json_decref(ops);
        return NULL;
    }
    return ops;
}

/* The expression of the first owned condition named NAME, or NULL. */
static const char *expression_of(json_t *obj, const char *name)
{
    size_t i, j;
    json_t *hook, *cond;
    json_array_foreach(json_object_get(obj, "webhooks"), i, hook)
    {
        json_array_foreach(json_object_get(hook, "matchConditions"), j, cond)
        {
            const char *n = json_string_value(json_object_get(cond, "name"));
            if (n != NULL && strcmp(n, name) == 0)
                return json_string_value(json_object_get(cond, "expression"));
        }
    }
    return NULL;
}

/* ---- keeping it ---- */

struct vwc {
    struct kube_client *kc;
    char *name;
    void (*wake)(void *ctx);
    void *ctx;
    struct informer *informer;

    pthread_mutex_t lock; /* obj, why, state */
    json_t *obj;          /* the configuration as last read; NULL: not read, or absent */
    char why[512];        /* why obj is NULL */
    struct vwc_state st;

    /* vwc_sync's own (one caller) */
    int64_t next_try_ns, backoff_ns;
    int64_t
        patches[FIGHT_PATCHES]; /* when the last patches that wrote the same expressions again were made */
    size_t npatches;
    char *last_writers, *last_elections; /* what the last patch wrote */
};

static void set_obj(struct vwc *v, json_t *obj, const char *why)
{
    pthread_mutex_lock(&v->lock);
    json_decref(v->obj);
    v->obj = obj != NULL ? json_incref(obj) : NULL;
    snprintf(v->why, sizeof(v->why), "%s", why ? why : "");
    pthread_mutex_unlock(&v->lock);
    if (v->wake != NULL)
        v->wake(v->ctx);
}

static void not_found(struct vwc *v)
{
    char why[400];
    snprintf(why, sizeof(why), "validatingwebhookconfiguration '%s' not found", v->name);
    set_obj(v, NULL, why);
}

static void on_replace(void *ctx, json_t *items)
{
    struct vwc *v = ctx;
    json_t *obj = json_array_get(items, 0);
    if (obj != NULL)
        set_obj(v, obj, NULL);
    else
        not_found(v);
}

static void on_event(void *ctx, const char *type, json_t *obj)
{
    struct vwc *v = ctx;
    if (strcmp(type, "DELETED") == 0)
        not_found(v);
    else
        set_obj(v, obj, NULL);
}

static void on_failed(void *ctx, int code, const char *err)
{
    struct vwc *v = ctx;
    (void)code;
    pthread_mutex_lock(&v->lock);
    if (v->obj == NULL)
        snprintf(v->why, sizeof(v->why), "cannot read validatingwebhookconfiguration '%s': %s", v->name, err);
    pthread_mutex_unlock(&v->lock);
}

struct vwc *vwc_new(struct kube_client *kc, const char *name, void (*wake)(void *ctx), void *ctx)
{
    struct vwc *v = xcalloc(1, sizeof(*v));
    v->kc = kc;
    v->name = xstrdup(name);
    v->wake = wake;
    v->ctx = ctx;
    v->backoff_ns = MIN_INTERVAL_NS;
    pthread_mutex_init(&v->lock, NULL);
    snprintf(v->why, sizeof(v->why), "validatingwebhookconfiguration '%s' not read yet", name);
    return v;
}

int vwc_start(struct vwc *v, char *err, size_t errlen)
{
    char query[400], what[400];
    snprintf(query, sizeof(query), "fieldSelector=metadata.name%%3D%s", v->name);
    snprintf(what, sizeof(what), "validatingwebhookconfiguration %s", v->name);
    struct informer_handlers h = {on_replace, on_event, on_failed, v};
    v->informer = informer_new(v->kc, VWC_PATH, query, what, &h);
    return informer_start(v->informer, err, errlen);
}

/* Publishes the outcome of a sync. */
static void set_state(struct vwc *v, bool known, bool in_step, const char *error, json_t *obj)
{
    const char *w = obj ? expression_of(obj, VWC_FENCED_WRITERS) : NULL;
    const char *e = obj ? expression_of(obj, VWC_NOT_ELECTIONS) : NULL;
    pthread_mutex_lock(&v->lock);
    bool changed = v->st.in_step != in_step || strcmp(v->st.error, error) != 0;
    v->st.known = known;
    v->st.in_step = in_step;
    snprintf(v->st.error, sizeof(v->st.error), "%s", error);
    free(v->st.writers_expr);
    free(v->st.elections_expr);
    v->st.writers_expr = w ? xstrdup(w) : NULL;
    v->st.elections_expr = e ? xstrdup(e) : NULL;
    pthread_mutex_unlock(&v->lock);
    metrics_set_webhook_configuration(known && in_step);
    if (changed && error[0] != '\0')
        log_event(LOGL_ERROR, "webhook configuration not in step with the fences", "webhookConfiguration",
                  v->name, "error", error, NULL);
    else if (changed && in_step)
        log_event(LOGL_INFO, "webhook configuration in step with the fences", "webhookConfiguration", v->name,
                  NULL);
}

/* True when FIGHT_PATCHES patches were made within FIGHT_WINDOW_NS before NOW. */
static bool fighting(const struct vwc *v, int64_t now)
{
    if (v->npatches < FIGHT_PATCHES)
        return false;
    return now - v->patches[v->npatches % FIGHT_PATCHES] < FIGHT_WINDOW_NS;
}

int64_t vwc_sync(struct vwc *v, const struct fencesrc_view *view, bool leading, int64_t now)
{
    char problem[512], err[1024], msg[1400];
    int64_t again = 0;
    pthread_mutex_lock(&v->lock);
    json_t *obj = v->obj ? json_incref(v->obj) : NULL;
    snprintf(msg, sizeof(msg), "%s", v->why);
    pthread_mutex_unlock(&v->lock);
    if (obj == NULL || view == NULL) {
        set_state(v, false, false, view == NULL ? "" : msg, NULL);
        return 0;
    }
    char *writers = vwc_fenced_writers(view->users, view->nusers, view->groups, view->ngroups);
    char *elections = vwc_not_elections(view->leases, view->nleases);
    json_t *ops = vwc_patch_for(obj, writers, elections, problem, sizeof(problem));
    if (ops == NULL) {
        v->backoff_ns = MIN_INTERVAL_NS;
        set_state(v, true, problem[0] == '\0', problem, obj);
        goto out;
    }
    if (!leading) { /* the elected replica will patch it; say how it stands meanwhile */
        set_state(v, true, false, problem, obj);
        goto out;
    }
    if (now < v->next_try_ns) { /* not in step, for the reason found last (or none yet) */
        pthread_mutex_lock(&v->lock);
        snprintf(msg, sizeof(msg), "%s", v->st.error[0] ? v->st.error : problem);
        pthread_mutex_unlock(&v->lock);
        set_state(v, true, false, msg, obj);
        again = v->next_try_ns;
        goto out;
    }
    if (fighting(v, now)) {
        snprintf(msg, sizeof(msg),
                 "validatingwebhookconfiguration '%s' is changed back after each of our patches (%d within a "
                 "minute): another writer (a GitOps tool, kubectl apply) owns the matchConditions "
                 "'" VWC_FENCED_WRITERS "' and '" VWC_NOT_ELECTIONS
                 "'; patching once a minute until it stops",
                 v->name, FIGHT_PATCHES);
        set_state(v, true, false, msg, obj);
        v->next_try_ns = now + FIGHT_WINDOW_NS;
        v->npatches = 0;
        again = v->next_try_ns;
        goto out;
    }
    /* A patch that writes again what the last one wrote repairs someone else's change: count those. */
    if (v->last_writers == NULL || strcmp(v->last_writers, writers) != 0 ||
        strcmp(v->last_elections, elections) != 0)
        v->npatches = 0;
    free(v->last_writers);
    free(v->last_elections);
    v->last_writers = xstrdup(writers);
    v->last_elections = xstrdup(elections);
    char path[400];
    json_t *resp = NULL;
    snprintf(path, sizeof(path), "%s/%s", VWC_PATH, v->name);
    int code = kube_patch(v->kc, path, "application/json-patch+json", ops, REQUEST_TIMEOUT_MS, &resp, err,
                          sizeof(err));
    v->patches[v->npatches++ % FIGHT_PATCHES] = now;
    if (code >= 200 && code <= 299 && json_is_object(resp)) {
        metrics_count_webhook_configuration_patch(true);
        log_event(LOGL_INFO, "webhook configuration patched", "webhookConfiguration", v->name, NULL);
        /* the watch brings the same object soon; until then, this is what is stored */
        pthread_mutex_lock(&v->lock);
        json_decref(v->obj);
        v->obj = json_incref(resp);
        pthread_mutex_unlock(&v->lock);
        v->backoff_ns = MIN_INTERVAL_NS;
        v->next_try_ns = now + MIN_INTERVAL_NS;
        set_state(v, true, problem[0] == '\0', problem, resp);
    } else {
        metrics_count_webhook_configuration_patch(false);
        snprintf(msg, sizeof(msg), "cannot patch validatingwebhookconfiguration '%s': %s", v->name, err);
        v->next_try_ns = now + v->backoff_ns;
        v->backoff_ns = v->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : v->backoff_ns * 2;
        again = v->next_try_ns;
        set_state(v, true, false, msg, obj);
    }
    json_decref(resp);
out:
    json_decref(ops);
    json_decref(obj);
    free(writers);
    free(elections);
    return again;
}

void vwc_state(struct vwc *v, struct vwc_state *out)
{
    pthread_mutex_lock(&v->lock);
    *out = v->st;
    out->writers_expr = v->st.writers_expr ? xstrdup(v->st.writers_expr) : NULL;
    out->elections_expr = v->st.elections_expr ? xstrdup(v->st.elections_expr) : NULL;
    pthread_mutex_unlock(&v->lock);
}

void vwc_state_release(struct vwc_state *st)
{
    free(st->writers_expr);
    free(st->elections_expr);
    st->writers_expr = st->elections_expr = NULL;
}

void vwc_stop(struct vwc *v)
{
    if (v != NULL && v->informer != NULL)
        informer_stop(v->informer);
}

void vwc_free(struct vwc *v)
{
    if (v == NULL)
        return;
    informer_free(v->informer);
    json_decref(v->obj);
    vwc_state_release(&v->st);
    free(v->last_writers);
    free(v->last_elections);
    pthread_mutex_destroy(&v->lock);
    free(v->name);
    free(v);
}
