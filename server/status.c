/* LeaseFence status: what it should say, and writing it only when it changed, rate-limited. */
#include "status.h"
#include "xmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decide.h"
#include "fencesrc.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "tracker.h"
#include "vwc.h"

#define SEC_NS             1000000000LL
#define MIN_INTERVAL_NS    (1 * SEC_NS)  /* between two writes of one object */
#define COUNTS_INTERVAL_NS (60 * SEC_NS) /* when only the counts changed */
#define FAILED_MAX_NS      (60 * SEC_NS) /* the longest wait after failed writes */
#define IN_FLIGHT_NS       (10 * SEC_NS) /* a written status not yet read back is trusted this long */
#define SAMPLE_NS          (60 * SEC_NS)
#define NSAMPLES           (STATUS_COUNT_WINDOW_S / 60 + 1)
#define REQUEST_TIMEOUT_MS 10000
#define LEASEFENCES        "/apis/leasefence.io/v1alpha1/namespaces/"

/* ---- what the status says ---- */

/* True when the CEL literal of S is an element of a list in EXPR: preceded by '[' or ' ', so that a quote
 * escaped inside another literal does not count. */
static bool names(const char *expr, const char *s)
{
    if (expr == NULL)
        return false;
    char *lit = vwc_cel_string(s, strlen(s));
    size_t n = strlen(lit);
    bool found = false;
    for (const char *p = strstr(expr, lit); p != NULL && !found; p = strstr(p + 1, lit)) {
        char after = p[n];
        found = p > expr && (p[-1] == '[' || p[-1] == ' ') && (after == ',' || after == ']');
    }
    free(lit);
    return found;
}

/* True when the configuration VS names every writer and the Lease of fence CONFIG. */
static bool in_webhook_configuration(const struct vwc_state *vs, json_t *config)
{
    json_t *w = json_object_get(config, "writers"), *v;
    size_t i;
    json_array_foreach(json_object_get(w, "users"), i, v)
    {
        if (json_is_string(v) && !names(vs->writers_expr, json_string_value(v)))
            return false;
    }
    json_array_foreach(json_object_get(w, "groups"), i, v)
    {
        if (json_is_string(v) && !names(vs->writers_expr, json_string_value(v)))
            return false;
    }
    const char *lease = json_string_value(json_object_get(config, "lease"));
    return lease == NULL || names(vs->elections_expr, lease);
}

static void say(struct status_ready *out, bool ready, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(struct status_ready *out, bool ready, const char *reason, const char *fmt, ...)
{
    va_list ap;
    out->ready = ready;
    out->reason = reason;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

/* The holder for a message: printable, NUL bytes shown as \0, cut at 253 bytes. */
static void show_holder(const struct lease_snapshot *snap, char *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < snap->holder_len && i < 253 && o + 3 < len; i++) {
        if (snap->holder[i] == '\0') {
            buf[o++] = '\\';
            buf[o++] = '0';
        } else {
            buf[o++] = snap->holder[i];
        }
    }
    buf[o] = '\0';
}

void status_ready(const struct fencesrc_object *o, const struct lease_snapshot *snap,
                  const struct vwc_state *vs, int64_t now, int64_t max_skew_ns, struct status_ready *out)
{
    int64_t late;
    char holder[600];
    switch (o->state) {
    case FENCESRC_INVALID:
        say(out, false, "InvalidSpec", "%s", o->message);
        return;
    case FENCESRC_FORBIDDEN:
        say(out, false, "WriterNotAllowed", "%s", o->message);
        return;
    case FENCESRC_CONFLICT:
        say(out, false, "ConflictsWithConfig", "%s", o->message);
        return;
    case FENCESRC_FENCING:
        break;
    }
    if (vs != NULL && !vs->known) {
        say(out, false, "WebhookConfigurationUnknown", "%s",
            vs->error[0] ? vs->error : "the webhook configuration has not been read");
        return;
    }
    if (vs != NULL && !in_webhook_configuration(vs, o->config)) {
        say(out, false, "WebhookConfigurationNotUpdated",
            "the webhook configuration does not name this fence's writers and Lease yet, so the API server "
            "does "
            "not send their writes%s%s",
            vs->error[0] ? ": " : "", vs->error);
        return;
    }
    switch (decide_lease(snap, now, max_skew_ns, &late)) {
    case REASON_UNKNOWN:
        if (late > 0)
            say(out, false, "LeaseNotSynced",
                "nothing heard of Lease %s for %.0fs: its writers' writes fail (unknown) until it is read "
                "again",
                o->lease, (double)late / 1e9);
        else
            say(out, false, "LeaseNotSynced",
                "leasefence has not read Lease %s yet (it needs get, list and watch on it): its writers' "
                "writes "
                "fail (unknown)",
                o->lease);
        return;
    case REASON_NO_LEASE:
        say(out, false, "LeaseNotFound",
            "Lease %s does not exist: every write of the fenced writers fails (no-lease)", o->lease);
        return;
    case REASON_NO_HOLDER:
        say(out, false, "LeaseReleased",
            "Lease %s has no holder: every write of the fenced writers fails (no-holder)", o->lease);
        return;
    case REASON_EXPIRED:
        show_holder(snap, holder, sizeof(holder));
        say(out, false, "LeaseExpired",
            "the holder \"%s\" of Lease %s stopped renewing it %.0fs ago: every write of the fenced writers "
            "fails "
            "(expired)",
            holder, o->lease, (double)late / 1e9);
        return;
    default:
        break;
    }
    show_holder(snap, holder, sizeof(holder));
    const char *mode = json_string_value(json_object_get(o->config, "mode"));
    mode = mode ? mode : "enforce";
    say(out, true, "Fencing", "%s: only replica \"%s\", the holder of Lease %s, %s", mode, holder, o->lease,
        strcmp(mode, "enforce") == 0 ? "may write"
        : strcmp(mode, "warn") == 0  ? "writes without a warning"
                                     : "writes without being counted as failing");
}

/* The stored Ready condition of O's status, or NULL. */
static json_t *stored_ready(const struct fencesrc_object *o)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(o->status, "conditions"), i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type != NULL && strcmp(type, "Ready") == 0)
            return c;
    }
    return NULL;
}

