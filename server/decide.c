/* The fence decision: every fence naming the writer is weighed; per fence, the first row that applies. */
#include "decide.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Until the tracker publishes lengths and the renewTime bound, these read what it has. */
#define SNAP_HOLDER_LEN(s) ((s)->holder_len)

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

bool decide_exempt(const struct review *r, const struct fence_table *t)
{
    if (!review_str_eq(r->res_group, "coordination.k8s.io"))
        return false;
    if (review_str_eq(r->res_resource, "leasecandidates"))
        return true;
    /* request.name is the object's name on every operation but a CREATE with generateName, whose
       generated name no fence can know in advance: that Lease is no election, and is weighed. */
    return review_str_eq(r->res_resource, "leases") && r->namespace_.ptr != NULL && r->name.ptr != NULL &&
           config_is_fenced_lease(t, r->namespace_.ptr, r->namespace_.len, r->name.ptr, r->name.len);
}

/* Inserts the sorted list IDX[0..N) into the sorted, duplicate-free OUT[0..*COUNT). */
static void merge(int *out, size_t *count, const int *idx, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = *count;
        while (i > 0 && out[i - 1] > idx[k])
            i--;
        if (i > 0 && out[i - 1] == idx[k])
            continue;
        memmove(out + i + 1, out + i, (*count - i) * sizeof(*out));
        out[i] = idx[k];
        (*count)++;
    }
}

size_t decide_fences(const struct review *r, const struct fence_table *t, int *out, size_t cap)
{
    /* Each name is looked up once: the lists found are kept here (and looked up again only for a writer
       in more groups than this holds). */
    enum { KEEP = 16 };
    const int *lists[KEEP];
    size_t lens[KEEP], nlists = 0, total = 0, count = 0;
    const int *idx;
    size_t n;

    if (decide_exempt(r, t))
        return 0;
    if (r->username.ptr != NULL && (n = config_find_user(t, r->username.ptr, r->username.len, &idx)) > 0) {
        lists[nlists] = idx;
        lens[nlists++] = n;
        total += n;
    }
    for (size_t i = 0; i < r->ngroups; i++) {
        if (r->groups[i].ptr == NULL ||
            (n = config_find_group(t, r->groups[i].ptr, r->groups[i].len, &idx)) == 0)
            continue;
        if (nlists < KEEP) {
            lists[nlists] = idx;
            lens[nlists] = n;
        }
        nlists++;
        total += n;
    }
    if (total > cap)
        return total;
    if (nlists == 1) { /* the common case: one list, already sorted and distinct */
        memcpy(out, lists[0], lens[0] * sizeof(*out));
        return lens[0];
    }
    if (nlists <= KEEP) {
        for (size_t l = 0; l < nlists; l++)
            merge(out, &count, lists[l], lens[l]);
        return count;
    }
    if (r->username.ptr != NULL && (n = config_find_user(t, r->username.ptr, r->username.len, &idx)) > 0)
        merge(out, &count, idx, n);
    for (size_t i = 0; i < r->ngroups; i++)
        if (r->groups[i].ptr != NULL &&
            (n = config_find_group(t, r->groups[i].ptr, r->groups[i].len, &idx)) > 0)
            merge(out, &count, idx, n);
    return count;
}

/*
 * The value of annotation KEY that this write set: the object's, unless the
 * operation carries no object of its own (DELETE: only oldObject, which the
 * writer did not write) or the value is the stored object's unchanged (a
 * patch that left it alone, or metadata kube-apiserver reset on a status
 * write: nothing proves this write set it).
 */
static struct review_str tag_set_by_write(const struct review *r, const char *key)
{
    struct review_str none = {NULL, 0}, v, old;
    if (review_str_eq(r->operation, "DELETE"))
        return none;
    v = review_annotation(r, false, key);
    if (v.ptr == NULL)
        return none;
    if (r->has_old_object) {
        old = review_annotation(r, true, key);
        if (old.ptr != NULL && old.len == v.len && memcmp(old.ptr, v.ptr, v.len) == 0)
            return none;
    }
    return v;
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
        /* "IDENTITY" or "IDENTITY#NONCE": a nonce lets each write set a new value */
        s = tag_set_by_write(r, f->identity_annotation);
        if (s.ptr != NULL) {
            const char *hash = memchr(s.ptr, '#', s.len);
            if (hash != NULL)
                s.len = (size_t)(hash - s.ptr);
        }
        break;
    }
    return s.ptr != NULL && s.len > 0 ? s : none;
}

static bool same(struct review_str s, const char *z, size_t zlen)
{
    return s.ptr != NULL && s.len == zlen && memcmp(s.ptr, z, zlen) == 0;
}

/* HOSTNAME: the holder is the identity itself, or the identity + '_' + anything (client-go's
 * "<hostname>_<uuid>"); never a mere prefix or substring. */
static bool holds(const struct fence *f, struct review_str id, const char *holder, size_t hlen)
{
    if (same(id, holder, hlen))
        return true;
    return f->holder_match == HOLDER_MATCH_HOSTNAME && hlen > id.len && holder[id.len] == '_' &&
           memcmp(holder, id.ptr, id.len) == 0;
}

