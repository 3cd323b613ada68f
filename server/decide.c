/* The fence decision: the table of DESIGN.md, first row that applies wins. */
#include "decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Identities and holders are printed at most this long in messages. */
#define SHOW_MAX 253

const char *decide_reason_name(enum decide_reason r)
{
    static const char *const names[REASON_COUNT] = {
        [REASON_HOLDER] = "holder",         [REASON_UNFENCED] = "unfenced",
        [REASON_LEASE] = "lease",           [REASON_UNTAGGED] = "untagged",
        [REASON_UNKNOWN] = "unknown",       [REASON_NO_LEASE] = "no-lease",
        [REASON_NO_HOLDER] = "no-holder",   [REASON_EXPIRED] = "expired",
        [REASON_NOT_HOLDER] = "not-holder", [REASON_STALE_EPOCH] = "stale-epoch",
    };
    return (unsigned)r < REASON_COUNT ? names[r] : "unknown";
}

static bool is_lease_write(const struct review *r)
{
    return review_str_eq(r->res_group, "coordination.k8s.io") && review_str_eq(r->res_resource, "leases");
}

int decide_fence(const struct review *r, const struct fence_table *t)
{
    int best = -1;
    if (is_lease_write(r))
        return -1;
    if (r->username.ptr != NULL) {
        int f = config_find_user(t, r->username.ptr, r->username.len);
        if (f >= 0)
            return f;
    }
    for (size_t i = 0; i < r->ngroups; i++) {
        if (r->groups[i].ptr == NULL)
            continue;
        int f = config_find_group(t, r->groups[i].ptr, r->groups[i].len);
        if (f >= 0 && (best < 0 || f < best))
            best = f;
    }
    return best;
}

/* The object whose annotations count: oldObject for DELETE, else object. */
static struct review_str object_annotation(const struct review *r, const char *key)
{
    return review_annotation(r, review_str_eq(r->operation, "DELETE"), key);
}

static struct review_str read_identity(const struct review *r, const struct fence *f)
{
    struct review_str none = {NULL, 0}, s = none;
    switch (f->identity) {
    case IDENTITY_POD_NAME:
        if (r->npod_names > 0)
            s = r->pod_names[0];
        break;
    case IDENTITY_USERNAME:
        s = r->username;
        break;
    case IDENTITY_ANNOTATION:
        s = object_annotation(r, f->identity_annotation);
        break;
    }
    return s.ptr != NULL && s.len > 0 ? s : none;
}

static bool str_is(struct review_str s, const char *z)
{
    size_t n = strlen(z);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, z, n) == 0;
}

static int show(size_t len)
{
    return (int)(len < SHOW_MAX ? len : SHOW_MAX);
}