json_t *status_object(const struct fencesrc_object *o, const struct lease_snapshot *snap,
                      const struct status_ready *r, uint64_t allowed, uint64_t denied,
                      const char *now_rfc3339)
{
    const char *cond_status = r->ready ? "True" : "False";
    json_t *old = stored_ready(o);
    const char *ltt = now_rfc3339;
    const char *old_status = json_string_value(json_object_get(old, "status"));
    if (old_status != NULL && strcmp(old_status, cond_status) == 0 &&
        json_is_string(json_object_get(old, "lastTransitionTime")))
        ltt = json_string_value(json_object_get(old, "lastTransitionTime"));
    bool lease = snap != NULL && snap->known && snap->exists;
    json_t *cond = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "type", "Ready", "status", cond_status, "reason",
                             r->reason, "message", r->message, "observedGeneration",
                             (json_int_t)o->generation, "lastTransitionTime", ltt);
    return json_pack("{s:o,s:s,s:I,s:I,s:I,s:[o]}", "holder",
                     json_stringn(lease ? snap->holder : "", lease ? snap->holder_len : 0), "epoch",
                     lease ? snap->epoch : "", "observedGeneration", (json_int_t)o->generation, "allowed",
                     (json_int_t)allowed, "denied", (json_int_t)denied, "conditions", cond);
}

/* ---- writing it ---- */

struct object_state {
    int64_t last_write_ns, wait_ns; /* the next write waits until last_write_ns + wait_ns */
    json_t *written;                /* what the last write wrote (NULL: none) */
    int64_t sample_ns[NSAMPLES];    /* count samples, a ring, one a minute */
    uint64_t sample_passed[NSAMPLES], sample_failed[NSAMPLES];
    size_t nsamples;
    char last_error[1024];
    uint64_t seen; /* the pass that last saw the object */
};

struct status {
    struct kube_client *kc;
    struct tracker *tracker;
    int64_t max_skew_ns;
    json_t *states; /* uid -> index into objs (an integer) */
    struct object_state **objs;
    size_t nobjs;
    uint64_t pass;
};

struct status *status_new(struct kube_client *kc, struct tracker *t, int64_t max_skew_ns)
{
    struct status *s = xcalloc(1, sizeof(*s));
    s->kc = kc;
    s->tracker = t;
    s->max_skew_ns = max_skew_ns;
    s->states = json_object();
    return s;
}

static struct object_state *state_of(struct status *s, const char *uid)
{
    json_t *i = json_object_get(s->states, uid);
    if (i != NULL)
        return s->objs[json_integer_value(i)];
    s->objs = xrealloc(s->objs, (s->nobjs + 1) * sizeof(*s->objs));
    s->objs[s->nobjs] = xcalloc(1, sizeof(**s->objs));
    json_object_set_new(s->states, uid, json_integer((json_int_t)s->nobjs));
    return s->objs[s->nobjs++];
}

/* Forgets the objects the last pass did not see (deleted). */
static void forget_unseen(struct status *s)
{
    json_t *keep = json_object();
    struct object_state **objs = xcalloc(s->nobjs + 1, sizeof(*objs));
    size_t n = 0;
    const char *uid;
    json_t *i;
    json_object_foreach(s->states, uid, i)
    {
        struct object_state *st = s->objs[json_integer_value(i)];
        if (st->seen == s->pass) {
            json_object_set_new(keep, uid, json_integer((json_int_t)n));
            objs[n++] = st;
        } else {
            json_decref(st->written);
            free(st);
        }
    }
    free(s->objs);
    json_decref(s->states);
    s->objs = objs;
    s->nobjs = n;
    s->states = keep;
}