static int64_t duration_ns(const struct lease_snapshot *snap)
{
    int32_t s = snap->lease_duration_s > 0 ? snap->lease_duration_s : DECIDE_DEFAULT_LEASE_DURATION_S;
    return (int64_t)s * 1000000000LL;
}

int64_t decide_valid_until(const struct lease_snapshot *snap, int64_t max_skew_ns)
{
    int64_t dur = (int64_t)snap->lease_duration_s * 1000000000LL;
    int64_t until = snap->changed_mono_ns + dur;
    if (snap->renew_mono_ns != 0 && snap->renew_mono_ns + dur + max_skew_ns < until)
        until = snap->renew_mono_ns + dur + max_skew_ns; /* first seen long after its renewTime */
    return until;
}

enum decide_reason decide_lease(const struct lease_snapshot *snap, int64_t now_mono_ns, int64_t max_skew_ns,
                                int64_t *late_ns)
{
    *late_ns = 0;
    if (snap == NULL || !snap->known)
        return REASON_UNKNOWN;
    if (!snap->watching && now_mono_ns - snap->contact_mono_ns > duration_ns(snap)) {
        *late_ns = now_mono_ns - snap->contact_mono_ns;
        return REASON_UNKNOWN;
    }
    if (!snap->exists)
        return REASON_NO_LEASE;
    if (SNAP_HOLDER_LEN(snap) == 0)
        return REASON_NO_HOLDER;
    int64_t until = decide_valid_until(snap, max_skew_ns);
    if (now_mono_ns > until) {
        *late_ns = now_mono_ns - until;
        return REASON_EXPIRED;
    }
    return REASON_HOLDER;
}

void decide_check(const struct review *r, const struct fence_table *t, int fence,
                  const struct lease_snapshot *snap, int64_t now_mono_ns, int64_t max_skew_ns,
                  struct fence_check *out)
{
    const struct fence *f = &t->fences[fence];

    memset(out, 0, sizeof(*out));
    out->fence = fence;
    out->failed = true; /* until the last row */
    out->identity = read_identity(r, f);
    if (f->epoch_annotation != NULL)
        out->epoch = tag_set_by_write(r, f->epoch_annotation);

    if (out->identity.ptr == NULL) {
        out->reason = REASON_UNTAGGED;
        return;
    }
    out->reason = decide_lease(snap, now_mono_ns, max_skew_ns, &out->late_ns);
    if (out->reason != REASON_HOLDER)
        return;
    if (!holds(f, out->identity, snap->holder, SNAP_HOLDER_LEN(snap))) {
        out->reason = REASON_NOT_HOLDER;
        return;
    }
    if (out->epoch.ptr != NULL && !same(out->epoch, snap->epoch, strlen(snap->epoch))) {
        out->reason = REASON_STALE_EPOCH;
        return;
    }
    out->reason = REASON_HOLDER;
    out->failed = false;
}

size_t decide_strict_pending(const struct fence_table *t, const struct fence_check *checks, size_t n,
                             const struct decision *d, size_t *out)
{
    size_t k = 0;
    if (!d->allowed)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!checks[i].failed && t->fences[checks[i].fence].consistency == CONSISTENCY_STRICT)
            out[k++] = i;
    return k;
}

void decide_check_unread(const struct review *r, const struct fence_table *t, int fence, const char *why,
                         struct fence_check *out)
{
    decide_check(r, t, fence, NULL, 0, 0, out);
    if (out->reason == REASON_UNKNOWN)
        out->unread = why;
}

/* The check that decides: the first failing enforce fence, else the first failing warn fence (its
 * warning is the answer's), else the first failing audit fence, else the first fence. */
static size_t deciding(const struct fence_table *t, const struct fence_check *checks, size_t n)
{
    static const enum fence_mode order[] = {FENCE_ENFORCE, FENCE_WARN, FENCE_AUDIT};
    for (size_t m = 0; m < sizeof(order) / sizeof(order[0]); m++)
        for (size_t i = 0; i < n; i++)
            if (checks[i].failed && t->fences[checks[i].fence].mode == order[m])
                return i;
    return 0;
}

void decide(const struct review *r, const struct fence_table *t, const struct fence_check *checks,
            const struct lease_snapshot *const *snaps, size_t n, struct decision *out)
{
    memset(out, 0, offsetof(struct decision, message)); /* not the message: 768 bytes on every request */
    out->message[0] = '\0';
    out->fence = -1;
    out->check = -1;
    out->allowed = true;
    if (n == 0) {
        out->reason = decide_exempt(r, t) ? REASON_LEASE : REASON_UNFENCED;
        return;
    }
    size_t d = deciding(t, checks, n);
    const struct fence *f = &t->fences[checks[d].fence];
    out->fenced = true;
    out->check = (int)d;
    out->fence = checks[d].fence;
    out->reason = checks[d].reason;
    out->failed = checks[d].failed;
    out->allowed = !(out->failed && f->mode == FENCE_ENFORCE);
    if (out->failed)
        decide_message(r, t, &checks[d], snaps[d], out->message, sizeof(out->message));
}