/* Fills out->message: "leasefence: " BODY "; write denied" (or what the mode makes of it). */
static void say(struct decision *out, const struct fence *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct decision *out, const struct fence *f, const char *fmt, ...)
{
    char body[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (f->mode == FENCE_ENFORCE)
        snprintf(out->message, sizeof(out->message), "leasefence: %s; write denied", body);
    else
        snprintf(out->message, sizeof(out->message), "leasefence: %s; write would be denied (fence mode %s)",
                 body, config_mode_name(f->mode));
}

static const char *identity_source(const struct fence *f)
{
    switch (f->identity) {
    case IDENTITY_USERNAME:
        return "userInfo.username";
    case IDENTITY_ANNOTATION:
        return "an annotation";
    case IDENTITY_POD_NAME:
        break;
    }
    return "userInfo.extra[\"authentication.kubernetes.io/pod-name\"]";
}

void decide(const struct review *r, const struct fence_table *t, int fence, const struct lease_snapshot *snap,
            int64_t now_mono_ns, struct decision *out)
{
    const struct fence *f;
    struct review_str id;
    int64_t dur_ns;

    memset(out, 0, sizeof(*out));
    out->fence = -1;
    out->allowed = true;
    if (is_lease_write(r)) {
        out->reason = REASON_LEASE;
        return;
    }
    if (fence < 0 || (size_t)fence >= t->nfences) {
        out->reason = REASON_UNFENCED;
        return;
    }
    f = &t->fences[fence];
    out->fence = fence;
    out->fenced = true;
    out->failed = true; /* until the last row */
    id = out->identity = read_identity(r, f);
    if (f->epoch_annotation != NULL)
        out->epoch = object_annotation(r, f->epoch_annotation);

    if (id.ptr == NULL) {
        out->reason = REASON_UNTAGGED;
        if (f->identity == IDENTITY_ANNOTATION)
            say(out, f, "write by \"%.*s\" is fenced by lease %s but the %s has no annotation '%s'",
                show(r->username.len), r->username.ptr ? r->username.ptr : "", f->lease,
                review_str_eq(r->operation, "DELETE") ? "oldObject" : "object", f->identity_annotation);
        else
            say(out, f,
                "write by \"%.*s\" is fenced by lease %s but carries no replica identity (%s is empty)",
                show(r->username.len), r->username.ptr ? r->username.ptr : "", f->lease, identity_source(f));
        goto out;
    }
    if (snap == NULL || !snap->known) {
        out->reason = REASON_UNKNOWN;
        say(out, f,
            "the state of lease %s is not known yet (not synced with the API server); replica \"%.*s\"",
            f->lease, show(id.len), id.ptr);
        goto out;
    }
    dur_ns =
        (int64_t)(snap->lease_duration_s > 0 ? snap->lease_duration_s : DECIDE_DEFAULT_LEASE_DURATION_S) *
        1000000000LL;
    if (!snap->watching && now_mono_ns - snap->contact_mono_ns > dur_ns) {
        out->reason = REASON_UNKNOWN;
        say(out, f,
            "the state of lease %s is not known: no contact with the API server for %.1fs; replica \"%.*s\"",
            f->lease, (double)(now_mono_ns - snap->contact_mono_ns) / 1e9, show(id.len), id.ptr);
        goto out;
    }
    if (!snap->exists) {
        out->reason = REASON_NO_LEASE;
        say(out, f, "lease %s does not exist, so replica \"%.*s\" is not its holder", f->lease, show(id.len),
            id.ptr);
        goto out;
    }
    if (snap->holder[0] == '\0') {
        out->reason = REASON_NO_HOLDER;
        say(out, f, "lease %s has no holder (released), so replica \"%.*s\" is not its holder", f->lease,
            show(id.len), id.ptr);
        goto out;
    }
    if (now_mono_ns > snap->changed_mono_ns + (int64_t)snap->lease_duration_s * 1000000000LL) {
        out->reason = REASON_EXPIRED;
        say(out, f, "lease %s held by \"%.*s\" expired %.1fs ago (not renewed within %ds); replica \"%.*s\"",
            f->lease, show(strlen(snap->holder)), snap->holder,
            (double)(now_mono_ns - snap->changed_mono_ns - (int64_t)snap->lease_duration_s * 1000000000LL) /
                1e9,
            (int)snap->lease_duration_s, show(id.len), id.ptr);
        goto out;
    }
    if (!str_is(id, snap->holder)) {
        out->reason = REASON_NOT_HOLDER;
        say(out, f, "replica \"%.*s\" is not the holder of lease %s (held by \"%.*s\")", show(id.len), id.ptr,
            f->lease, show(strlen(snap->holder)), snap->holder);
        goto out;
    }
    if (out->epoch.ptr != NULL && !str_is(out->epoch, snap->epoch)) {
        out->reason = REASON_STALE_EPOCH;
        say(out, f,
            "replica \"%.*s\" holds lease %s but wrote with epoch \"%.*s\" (annotation '%s'); the lease is "
            "at "
            "epoch \"%s\"",
            show(id.len), id.ptr, f->lease, show(out->epoch.len), out->epoch.ptr, f->epoch_annotation,
            snap->epoch);
        goto out;
    }
    out->reason = REASON_HOLDER;
    out->failed = false;
out:
    out->allowed = !out->failed || f->mode != FENCE_ENFORCE;
}