/* Counts of the last STATUS_COUNT_WINDOW_S (since the first sample when younger). */
static void recent(struct object_state *st, int lease_idx, int64_t now, uint64_t *allowed, uint64_t *denied)
{
    uint64_t passed, failed;
    *allowed = *denied = 0;
    if (lease_idx < 0)
        return;
    metrics_fence_checks(lease_idx, &passed, &failed);
    size_t last = (st->nsamples + NSAMPLES - 1) % NSAMPLES;
    if (st->nsamples == 0 || now - st->sample_ns[last] >= SAMPLE_NS) {
        size_t k = st->nsamples % NSAMPLES;
        st->sample_ns[k] = now;
        st->sample_passed[k] = passed;
        st->sample_failed[k] = failed;
        st->nsamples++;
    }
    size_t oldest = st->nsamples < NSAMPLES ? 0 : st->nsamples % NSAMPLES;
    *allowed = passed - st->sample_passed[oldest];
    *denied = failed - st->sample_failed[oldest];
}

/* S without the counts, for "did only the counts change". */
static json_t *without_counts(json_t *s)
{
    json_t *c = json_is_object(s) ? json_copy(s) : json_object();
    json_object_del(c, "allowed");
    json_object_del(c, "denied");
    return c;
}

static void rfc3339_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool write_status(struct status *s, const struct fencesrc_object *o, json_t *want, char *err,
                         size_t errlen)
{
    size_t n = strlen(o->ns) + strlen(o->name) + 128;
    char *path = xmalloc(n);
    snprintf(path, n, LEASEFENCES "%s/leasefences/%s/status", o->ns, o->name);
    /* the uid makes it a precondition: a LeaseFence deleted and made anew under the name is not written */
    json_t *patch = json_pack("{s:{s:s},s:O}", "metadata", "uid", o->uid, "status", want);
    int code =
        kube_patch(s->kc, path, "application/merge-patch+json", patch, REQUEST_TIMEOUT_MS, NULL, err, errlen);
    json_decref(patch);
    free(path);
    return code >= 200 && code <= 299;
}

int64_t status_sync(struct status *s, const struct fencesrc_view *v, const struct vwc_state *vs, int64_t now)
{
    char ts[32], err[1024];
    int64_t due = 0;
    int writes = 0;
    rfc3339_now(ts, sizeof(ts));
    s->pass++;
    for (size_t i = 0; i < v->nobjects; i++) {
        const struct fencesrc_object *o = &v->objects[i];
        struct object_state *st = state_of(s, o->uid);
        struct status_ready r;
        uint64_t allowed, denied;
        st->seen = s->pass;
        const struct lease_snapshot *snap =
            o->lease_idx >= 0 ? tracker_acquire(s->tracker, (size_t)o->lease_idx) : NULL;
        recent(st, o->lease_idx, now, &allowed, &denied);
        status_ready(o, snap, vs, now, s->max_skew_ns, &r);
        json_t *want = status_object(o, snap, &r, allowed, denied, ts);
        if (snap != NULL)
            tracker_release(s->tracker, snap);

        json_t *a = without_counts(o->status), *b = without_counts(want);
        bool same = json_equal(o->status, want), counts_only = json_equal(a, b);
        json_decref(a);
        json_decref(b);
        int64_t wait = counts_only                     ? COUNTS_INTERVAL_NS
                       : st->wait_ns > MIN_INTERVAL_NS ? st->wait_ns
                                                       : MIN_INTERVAL_NS;
        if (same || (st->written != NULL && json_equal(st->written, want) &&
                     now - st->last_write_ns < IN_FLIGHT_NS)) {
            json_decref(want); /* stored, or written and on its way back */
        } else if (st->last_write_ns != 0 && now - st->last_write_ns < wait) {
            int64_t at = st->last_write_ns + wait;
            due = due == 0 || at < due ? at : due;
            json_decref(want);
        } else if (writes >= STATUS_MAX_WRITES) {
            due = now + MIN_INTERVAL_NS;
            json_decref(want);
        } else {
            writes++;
            st->last_write_ns = now;
            json_decref(st->written);
            st->written = NULL;
            if (write_status(s, o, want, err, sizeof(err))) {
                metrics_count_status_write(true);
                st->written = want;
                st->wait_ns = MIN_INTERVAL_NS;
                st->last_error[0] = '\0';
            } else {
                char obj[512];
                metrics_count_status_write(false);
                snprintf(obj, sizeof(obj), "%s/%s", o->ns, o->name);
                if (strcmp(st->last_error, err) != 0)
                    log_event(LOGL_WARN, "cannot write LeaseFence status", "leasefence", obj, "error", err,
                              NULL);
                snprintf(st->last_error, sizeof(st->last_error), "%s", err);
                st->wait_ns = st->wait_ns < MIN_INTERVAL_NS     ? 2 * MIN_INTERVAL_NS
                              : st->wait_ns * 2 > FAILED_MAX_NS ? FAILED_MAX_NS
                                                                : st->wait_ns * 2;
                json_decref(want);
            }
        }
    }
    forget_unseen(s);
    return due;
}

void status_free(struct status *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nobjs; i++) {
        json_decref(s->objs[i]->written);
        free(s->objs[i]);
    }
    free(s->objs);
    json_decref(s->states);
    free(s);
}