/* ---- messages ---- */

/* S[0..LEN) for a message: control bytes as \xNN, cut after DECIDE_SHOW_MAX bytes (at a character
 * boundary) with a mark saying how much was cut, so two long identities never print alike. */
static const char *show(char *buf, size_t size, const char *s, size_t len)
{
    size_t shown = len, o = 0;
    if (s == NULL)
        s = "";
    if (shown > DECIDE_SHOW_MAX) {
        shown = DECIDE_SHOW_MAX;
        while (shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80)
            shown--;
    }
    for (size_t i = 0; i < shown && o + 5 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
        else
            buf[o++] = (char)ch;
    }
    buf[o] = '\0';
    if (shown < len)
        snprintf(buf + o, size - o, "...(%zu more bytes)", len - shown);
    return buf;
}

/* Fills BUF: "leasefence: " BODY "; write denied" (or what the mode makes of it). */
static void say(char *buf, size_t len, const struct fence *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(char *buf, size_t len, const struct fence *f, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (f->mode == FENCE_ENFORCE)
        snprintf(buf, len, "leasefence: %s; write denied", body);
    else
        snprintf(buf, len, "leasefence: %s; write would be denied (fence mode %s)", body,
                 config_mode_name(f->mode));
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

static void untagged_message(const struct review *r, const struct fence *f, const char *user, char *buf,
                             size_t len)
{
    if (f->identity != IDENTITY_ANNOTATION)
        say(buf, len, f,
            "write by \"%s\" is fenced by lease %s but carries no replica identity (%s is empty)", user,
            f->lease, identity_source(f));
    else if (review_str_eq(r->operation, "DELETE"))
        say(buf, len, f,
            "write by \"%s\" is fenced by lease %s with identity annotation '%s', which a DELETE cannot "
            "carry (fence with podName identity to allow the holder's deletes)",
            user, f->lease, f->identity_annotation);
    else if (review_annotation(r, false, f->identity_annotation).ptr != NULL)
        say(buf, len, f,
            "write by \"%s\" is fenced by lease %s but did not set annotation '%s' (its value is the stored "
            "object's; write a new value, e.g. IDENTITY#COUNTER, with every write)",
            user, f->lease, f->identity_annotation);
    else
        say(buf, len, f, "write by \"%s\" is fenced by lease %s but the object has no annotation '%s'", user,
            f->lease, f->identity_annotation);
}

void decide_message(const struct review *r, const struct fence_table *t, const struct fence_check *c,
                    const struct lease_snapshot *snap, char *buf, size_t len)
{
    const struct fence *f = &t->fences[c->fence];
    char id[320], holder[320], user[320], epoch[320];

    show(id, sizeof(id), c->identity.ptr, c->identity.len);
    show(holder, sizeof(holder), snap ? snap->holder : "", snap ? SNAP_HOLDER_LEN(snap) : 0);
    show(user, sizeof(user), r->username.ptr, r->username.len);
    buf[0] = '\0';
    switch (c->reason) {
    case REASON_UNTAGGED:
        untagged_message(r, f, user, buf, len);
        break;
    case REASON_UNKNOWN:
        if (c->unread != NULL)
            say(buf, len, f,
                "the state of lease %s could not be read from the API server before deciding (strict "
                "consistency: %s); replica \"%s\"",
                f->lease, c->unread, id);
        else if (snap == NULL || !snap->known)
            say(buf, len, f,
                "the state of lease %s is not known (not synced with the API server, or not decodable); "
                "replica \"%s\"",
                f->lease, id);
        else
            say(buf, len, f,
                "the state of lease %s is not known: no contact with the API server for %.1fs; replica "
                "\"%s\"",
                f->lease, (double)c->late_ns / 1e9, id);
        break;
    case REASON_NO_LEASE:
        say(buf, len, f, "lease %s does not exist, so replica \"%s\" is not its holder", f->lease, id);
        break;
    case REASON_NO_HOLDER:
        say(buf, len, f, "lease %s has no holder (released), so replica \"%s\" is not its holder", f->lease,
            id);
        break;
    case REASON_EXPIRED:
        say(buf, len, f, "lease %s held by \"%s\" expired %.1fs ago (not renewed within %ds); replica \"%s\"",
            f->lease, holder, (double)c->late_ns / 1e9, (int)snap->lease_duration_s, id);
        break;
    case REASON_NOT_HOLDER:
        say(buf, len, f, "replica \"%s\" is not the holder of lease %s (held by \"%s\")", id, f->lease,
            holder);
        break;
    case REASON_STALE_EPOCH:
        say(buf, len, f,
            "replica \"%s\" holds lease %s but wrote with epoch \"%s\" (annotation '%s'); the lease is at "
            "epoch \"%s\"",
            id, f->lease, show(epoch, sizeof(epoch), c->epoch.ptr, c->epoch.len), f->epoch_annotation,
            snap->epoch);
        break;
    case REASON_HOLDER:
    case REASON_UNFENCED:
    case REASON_LEASE:
    case REASON_COUNT:
        break;
    }
}
