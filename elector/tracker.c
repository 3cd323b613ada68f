/*
 * The tracker: one thread drives one list-then-watch per namespace that holds a tracked Lease, with curl
 * multi (so 10,000 Leases in 1,000 namespaces need one thread, 1,000 streams and, over HTTP/2, ten
 * connections), and publishes an immutable, reference-counted snapshot per Lease.  Readers only take the
 * tracker's mutex for a pointer load and an increment.
 *
 * State is split by what it is about: a Lease (struct item) holds only what is known of it and its
 * snapshot; a namespace (struct nswatch) holds the transfer, its buffers and the watch's resourceVersion.
 * An event of a Lease nobody tracks is recognised by peeking at its name (peek.h) and dropped undecoded; so
 * is such a Lease's item of a list, which is read as it streams in (listscan.h), never held whole.
 *
 * The thread sleeps in epoll and drives curl with curl_multi_socket_action, so a wakeup costs the transfers
 * on the socket that woke it, not every transfer (curl_multi_perform runs all of them, with a poll() each).
 * Nothing runs on a per-namespace timer while watches are quiet: a hung watch is found by one sweep every
 * few seconds over the time each watch last received bytes.
 */
#include "tracker.h"
#include "xmem.h"

#include "log.h"
#include "kube.h"
#include "lease.h"
#include "lf_buf.h"
#include "lf_clock.h"
#include "lf_name.h"
#include "listscan.h"
#include "peek.h"
#include "testing.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LIST_SILENCE_S         10  /* a list from which no byte came for this long is given up */
#define LIST_MAX_S             600 /* and one still coming after this long (it has no size cap) */
#define BACKOFF_MIN_MS         200
#define BACKOFF_MAX_MS         30000
#define WATCH_TIMEOUT_S        30           /* plus up to half of it again, as jitter */
#define WATCH_SILENCE_MARGIN_S 10           /* a watch silent for its timeoutSeconds plus this is abandoned */
#define SWEEP_MAX_NS           5000000000LL /* how often watches are checked for silence, at most */
#define MAX_EVENT              (2u << 20) /* above etcd's 1.5 MiB object limit, with room for the event frame */
#define MIN_WATCH_NS           1000000000LL /* a watch ending cleanly sooner is retried with backoff */
#define MAX_CONNECTIONS        16    /* per API server, at least; lifted when it speaks only HTTP/1.1 */
#define STREAMS_PER_CONNECTION 100   /* kube-apiserver's limit since CVE-2023-44487 */
#define RECV_BUFFER            2048L /* bytes; curl's minimum is 1024 */
#define REFRESH_TIMEOUT_MS     1000  /* a fresh read (tracker_refresh) fails after this, by default */
#define TRIM_AFTER             (1u << 20) /* bytes of lists freed before the heap is trimmed, once none is under way */
#define NEVER                  INT64_MAX

struct snap {
    struct lease_snapshot pub; /* first: a lease_snapshot pointer is a snap pointer */
    atomic_int refs;
    char strings[];
};

enum phase { IDLE, LISTING, WATCHING };

/* What a curl handle's CURLINFO_PRIVATE points at: both structs start with it. */
enum owner { OWNER_NS, OWNER_ITEM };

/* One header list for every request while the token stays the same: with a service-account token
 * (about 1 KB) a list per request would cost a kilobyte per namespace. */
struct shared_headers {
    struct curl_slist *list;
    unsigned refs;
};

struct tracker;
struct item;

/* One item of a list, of a tracked Lease: decoded, or too long to be. */
struct listed {
    struct item *it;
    json_t *obj;   /* NULL: the item could not be read, */
    char why[160]; /* for this reason */
};

/* A list under way: its scanner and what it kept of the items so far (the tracked Leases' alone). */
struct list_read {
    struct listscan scan;
    struct listed *kept;
    size_t nkept, kept_cap;
    size_t kept_bytes; /* the kept items' JSON text */
    bool bad;          /* the scan failed: err says why */
    char err[256];
};

/* A namespace with tracked Leases: its list, then its watch.  Created under t->lock, never freed before the
 * tracker; everything below ns is the tracker thread's. */
struct nswatch {
    enum owner owner; /* OWNER_NS */
    struct tracker *t;
    char *ns;
    struct nswatch *hnext;             /* under t->lock: the namespace hash's chain */
    uint64_t relists, watch_restarts;  /* under t->lock: tracker_stats of its Leases */
    struct item **items;               /* its Leases, tracked or not, as the thread took them */
    size_t nitems, items_cap, nactive; /* nactive: those tracked (it lists and watches while > 0) */
    bool in_mine;                      /* in t->mine_ns */
    enum phase phase;
    CURL *easy;
    struct shared_headers *hdrs; /* those of the current request */
    struct list_read *list;      /* the list under way, NULL when none */
    struct lf_buf list_body;     /* a refused list's Status body, capped at MAX_EVENT */
    struct kube_watch_decoder dec;
    struct item *peeked; /* the tracked Lease the line being decoded names (found by watch_skip) */
    bool watching;       /* the watch answered 200 and is connected */
    bool watch_ok;       /* the watch answered 200 */
    bool watch_gone;     /* an ERROR 410 event came */
    bool watch_bad;      /* a malformed stream */
    bool watch_silent;   /* abandoned: nothing came for longer than silence_ns */
    char *rv;            /* where to watch from; NULL: list first */
    int64_t next_at;     /* monotonic ns at which to start the next request */
    int64_t started;     /* monotonic ns at which the current request started */
    int64_t last_rx;    /* monotonic ns at which the current list or watch last received bytes (or started) */
    int64_t silence_ns; /* the current watch is abandoned when silent for longer */
    int backoff_ms;
    int lists, watches;
};

/* A tracked Lease: what is known of it, and its fresh reads.  Never freed before the tracker. */
struct item {
    enum owner owner; /* OWNER_ITEM */
    struct nswatch *nsw;
    char *name;
    size_t idx;                 /* its index: its place in t->items */
    struct item *hnext;         /* under t->lock: the Lease hash's chain */
    struct snap *cur;           /* under t->lock */
    atomic_bool wanted;         /* tracker_track / tracker_untrack */
    struct tracker_stats stats; /* under t->lock (relists and watch_restarts are the namespace's) */

    /* tracker thread only */
    bool active; /* wanted, as the thread last acted on it */
    bool listed; /* in the list being applied */
    bool late;   /* tracked while its namespace's list was under way: the list may have streamed past it */
    bool known, exists;
    struct lease_record rec; /* valid when known && exists */
    int64_t changed, contact;
    int64_t renew_mono; /* rec.renew_us on the monotonic clock, as of the last change; 0 when absent */
    /* The revision through which the state is complete: the list's, the last event's or bookmark's, or
     * that of a fresh read that replaced it (0: unknown).  An event at or below it is not applied, so a
     * fresh read newer than the watch is not undone by the events the watch delivers after it. */
    uint64_t state_rv;
    int64_t fresh_applied; /* when a fresh read last replaced the state (0: never) */

    /* fresh reads (tracker_refresh); tracker thread only */
    CURL *get;                         /* the GET in flight, NULL when none */
    struct shared_headers *get_hdrs;   /* its header list */
    struct lf_buf get_body;            /* its body, capped at MAX_EVENT */
    int64_t get_sent;                  /* when it was started */
    struct tracker_refresh *answering; /* asked for before it started: it answers them */
    struct tracker_refresh *queued;    /* asked for while it was in flight: the next GET answers them */
    struct item *start_next;           /* take_refreshes' list of Leases to start a GET for */
};

/* A chained hash table; the chains run through the entries' hnext. */
struct hash {
    void **buckets;
    size_t nbuckets, n; /* nbuckets: a power of two */
};

struct tracker {
    struct kube_client *client;
    pthread_mutex_t lock;
    struct item **items; /* under lock; items themselves never move */
    size_t n, cap;
    struct hash by_name; /* under lock: (namespace, name) -> item */
    struct hash by_ns;   /* under lock: namespace -> nswatch */
    CURLM *multi;
    int epfd, wakefd; /* the tracker thread sleeps in epfd; wakefd (an eventfd) wakes it */
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_bool rescan; /* a Lease was tracked or untracked: act on it */
    int watch_timeout_s, watch_margin_s;
    int list_silence_s, list_max_s;
    unsigned rand_state;
    struct tracker_refresh *asked; /* under lock: refreshes the thread has not taken yet */
    bool refresh_open;             /* under lock: the thread will take what is asked (running, not stopped) */
    long refresh_timeout_ms;

    /* tracker thread only */
    struct item **mine; /* items[0..nmine), copied under the lock when Leases are added: read without it */
    size_t nmine;
    struct nswatch **mine_ns; /* the namespaces of mine[] */
    size_t nmine_ns, mine_ns_cap;
    bool h1_only;       /* the server answered a watch over HTTP/1.x */
    bool h1_requeue;    /* h1_only was just found: requests queued until then must be started anew */
    int64_t curl_timer; /* when curl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT); NEVER: no timer */
    int64_t next_scan;  /* the earliest next_at of an idle namespace */
    int64_t next_sweep; /* when watches are next checked for silence */
    struct shared_headers *hdrs; /* the current header list (one reference is the tracker's) */
    size_t listing;              /* lists under way */
    size_t freed;                /* bytes of list bodies freed since the heap was last trimmed */
};

static const struct snap invalid_snap = {
    .pub = {.ns = "", .name = "", .holder = "", .uid = "", .resource_version = "", .epoch = ""},
};

static int64_t mono_ns(void)
{
    return lf_clock_mono_ns();
}

/* ---- the hashes (under t->lock) ---- */

/* FNV-1a over S[0..LEN), from H. */
static uint64_t hash_bytes(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define HASH_SEED 14695981039346656037ULL

static uint64_t ns_hash(const char *ns)
{
    return hash_bytes(HASH_SEED, ns, strlen(ns));
}

/* A Lease's: its namespace's entry (unique per namespace) and its name. */
static uint64_t item_hash(const struct nswatch *w, const char *name, size_t len)
{
    return hash_bytes(HASH_SEED ^ ((uint64_t)(uintptr_t)w * 0x9E3779B97F4A7C15ULL), name, len);
}

static void **hash_bucket(struct hash *h, uint64_t hv)
{
    return &h->buckets[hv & (h->nbuckets - 1)];
}

static struct nswatch *find_ns(struct tracker *t, const char *ns)
{
    if (t->by_ns.nbuckets == 0)
        return NULL;
    for (struct nswatch *w = *hash_bucket(&t->by_ns, ns_hash(ns)); w != NULL; w = w->hnext)
        if (strcmp(w->ns, ns) == 0)
            return w;
    return NULL;
}

/* The Lease NAME[0..LEN) (not NUL-terminated) of namespace W, or NULL. */
static struct item *find_item_locked(struct tracker *t, struct nswatch *w, const char *name, size_t len)
{
    if (t->by_name.nbuckets == 0)
        return NULL;
    for (struct item *it = *hash_bucket(&t->by_name, item_hash(w, name, len)); it != NULL; it = it->hnext)
        if (it->nsw == w && strlen(it->name) == len &&
            memcmp(it->name, name, len) == 0) /* NAME may hold NUL */
            return it;
    return NULL;
}

/* For the thread, which does not hold the lock. */
static struct item *find_item(struct tracker *t, struct nswatch *w, const char *name, size_t len)
{
    pthread_mutex_lock(&t->lock);
    struct item *it = find_item_locked(t, w, name, len);
    pthread_mutex_unlock(&t->lock);
    return it;
}

/* Doubles H when it is as full as it is long; HASH_OF gives an entry's hash, NEXT_OF its chain. */
static void hash_grow(struct hash *h, uint64_t (*hash_of)(void *), void **(*next_of)(void *))
{
    if (h->n < h->nbuckets)
        return;
    size_t nb = h->nbuckets ? h->nbuckets * 2 : 64;
    void **b = xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < h->nbuckets; i++)
        for (void *e = h->buckets[i], *next; e != NULL; e = next) {
            next = *next_of(e);
            size_t k = hash_of(e) & (nb - 1);
            *next_of(e) = b[k];
            b[k] = e;
        }
    free(h->buckets);
    h->buckets = b;
    h->nbuckets = nb;
}

static uint64_t ns_hash_of(void *e)
{
    return ns_hash(((struct nswatch *)e)->ns);
}

static void **ns_next_of(void *e)
{
    return (void **)&((struct nswatch *)e)->hnext;
}

static uint64_t item_hash_of(void *e)
{
    struct item *it = e;
    return item_hash(it->nsw, it->name, strlen(it->name));
}

static void **item_next_of(void *e)
{
    return (void **)&((struct item *)e)->hnext;
}

static struct nswatch *add_ns_locked(struct tracker *t, const char *ns)
{
    hash_grow(&t->by_ns, ns_hash_of, ns_next_of);
    struct nswatch *w = xcalloc(1, sizeof(*w));
    w->owner = OWNER_NS;
    w->t = t;
    w->ns = xstrdup(ns);
    kube_watch_decoder_init(&w->dec, MAX_EVENT);
    lf_buf_init(&w->list_body, MAX_EVENT);
    void **b = hash_bucket(&t->by_ns, ns_hash(ns));
    w->hnext = *b;
    *b = w;
    t->by_ns.n++;
    return w;
}

static void add_item_locked(struct tracker *t, struct item *it)
{
    hash_grow(&t->by_name, item_hash_of, item_next_of);
    void **b = hash_bucket(&t->by_name, item_hash_of(it));
    it->hnext = *b;
    *b = it;
    t->by_name.n++;
}

/* ---- snapshots ---- */

/* What a snapshot says: the item's watched state, or a record read afresh. */
struct snap_state {
    bool known, exists, watching, tracked;
    const struct lease_record *rec; /* when known && exists */
    const char *rv;                 /* when there is no record, or it has no resourceVersion */
    int64_t changed, contact, renew_mono;
};

static struct snap *snap_make(const struct item *it, const struct snap_state *st)
{
    const char *holder = "", *uid = "", *rv = st->rv ? st->rv : "";
    size_t holder_len = 0;
    bool have = st->known && st->exists;
    if (have) {
        holder = st->rec->holder;
        holder_len = st->rec->holder_len;
        uid = st->rec->uid;
        if (st->rec->resource_version[0] != '\0')
            rv = st->rec->resource_version;
    }
    /* The epoch is "<uid>/<transitions>": the uid, a slash, at most 10 digits. */
    size_t ln = strlen(it->nsw->ns) + 1, lm = strlen(it->name) + 1, lh = holder_len + 1, lu = strlen(uid) + 1,
           lr = strlen(rv) + 1, le = have ? lu + 11 : 1;
    struct snap *s = xcalloc(1, sizeof(*s) + ln + lm + lh + lu + lr + le);
    char *p = s->strings;
#define PUT(field, str, len)                                                                                 \
    do {                                                                                                     \
        memcpy(p, str, len);                                                                                 \
        s->pub.field = p;                                                                                    \
        p += len;                                                                                            \
    } while (0)
    PUT(ns, it->nsw->ns, ln);
    PUT(name, it->name, lm);
    PUT(holder, holder, lh);
    s->pub.holder_len = lh - 1;
    PUT(uid, uid, lu);
    PUT(resource_version, rv, lr);
    s->pub.epoch = p; /* the area is zeroed: "" unless the Lease exists */
    if (have)
        lease_epoch(st->rec, p, le);
#undef PUT
    s->pub.known = st->known;
    s->pub.exists = have;
    s->pub.watching = st->watching;
    s->pub.tracked = st->tracked;
    s->pub.holder_len = holder_len;
    if (have) {
        s->pub.lease_duration_s = st->rec->duration_s;
        s->pub.transitions = st->rec->transitions;
        s->pub.renew_time_us = st->rec->renew_us;
        s->pub.acquire_time_us = st->rec->acquire_us;
        s->pub.renew_mono_ns = st->renew_mono;
    }
    s->pub.changed_mono_ns = st->changed;
    s->pub.contact_mono_ns = st->contact;
    atomic_init(&s->refs, 1);
    return s;
}

/* The item's watched state; the tracker thread's (it reads the namespace's watch). */
static struct snap *snap_build(const struct item *it)
{
    struct snap_state st = {
        .known = it->known,
        .exists = it->exists,
        .watching = it->active && it->nsw->watching,
        .tracked = it->active,
        .rec = &it->rec,
        .rv = it->nsw->rv,
        .changed = it->changed,
        .contact = it->contact,
        .renew_mono = it->renew_mono,
    };
    return snap_make(it, &st);
}

static void snap_unref(struct snap *s)
{
    if (s == NULL || s == &invalid_snap)
        return;
    if (atomic_fetch_sub(&s->refs, 1) == 1)
        free(s);
}

static void publish(struct tracker *t, struct item *it, bool changed)
{
    struct snap *s = snap_build(it), *old;
    pthread_mutex_lock(&t->lock);
    old = it->cur;
    it->cur = s;
    if (changed)
        it->stats.changes++;
    pthread_mutex_unlock(&t->lock);
    snap_unref(old);
}

/* Publishes every tracked Lease of W with contact at CONTACT (0: left as it is). */
static void publish_ns(struct tracker *t, struct nswatch *w, int64_t contact)
{
    for (size_t i = 0; i < w->nitems; i++) {
        struct item *it = w->items[i];
        if (!it->active)
            continue;
        if (contact != 0)
            it->contact = contact;
        publish(t, it, false);
    }
}

/* ---- public API ---- */

static void wake(struct tracker *t)
{
    uint64_t one = 1;
    if (write(t->wakefd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is full, so the thread is awake anyway */
    }
}

struct tracker *tracker_new(struct kube_client *client)
{
    struct tracker *t = xcalloc(1, sizeof(*t));
    t->client = client;
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->stop, false);
    atomic_init(&t->rescan, false);
    t->epfd = t->wakefd = -1;
    t->watch_timeout_s = WATCH_TIMEOUT_S;
    t->watch_margin_s = WATCH_SILENCE_MARGIN_S;
    t->list_silence_s = LIST_SILENCE_S;
    t->list_max_s = LIST_MAX_S;
    t->refresh_timeout_ms = REFRESH_TIMEOUT_MS;
    t->rand_state = (unsigned)mono_ns() ^ (unsigned)(uintptr_t)t;
    return t;
}

static int find_locked(struct tracker *t, const char *ns, const char *name)
{
    struct nswatch *w = find_ns(t, ns);
    struct item *it = w != NULL ? find_item_locked(t, w, name, strlen(name)) : NULL;
    return it != NULL ? (int)it->idx : -1;
}

int tracker_find(struct tracker *t, const char *ns, const char *name)
{
    pthread_mutex_lock(&t->lock);
    int r = find_locked(t, ns, name);
    pthread_mutex_unlock(&t->lock);
    return r;
}

int tracker_track(struct tracker *t, const char *ns, const char *name, char *err, size_t errlen)
{
    if (lf_name_check_lease(ns, strlen(ns), name, strlen(name), err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&t->lock);
    int r = find_locked(t, ns, name);
    if (r < 0) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            t->items = xrealloc(t->items, cap * sizeof(*t->items));
            t->cap = cap;
        }
        struct nswatch *w = find_ns(t, ns);
        struct item *it = xcalloc(1, sizeof(*it));
        it->owner = OWNER_ITEM;
        it->nsw = w != NULL ? w : add_ns_locked(t, ns);
        it->name = xstrdup(name);
        lf_buf_init(&it->get_body, MAX_EVENT);
        it->idx = t->n;
        /* Inactive until the thread takes it (follow_wanted); its first snapshot says tracked already. */
        struct snap_state st = {.tracked = true};
        it->cur = snap_make(it, &st);
        add_item_locked(t, it);
        r = (int)t->n;
        t->items[t->n++] = it;
    }
    atomic_store(&t->items[r]->wanted, true);
    /* Under the lock: tracker_stop clears running under it before it closes wakefd. */
    if (t->running) {
        atomic_store(&t->rescan, true);
        wake(t);
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

void tracker_untrack(struct tracker *t, size_t idx)
{
    pthread_mutex_lock(&t->lock);
    if (idx < t->n) {
        atomic_store(&t->items[idx]->wanted, false);
        if (t->running) {
            atomic_store(&t->rescan, true);
            wake(t);
        }
    }
    pthread_mutex_unlock(&t->lock);
}

void tracker_set_refresh_timeout(struct tracker *t, long ms)
{
    t->refresh_timeout_ms = ms > 0 ? ms : REFRESH_TIMEOUT_MS;
}

/* Answers RF: with a new reference to S (NULL: the read failed, with CODE and the message FMT). */
static void refresh_answer(struct tracker_refresh *rf, struct snap *s, int code, bool timed_out, int64_t sent,
                           const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void refresh_answer(struct tracker_refresh *rf, struct snap *s, int code, bool timed_out, int64_t sent,
                           const char *fmt, ...)
{
    va_list ap;
    rf->err[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(rf->err, sizeof(rf->err), fmt, ap);
        va_end(ap);
    }
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    rf->snap = s != NULL ? &s->pub : NULL;
    rf->code = code;
    rf->timed_out = timed_out;
    rf->sent_mono_ns = sent;
    rf->done(rf); /* RF is the caller's again */
}

void tracker_refresh(struct tracker *t, size_t idx, struct tracker_refresh *rf)
{
    rf->idx = idx;
    pthread_mutex_lock(&t->lock);
    bool open = t->refresh_open && idx < t->n;
    if (open) {
        bool was_empty = t->asked == NULL;
        rf->next = t->asked;
        t->asked = rf;
        if (was_empty) /* otherwise the thread has been woken for the first one and takes them all */
            wake(t);
    }
    pthread_mutex_unlock(&t->lock);
    if (!open)
        refresh_answer(rf, NULL, 0, false, 0, "%s",
                       idx < tracker_count(t) ? "the tracker is not running" : "unknown lease");
}

void tracker_set_watch_timeout(struct tracker *t, int seconds, int margin_s)
{
    t->watch_timeout_s = seconds > 0 ? seconds : WATCH_TIMEOUT_S;
    t->watch_margin_s = margin_s > 0 ? margin_s : WATCH_SILENCE_MARGIN_S;
}

void tracker_set_list_timeouts(struct tracker *t, int silence_s, int max_s)
{
    t->list_silence_s = silence_s > 0 ? silence_s : LIST_SILENCE_S;
    t->list_max_s = max_s > 0 ? max_s : LIST_MAX_S;
}

size_t tracker_count(struct tracker *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

const struct lease_snapshot *tracker_acquire(struct tracker *t, size_t idx)
{
    struct snap *s = (struct snap *)&invalid_snap;
    pthread_mutex_lock(&t->lock);
    if (idx < t->n) {
        s = t->items[idx]->cur;
        atomic_fetch_add(&s->refs, 1);
    }
    pthread_mutex_unlock(&t->lock);
    return &s->pub;
}

void tracker_release(struct tracker *t, const struct lease_snapshot *s)
{
    (void)t;
    if (s != NULL)
        snap_unref((struct snap *)(uintptr_t)s);
}

bool tracker_all_synced(struct tracker *t)
{
    bool all = true;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n && all; i++)
        all = t->items[i]->cur->pub.known || !atomic_load(&t->items[i]->wanted);
    pthread_mutex_unlock(&t->lock);
    return all;
}

void tracker_stats(struct tracker *t, size_t idx, struct tracker_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&t->lock);
    if (idx < t->n) {
        *out = t->items[idx]->stats;
        out->relists = t->items[idx]->nsw->relists;
        out->watch_restarts = t->items[idx]->nsw->watch_restarts;
    }
    pthread_mutex_unlock(&t->lock);
}

/* ---- the thread ---- */

static unsigned next_rand(struct tracker *t)
{
    t->rand_state = t->rand_state * 1103515245u + 12345u;
    return t->rand_state >> 8;
}

static void schedule_retry(struct tracker *t, struct nswatch *w, int64_t now)
{
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (w->backoff_ms > BACKOFF_MAX_MS)
        w->backoff_ms = BACKOFF_MAX_MS;
    /* Jitter: anywhere in [backoff/2, backoff*3/2) so that many watches do not reconnect in step. */
    int64_t ms = w->backoff_ms / 2 + (int64_t)(next_rand(t) % (unsigned)(w->backoff_ms + 1));
    w->next_at = now + ms * 1000000LL;
}

static void set_rv_n(struct nswatch *w, const char *rv, size_t len)
{
    if (rv == NULL || len == 0)
        return;
    free(w->rv);
    w->rv = xmalloc(len + 1);
    memcpy(w->rv, rv, len);
    w->rv[len] = '\0';
}

static void set_rv(struct nswatch *w, const char *rv)
{
    set_rv_n(w, rv, rv != NULL ? strlen(rv) : 0);
}

/*
 * renewTime (unix microseconds) on the monotonic clock at mono NOW: as long before NOW as the wall clock
 * says it is before the wall-clock now.  0 when absent; a result of exactly 0 is moved by a nanosecond so
 * that 0 keeps meaning absent.  The difference is clamped to +-146 years so that nothing overflows.
 */
static int64_t renew_on_mono(int64_t renew_us, int64_t now)
{
    if (renew_us == 0)
        return 0;
    const int64_t max_us = 4600000000000000LL;
    int64_t ago_us = lf_clock_real_us() - renew_us;
    if (ago_us > max_us)
        ago_us = max_us;
    else if (ago_us < -max_us)
        ago_us = -max_us;
    int64_t r = now - ago_us * 1000;
    return r != 0 ? r : -1;
}

/* Publishes the Lease as unknown at NOW (what was known of it no longer holds), logging WHY once. */
static void forget(struct tracker *t, struct item *it, const char *msg, const char *why, int64_t now)
{
    char lease[600];
    snprintf(lease, sizeof(lease), "%s/%s", it->nsw->ns, it->name);
    log_event(LOGL_ERROR, msg, "lease", lease, "error", why, NULL);
    if (it->known && it->exists)
        lease_record_release(&it->rec);
    bool changed = it->known;
    it->known = false;
    it->exists = false;
    if (changed)
        it->changed = now;
    publish(t, it, changed);
}

/* Every tracked Lease of W is unknown: what came cannot be told apart by Lease. */
static void forget_ns(struct tracker *t, struct nswatch *w, const char *msg, const char *why, int64_t now)
{
    for (size_t i = 0; i < w->nitems; i++)
        if (w->items[i]->active) {
            w->items[i]->contact = now;
            forget(t, w->items[i], msg, why, now);
        }
}

/* True when the item's state holds REC: the same election record of the same Lease. */
static bool holds_record(const struct item *it, const struct lease_record *rec)
{
    return it->known && it->exists && lease_record_same(rec, &it->rec) && strcmp(rec->uid, it->rec.uid) == 0;
}

/* Applies one observed record (NULL: the Lease does not exist; taken over) at NOW; publishes. */
static void observe_record(struct tracker *t, struct item *it, struct lease_record *rec, int64_t now)
{
    bool changed = false;
    if (rec == NULL) {
        changed = !it->known || it->exists;
        if (it->known && it->exists)
            lease_record_release(&it->rec);
        it->exists = false;
        it->known = true;
    } else {
        changed = !holds_record(it, rec);
        if (it->known && it->exists)
            lease_record_release(&it->rec);
        it->rec = *rec;
        it->known = true;
        it->exists = true;
    }
    if (changed) {
        it->changed = now;
        it->renew_mono = it->exists ? renew_on_mono(it->rec.renew_us, now) : 0;
    }
    it->contact = now;
    publish(t, it, changed);
}

/* Applies one observed object (NULL: the Lease does not exist) at NOW; publishes. */
static void observe(struct tracker *t, struct item *it, json_t *obj, int64_t now)
{
    struct lease_record rec;
    char err[256];
    if (obj != NULL && lease_parse(obj, &rec, err, sizeof(err)) != 0) {
        it->contact = now;
        forget(t, it, "malformed lease, treated as unknown", err, now);
        return;
    }
    observe_record(t, it, obj != NULL ? &rec : NULL, now);
}

/* A resourceVersion as a number, for ordering; 0 when it is not one (kube-apiserver's are etcd revisions). */
static uint64_t rv_number(const char *rv)
{
    uint64_t v = 0;
    if (rv == NULL || *rv < '1' || *rv > '9')
        return 0;
    for (; *rv >= '0' && *rv <= '9'; rv++) {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*rv - '0');
    }
    return *rv == '\0' ? v : 0;
}

static bool is_change(const char *type)
{
    return strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0 || strcmp(type, "DELETED") == 0;
}

/* The tracked Lease OBJECT is (by metadata.name, compared whole: it may hold NUL), or NULL. */
static struct item *tracked_item(struct tracker *t, struct nswatch *w, json_t *object)
{
    json_t *name = json_object_get(json_object_get(object, "metadata"), "name");
    if (!json_is_string(name))
        return NULL;
    struct item *it = find_item(t, w, json_string_value(name), json_string_length(name));
    return it != NULL && it->active ? it : NULL;
}

/* An ADDED, MODIFIED or DELETED event of the Lease IT, at resourceVersion RV. */
static void watch_change(struct tracker *t, struct item *it, const char *type, json_t *object, uint64_t n,
                         int64_t now)
{
    if (n != 0 && n <= it->state_rv) {
        /* A fresh read already gave a state at least this new (tracker_refresh): not back to this one. */
        it->contact = now;
        publish(t, it, false);
        return;
    }
    it->state_rv = n;
    observe(t, it, strcmp(type, "DELETED") == 0 ? NULL : object, now);
}

static int watch_event(void *ctx, const char *type, json_t *object)
{
    struct nswatch *w = ctx;
    struct tracker *t = w->t;
    int64_t now = mono_ns();
    const char *rv =
        json_string_value(json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
    uint64_t n = rv_number(rv);
    w->peeked = NULL; /* the line decoded: an error from here on is not that Lease's */
    if (is_change(type)) {
        set_rv(w, rv);
        struct item *it = tracked_item(t, w, object);
        if (it != NULL) /* else a Lease nobody tracks that the peek could not name (an escape in it) */
            watch_change(t, it, type, object, n, now);
    } else if (strcmp(type, "BOOKMARK") == 0) {
        set_rv(w, rv);
        for (size_t i = 0; i < w->nitems; i++)
            if (w->items[i]->active && n > w->items[i]->state_rv)
                w->items[i]->state_rv = n;
        publish_ns(t, w, now);
    } else if (strcmp(type, "ERROR") == 0) {
        json_int_t code = json_integer_value(json_object_get(object, "code"));
        if (code == 410) {
            w->watch_gone = true;
            log_event(LOGL_INFO, "watch expired (410 Gone), relisting", "namespace", w->ns, NULL);
        } else {
            w->watch_bad = true;
            char e[512];
            kube_status_error((int)code, object, e, sizeof(e));
            log_event(LOGL_WARN, "watch error event", "namespace", w->ns, "error", e, NULL);
        }
        return 1; /* stop the stream */
    }
    return 0;
}

/*
 * The decoder's first look at each line: a change of a Lease nobody tracks is dropped here, its
 * resourceVersion kept, without a parse.  A tracked Lease's line is remembered in w->peeked, so that if it
 * then cannot be decoded only that Lease is forgotten.
 */
static bool watch_skip(void *ctx, const char *line, size_t len)
{
    struct nswatch *w = ctx;
    struct peek_event e;
    w->peeked = NULL;
    if (!peek_watch_event(line, len, &e))
        return false;
    struct item *it = find_item(w->t, w, e.name.p, e.name.len);
    if (it != NULL && it->active) {
        w->peeked = it;
        return false;
    }
    if (!peek_is(e.type, "ADDED", 5) && !peek_is(e.type, "MODIFIED", 8) && !peek_is(e.type, "DELETED", 7))
        return false;
    if (e.rv.p != NULL && e.rv.len < 64)
        set_rv_n(w, e.rv.p, e.rv.len);
    return true;
}

static void reset_decoder(struct nswatch *w)
{
    kube_watch_decoder_release(&w->dec);
    kube_watch_decoder_init(&w->dec, MAX_EVENT);
    w->dec.skip = watch_skip;
    w->peeked = NULL;
}

static size_t watch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct nswatch *w = userdata;
    char err[256];
    size_t n = size * nmemb;
    w->last_rx = mono_ns();
    if (!w->watch_ok)
        return n; /* the Status body of a refused watch; finish_watch reports the code */
    if (kube_watch_feed(&w->dec, ptr, n, watch_event, w, err, sizeof(err)) != 0) {
        if (!w->watch_gone && !w->watch_bad) {
            /* Not an ERROR event: an event that cannot be decoded.  Its Lease changed into something we
             * cannot read, so what we knew of it no longer holds: unknown until a list decodes.  When the
             * line does not even say which Lease, any of them may be the one. */
            w->watch_bad = true;
            const char *msg = "watch event cannot be decoded, lease treated as unknown";
            if (w->peeked != NULL)
                forget(w->t, w->peeked, msg, err, mono_ns());
            else
                forget_ns(w->t, w, msg, err, mono_ns());
        }
        return 0;
    }
    /* An event split across writes (likely with curl's 2 KiB buffer) left a line buffer of 4 KiB or
     * more behind: free it rather than keep one per watched namespace between events. */
    if (w->dec.len == 0 && !w->dec.discarding && w->dec.buf != NULL)
        reset_decoder(w);
    return n;
}

static size_t watch_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct nswatch *w = userdata;
    struct tracker *t = w->t;
    size_t n = size * nitems;
    w->last_rx = mono_ns();
    if (n <= 2 && (n == 0 || buf[0] == '\r' || buf[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200 && !t->h1_only) {
            long v = 0;
            curl_easy_getinfo(w->easy, CURLINFO_HTTP_VERSION, &v);
            if (v != CURL_HTTP_VERSION_2_0) {
                /* No multiplexing: every watch needs its own connection, so lift the cap. */
                t->h1_only = true;
                t->h1_requeue = true;
                curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
                log_event(LOGL_WARN,
                          "the API server does not speak HTTP/2: one connection per watched namespace", NULL);
            }
        }
        if (code == 200 && !w->watching) {
            w->watch_ok = true;
            w->watching = true;
            publish_ns(t, w, mono_ns());
        }
    }
    return n;
}

static void headers_put(struct shared_headers *h)
{
    if (h != NULL && --h->refs == 0) {
        kube_headers_free(h->list);
        free(h);
    }
}

/* A reference to the header list of a new request: the current one unless the token changed. */
static struct shared_headers *headers_get(struct tracker *t)
{
    struct curl_slist *fresh = kube_headers(t->client, "GET");
    if (t->hdrs != NULL && kube_headers_equal(t->hdrs->list, fresh)) {
        kube_headers_free(fresh);
    } else {
        headers_put(t->hdrs); /* requests under way keep the old list alive */
        t->hdrs = xcalloc(1, sizeof(*t->hdrs));
        t->hdrs->list = fresh;
        t->hdrs->refs = 1;
    }
    t->hdrs->refs++;
    return t->hdrs;
}

/* Keeps a tracked Lease's item of the list under way: OBJ (taken over), or NULL and WHY it cannot be read. */
static void list_keep(struct list_read *l, struct item *it, json_t *obj, const char *why, size_t len)
{
    if (l->nkept == l->kept_cap) {
        l->kept_cap = l->kept_cap ? l->kept_cap * 2 : 4;
        l->kept = xrealloc(l->kept, l->kept_cap * sizeof(*l->kept));
    }
    l->kept[l->nkept].it = it;
    l->kept[l->nkept].obj = obj;
    snprintf(l->kept[l->nkept].why, sizeof(l->kept[l->nkept].why), "%s", why != NULL ? why : "");
    l->nkept++;
    l->kept_bytes += len;
}

/*
 * The scanner's look at each item of W's list (listscan_item_fn), as the list streams in.  As with a watch
 * event, an item of a Lease nobody tracks, named by a peek, is dropped undecoded; a tracked Lease's is
 * decoded and kept until the list is complete, under the name it decodes with.  An item too long to keep
 * (anyone who may write a Lease can make one) is kept as such when its start names a tracked Lease (which
 * is then unknown), dropped when it names another; when its start does not say (its name is not in it, or
 * escaped), the list cannot be used.  An item whose name is escaped is decoded to be told apart.
 */
static int list_item(void *ctx, const char *p, size_t len, bool truncated, char *err, size_t errlen)
{
    struct nswatch *w = ctx;
    struct peek_event e;
    struct item *peeked = NULL;
    char why[sizeof(((struct listed *)0)->why)];
    if (peek_object(p, len, &e)) {
        peeked = find_item(w->t, w, e.name.p, e.name.len);
        if (peeked == NULL || !peeked->active)
            return 0;
        if (truncated) {
            snprintf(why, sizeof(why), "list item longer than %u bytes", MAX_EVENT);
            list_keep(w->list, peeked, NULL, why, 0);
            return 0;
        }
    } else if (truncated) {
        snprintf(err, errlen, "list item longer than %u bytes", MAX_EVENT);
        return -1;
    }
    json_error_t je;
    json_t *obj = json_loadb(p, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    if (obj == NULL && peeked != NULL) { /* only that Lease cannot be read (jansson refuses a key with NUL) */
        snprintf(why, sizeof(why), "list item is not JSON: %.100s", je.text);
        list_keep(w->list, peeked, NULL, why, 0);
        return 0;
    }
    if (obj == NULL) {
        snprintf(err, errlen, "list is not JSON: %s", je.text);
        return -1;
    }
    struct item *it = tracked_item(w->t, w, obj);
    if (it == NULL) /* a Lease nobody tracks under an escaped name, or not a Lease at all */
        json_decref(obj);
    else
        list_keep(w->list, it, obj, NULL, len);
    return 0;
}

/* CURLOPT_WRITEFUNCTION of a list: a 200's body goes through the scanner, any other's is kept (a Status). */
static size_t list_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct nswatch *w = userdata;
    struct list_read *l = w->list;
    size_t n = size * nmemb;
    long code = 0;
    w->last_rx = mono_ns();
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        lf_buf_append(&w->list_body, ptr, n); /* past the cap, the rest is dropped: the code still tells */
        return n;
    }
    if (listscan_feed(&l->scan, ptr, n, l->err, sizeof(l->err)) != 0) {
        l->bad = true;
        return 0; /* curl ends the transfer: finish_list reports l->err */
    }
    return n;
}

/* Frees a list's reading state; what it held counts towards the next heap trim. */
static void list_read_free(struct tracker *t, struct list_read *l)
{
    if (l == NULL)
        return;
    t->freed += listscan_held(&l->scan) + l->kept_bytes;
    listscan_release(&l->scan);
    for (size_t i = 0; i < l->nkept; i++)
        json_decref(l->kept[i].obj);
    free(l->kept);
    free(l);
}

static void start_list(struct tracker *t, struct nswatch *w)
{
    char *path = kube_lease_path(w->ns, NULL, NULL);
    w->hdrs = headers_get(t);
    /* No size cap, so no short bound on the whole: a list is given up when it goes silent (the sweep). */
    w->easy = kube_easy_new(t->client, "GET", path, (long)t->list_max_s * 1000, w->hdrs->list);
    w->last_rx = mono_ns();
    free(path);
    lf_buf_reset(&w->list_body);
    for (size_t i = 0; i < w->nitems; i++)
        w->items[i]->late = false;
    w->list = xcalloc(1, sizeof(*w->list));
    listscan_init(&w->list->scan, MAX_EVENT, list_item, w);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, list_write);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    w->phase = LISTING;
    t->listing++;
}

static void start_watch(struct tracker *t, struct nswatch *w)
{
    char q[400];
    long ts = t->watch_timeout_s + (long)(next_rand(t) % (unsigned)(t->watch_timeout_s / 2 + 1));
    char *rv = curl_easy_escape(NULL, w->rv, 0);
    snprintf(q, sizeof(q), "watch=1&allowWatchBookmarks=true&timeoutSeconds=%ld&resourceVersion=%s", ts,
             rv ? rv : "");
    curl_free(rv);
    char *path = kube_lease_path(w->ns, NULL, q);
    /* No timeout and no low-speed limit: curl would re-arm a one-second timer per watch for it.  The
     * server ends the watch after ts and sends a bookmark before that, so the sweep abandons a watch
     * silent for longer. */
    w->hdrs = headers_get(t);
    w->easy = kube_easy_new(t->client, "GET", path, 0, w->hdrs->list);
    free(path);
    w->silence_ns = (ts + t->watch_margin_s) * 1000000000LL;
    /* curl keeps a connect timer per transfer even when it multiplexes on a connection that is up:
     * one wakeup per watch, seconds after it started.  The sweep covers the connect phase too.  (Over
     * HTTP/1.1 each watch connects anew: keep the short connect timeout there.) */
    if (!t->h1_only)
        curl_easy_setopt(w->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(w->silence_ns / 1000000));
    w->last_rx = mono_ns();
    reset_decoder(w);
    w->watch_ok = w->watch_gone = w->watch_bad = w->watch_silent = false;
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, watch_write);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(w->easy, CURLOPT_HEADERFUNCTION, watch_header);
    curl_easy_setopt(w->easy, CURLOPT_HEADERDATA, w);
    w->phase = WATCHING;
    w->watches++;
    if (w->watches > 1) {
        pthread_mutex_lock(&t->lock);
        w->watch_restarts++;
        pthread_mutex_unlock(&t->lock);
    }
}

static void start_request(struct tracker *t, struct nswatch *w)
{
    if (w->rv == NULL)
        start_list(t, w);
    else
        start_watch(t, w);
    w->started = mono_ns();
    /* curl's receive buffer, per transfer for its whole life: 16 KiB by default, 16 MB for 1,000 watches.
     * A Lease event is about 1 KB; a larger one is passed on in pieces. */
    curl_easy_setopt(w->easy, CURLOPT_BUFFERSIZE, RECV_BUFFER);
    /* Over HTTP/2, wait for the connection being set up rather than open one per request; over HTTP/1.1
     * there is nothing to wait for. */
    curl_easy_setopt(w->easy, CURLOPT_PIPEWAIT, t->h1_only ? 0L : 1L);
    curl_easy_setopt(w->easy, CURLOPT_PRIVATE, w);
    curl_multi_add_handle(t->multi, w->easy);
}

static void end_request(struct tracker *t, struct nswatch *w)
{
    if (w->easy != NULL) {
        curl_multi_remove_handle(t->multi, w->easy);
        curl_easy_cleanup(w->easy);
        w->easy = NULL;
    }
    headers_put(w->hdrs);
    w->hdrs = NULL;
    if (w->phase == LISTING) {
        t->listing--;
        list_read_free(t, w->list);
        w->list = NULL;
        /* A Status body may have been large: do not keep that much per namespace between lists. */
        t->freed += w->list_body.cap;
        lf_buf_release(&w->list_body);
    }
    w->phase = IDLE;
}

/* Ends W's list or watch at NOW; its Leases are no longer watched (contact: the end, or the last byte of a
 * watch abandoned as silent). */
static void stop_ns(struct tracker *t, struct nswatch *w, int64_t now)
{
    if (w->phase != IDLE)
        end_request(t, w);
    if (w->watching) {
        w->watching = false;
        publish_ns(t, w, w->watch_silent ? w->last_rx : now);
    }
}

/*
 * Applies one listed object (NULL: not in the list) of Lease IT, from a list at revision N; with WHY, the
 * Lease's item could not be read (it is unknown).
 */
static void apply_listed(struct tracker *t, struct nswatch *w, struct item *it, json_t *obj, const char *why,
                         uint64_t n, int64_t now)
{
    if (n != 0 && n < it->state_rv && w->started < it->fresh_applied) {
        /* Older than a fresh read that was answered after this list was sent: keep that.  (A list sent
         * later is the truth, even below state_rv: an API server with another history.) */
        it->contact = now;
        publish(t, it, false);
        return;
    }
    it->state_rv = n;
    if (why != NULL) {
        it->contact = now;
        forget(t, it, "malformed lease, treated as unknown", why, now);
        return;
    }
    observe(t, it, obj, now);
}

/*
 * A list that decoded, of which L kept the tracked Leases' items: every Lease of W tracked before the list
 * started is in it or does not exist.  One tracked while it came (late) is known if its item came after
 * that; if not, the stream may have passed it, so it stays unknown: returns true, and W is listed again.
 */
static bool apply_list(struct tracker *t, struct nswatch *w, const struct list_read *l, uint64_t n,
                       int64_t now)
{
    bool again = false;
    for (size_t i = 0; i < w->nitems; i++)
        w->items[i]->listed = false;
    for (size_t i = 0; i < l->nkept; i++) {
        struct item *it = l->kept[i].it;
        if (it->active) { /* (untracked while the list came) */
            apply_listed(t, w, it, l->kept[i].obj, l->kept[i].obj != NULL ? NULL : l->kept[i].why, n, now);
            it->listed = true;
        }
    }
    for (size_t i = 0; i < w->nitems; i++) {
        struct item *it = w->items[i];
        if (it->active && !it->listed && it->late)
            again = true;
        else if (it->active && !it->listed)
            apply_listed(t, w, it, NULL, NULL, n, now);
        it->late = false;
    }
    return again;
}

static void finish_list(struct tracker *t, struct nswatch *w, CURLcode cc, int64_t now)
{
    char err[512];
    long code = 0;
    struct list_read *l = w->list;
    w->list = NULL; /* this function's now, not end_request's */
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
    kube_client_count(t->client, cc == CURLE_OK || l->bad ? (int)code : 0); /* (bad: a 200 we ended) */
    json_t *status = code != 200 && cc == CURLE_OK && w->list_body.len > 0
                         ? json_loadb(w->list_body.data, w->list_body.len, JSON_ALLOW_NUL, NULL)
                         : NULL;
    end_request(t, w);
    if ((cc != CURLE_OK && !l->bad) || (cc == CURLE_OK && code != 200)) {
        if (cc == CURLE_OPERATION_TIMEDOUT)
            snprintf(err, sizeof(err), "%s (nothing came for %d s, or not complete after %d s)",
                     curl_easy_strerror(cc), t->list_silence_s, t->list_max_s);
        else if (cc != CURLE_OK)
            snprintf(err, sizeof(err), "%s", curl_easy_strerror(cc));
        else
            kube_status_error((int)code, status, err, sizeof(err));
        log_event(LOGL_WARN, "cannot list leases", "namespace", w->ns, "error", err, NULL);
        json_decref(status);
        list_read_free(t, l);
        schedule_retry(t, w, now);
        return;
    }
    /* The server answered, but with nothing we can decode: unknown at once, not only once contact is stale.
     */
    json_t *meta = NULL;
    const char *rv = NULL;
    if (l->bad) {
        snprintf(err, sizeof(err), "%s", l->err);
    } else if (listscan_end(&l->scan, err, sizeof(err)) == 0) {
        json_error_t je;
        meta = json_loadb(l->scan.meta, l->scan.meta_len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
        rv = json_string_value(json_object_get(meta, "resourceVersion"));
        if (meta == NULL)
            snprintf(err, sizeof(err), "list is not JSON: %s", je.text);
        else if (rv == NULL || rv[0] == '\0')
            snprintf(err, sizeof(err), "list without items or resourceVersion");
    }
    if (rv == NULL || rv[0] == '\0') {
        forget_ns(t, w, "cannot decode the lease list, lease treated as unknown", err, now);
        json_decref(meta);
        list_read_free(t, l);
        schedule_retry(t, w, now);
        return;
    }
    set_rv(w, rv);
    w->lists++;
    if (w->lists > 1) {
        pthread_mutex_lock(&t->lock);
        w->relists++;
        pthread_mutex_unlock(&t->lock);
    }
    bool again = apply_list(t, w, l, rv_number(rv), now);
    json_decref(meta);
    list_read_free(t, l);
    w->backoff_ms = 0;
    w->next_at = now; /* watch right away */
    if (again) {      /* or list again first, for the Leases tracked while this list came */
        free(w->rv);
        w->rv = NULL;
    }
}

static void finish_watch(struct tracker *t, struct nswatch *w, CURLcode cc, int64_t now)
{
    long code = 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
    kube_client_count(t->client, code > 0 ? (int)code : 0);
    bool was_ok = w->watch_ok;
    /* The stream vouched for the state until it ended or failed, unless it had gone silent: then
     * nothing has been heard since the last bytes. */
    stop_ns(t, w, now);
    if (w->watch_gone || code == 410) {
        free(w->rv);
        w->rv = NULL; /* relist, at once unless the server keeps answering 410 as soon as we watch */
        if (now - w->started < MIN_WATCH_NS)
            schedule_retry(t, w, now);
        else
            w->next_at = now;
        return;
    }
    if (cc == CURLE_OK && was_ok && !w->watch_bad && now - w->started >= MIN_WATCH_NS) {
        w->backoff_ms = 0;
        w->next_at = now; /* the server ended the watch (timeoutSeconds): resume from rv */
        return;
    }
    if (cc == CURLE_OK && was_ok && !w->watch_bad) {
        /* Like client-go's reflector on a "very short watch": a server that ends every watch at once
         * must not have us reconnect in a busy loop. */
        log_event(LOGL_WARN, "watch ended at once, retrying with backoff", "namespace", w->ns, NULL);
        schedule_retry(t, w, now);
        return;
    }
    if (code != 0 && code != 200) {
        char err[64];
        snprintf(err, sizeof(err), "watch answered %ld", code);
        log_event(LOGL_WARN, "cannot watch leases", "namespace", w->ns, "error", err, NULL);
    } else if (cc != CURLE_OK && !w->watch_bad && !w->watch_silent) {
        log_event(LOGL_WARN, "watch connection lost", "namespace", w->ns, "error", curl_easy_strerror(cc),
                  NULL);
    }
    /* After a failed watch, list again instead of resuming from rv: the API server may be a new one
     * with another history, where rv means nothing (the Lease may have changed below it). */
    free(w->rv);
    w->rv = NULL;
    schedule_retry(t, w, now);
}

/* ---- fresh reads (tracker_refresh) ---- */

static void take_new_items(struct tracker *t);

/* Starts the GET that answers it->answering. */
static void start_get(struct tracker *t, struct item *it)
{
    char *path = kube_lease_path(it->nsw->ns, it->name, NULL);
    it->get_hdrs = headers_get(t);
    it->get = kube_easy_new(t->client, "GET", path, t->refresh_timeout_ms, it->get_hdrs->list);
    free(path);
    lf_buf_reset(&it->get_body);
    curl_easy_setopt(it->get, CURLOPT_WRITEFUNCTION, lf_buf_curl_write);
    curl_easy_setopt(it->get, CURLOPT_WRITEDATA, &it->get_body);
    curl_easy_setopt(it->get, CURLOPT_BUFFERSIZE, RECV_BUFFER);
    curl_easy_setopt(it->get, CURLOPT_PIPEWAIT, t->h1_only ? 0L : 1L);
    curl_easy_setopt(it->get, CURLOPT_PRIVATE, it);
    it->get_sent = mono_ns();
    curl_multi_add_handle(t->multi, it->get);
}

static void end_get(struct tracker *t, struct item *it)
{
    if (it->get != NULL) {
        curl_multi_remove_handle(t->multi, it->get);
        curl_easy_cleanup(it->get);
        it->get = NULL;
    }
    headers_put(it->get_hdrs);
    it->get_hdrs = NULL;
    lf_buf_release(&it->get_body); /* up to 2 MiB: not kept per Lease between reads */
}

/* Answers every refresh of LIST with S (a reference is added for each) or the failure CODE/ERR; counts. */
static void answer_all(struct tracker *t, struct item *it, struct tracker_refresh *list, struct snap *s,
                       bool timed_out, int code, const char *err, int64_t sent)
{
    uint64_t n = 0;
    while (list != NULL) {
        struct tracker_refresh *next = list->next; /* LIST is its caller's once answered */
        refresh_answer(list, s, code, timed_out, sent, err != NULL ? "%s" : NULL, err);
        list = next;
        n++;
    }
    if (it != NULL) {
        pthread_mutex_lock(&t->lock);
        it->stats.fresh_refreshes += n;
        pthread_mutex_unlock(&t->lock);
    }
}

/*
 * What a GET that read REC (NULL: 404) at NOW means for the refreshes it answers, and for the watched state.
 * Returns a new reference.  REC is taken over.
 */
static struct snap *read_result(struct tracker *t, struct item *it, struct lease_record *rec, int64_t now)
{
    bool live = it->active && it->known;
    if (rec == NULL) {
        /* No revision comes with a 404, so it cannot be ordered against the watch: it decides, but only the
         * watch's DELETED event changes the watched state. */
        if (live && !it->exists) {
            it->contact = now;
            publish(t, it, false);
            return snap_build(it);
        }
        struct snap_state st = {.known = true,
                                .watching = it->active && it->nsw->watching,
                                .tracked = it->active,
                                .contact = now};
        return snap_make(it, &st);
    }
    uint64_t n = rv_number(rec->resource_version);
    if (live && holds_record(it, rec)) { /* what the watch has: its changed time stands */
        lease_record_release(rec);
        it->contact = now;
        publish(t, it, false);
        return snap_build(it);
    }
    if (live && n != 0 && n > it->state_rv) { /* newer than anything the watch delivered */
        it->state_rv = n;
        it->fresh_applied = now;
        observe_record(t, it, rec, now);
        pthread_mutex_lock(&t->lock);
        it->stats.fresh_applied++;
        pthread_mutex_unlock(&t->lock);
        return snap_build(it);
    }
    if (live && it->exists && n != 0 && strcmp(rec->uid, it->rec.uid) == 0 &&
        rv_number(it->rec.resource_version) > n) {
        lease_record_release(rec); /* the watch already has a later change of the same Lease */
        return snap_build(it);
    }
    /* Another Lease under the same name, or no order to go by: the record read decides, seen now. */
    struct snap_state st = {.known = true,
                            .exists = true,
                            .watching = it->active && it->nsw->watching,
                            .tracked = it->active,
                            .rec = rec,
                            .changed = now,
                            .contact = now,
                            .renew_mono = renew_on_mono(rec->renew_us, now)};
    struct snap *s = snap_make(it, &st);
    lease_record_release(rec);
    return s;
}

static void finish_get(struct tracker *t, struct item *it, CURLcode cc, int64_t now)
{
    char err[256] = "";
    long code = 0;
    struct snap *res = NULL;
    curl_easy_getinfo(it->get, CURLINFO_RESPONSE_CODE, &code);
    kube_client_count(t->client, cc == CURLE_OK ? (int)code : 0);
    json_error_t je;
    json_t *j = cc == CURLE_OK && it->get_body.len > 0
                    ? json_loadb(it->get_body.data, it->get_body.len, JSON_ALLOW_NUL, &je)
                    : NULL;
    int64_t sent = it->get_sent;
    bool overflow = it->get_body.overflow, empty = it->get_body.len == 0; /* (end_get releases the body) */
    end_get(t, it);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, sizeof(err), "no answer within %ld ms", t->refresh_timeout_ms);
    } else if (overflow) {
        snprintf(err, sizeof(err), "response larger than %u bytes", MAX_EVENT);
    } else if (cc != CURLE_OK) {
        snprintf(err, sizeof(err), "%s", curl_easy_strerror(cc));
    } else if (code == 404) {
        res = read_result(t, it, NULL, now);
    } else if (code != 200) {
        kube_status_error((int)code, j, err, sizeof(err));
    } else {
        struct lease_record rec;
        char perr[160];
        const char *name = json_string_value(json_object_get(json_object_get(j, "metadata"), "name"));
        if (j == NULL)
            snprintf(err, sizeof(err), "the lease read is not JSON: %s", !empty ? je.text : "empty body");
        else if (lease_parse(j, &rec, perr, sizeof(perr)) != 0)
            snprintf(err, sizeof(err), "the lease read cannot be decoded: %s", perr);
        else if (name != NULL && strcmp(name, it->name) == 0)
            res = read_result(t, it, &rec, now);
        else {
            snprintf(err, sizeof(err), "the API server answered with another object");
            lease_record_release(&rec);
        }
    }
    json_decref(j);
    if (res == NULL) {
        char lease[600];
        snprintf(lease, sizeof(lease), "%s/%s", it->nsw->ns, it->name);
        log_event(LOGL_WARN, "cannot read lease afresh", "lease", lease, "error", err, NULL);
    }
    pthread_mutex_lock(&t->lock);
    it->stats.fresh_reads[res != NULL]++;
    pthread_mutex_unlock(&t->lock);
    struct tracker_refresh *batch = it->answering;
    it->answering = NULL;
    answer_all(t, it, batch, res, cc == CURLE_OPERATION_TIMEDOUT, (int)code, res == NULL ? err : NULL, sent);
    snap_unref(res);
    if (it->queued != NULL) { /* asked for while this GET was in flight: a new GET, sent now, answers them */
        it->answering = it->queued;
        it->queued = NULL;
        start_get(t, it);
    }
}

/* Takes the refreshes asked for since the last call: each Lease's join the GET about to start, or, when one
 * is in flight, wait for the next. */
static void take_refreshes(struct tracker *t)
{
    pthread_mutex_lock(&t->lock);
    struct tracker_refresh *list = t->asked;
    t->asked = NULL;
    pthread_mutex_unlock(&t->lock);
    if (list == NULL)
        return;
    struct item *start = NULL;
    while (list != NULL) {
        struct tracker_refresh *rf = list;
        list = rf->next;
        if (rf->idx >= t->nmine)
            take_new_items(t); /* tracked since the thread last looked */
        struct item *it = t->mine[rf->idx];
        if (it->get != NULL) {
            rf->next = it->queued;
            it->queued = rf;
            continue;
        }
        if (it->answering == NULL) {
            it->start_next = start;
            start = it;
        }
        rf->next = it->answering;
        it->answering = rf;
    }
    for (struct item *it = start; it != NULL; it = it->start_next)
        start_get(t, it);
}

/* The tracker stops: every refresh not answered yet fails. */
static void fail_refreshes(struct tracker *t)
{
    pthread_mutex_lock(&t->lock);
    struct tracker_refresh *list = t->asked;
    t->asked = NULL;
    t->refresh_open = false;
    pthread_mutex_unlock(&t->lock);
    answer_all(t, NULL, list, NULL, false, 0, "the tracker stopped", 0);
    for (size_t i = 0; i < t->nmine; i++) {
        struct item *it = t->mine[i];
        end_get(t, it);
        answer_all(t, it, it->answering, NULL, false, 0, "the tracker stopped", 0);
        answer_all(t, it, it->queued, NULL, false, 0, "the tracker stopped", 0);
        it->answering = it->queued = NULL;
    }
}

/* Copies the Leases tracked since the last call into mine[] and their namespaces' item lists (items[] may
 * be reallocated by tracker_track, the items themselves never move). */
static void take_new_items(struct tracker *t)
{
    pthread_mutex_lock(&t->lock);
    size_t from = t->nmine;
    if (t->n > t->nmine) {
        t->mine = xrealloc(t->mine, t->n * sizeof(*t->mine));
        memcpy(t->mine + t->nmine, t->items + t->nmine, (t->n - t->nmine) * sizeof(*t->mine));
        t->nmine = t->n;
    }
    pthread_mutex_unlock(&t->lock);
    if (from == t->nmine)
        return;
    for (size_t i = from; i < t->nmine; i++) {
        struct nswatch *w = t->mine[i]->nsw;
        if (w->nitems == w->items_cap) {
            w->items_cap = w->items_cap ? w->items_cap * 2 : 4;
            w->items = xrealloc(w->items, w->items_cap * sizeof(*w->items));
        }
        w->items[w->nitems++] = t->mine[i];
        if (!w->in_mine) {
            if (t->nmine_ns == t->mine_ns_cap) {
                t->mine_ns_cap = t->mine_ns_cap ? t->mine_ns_cap * 2 : 16;
                t->mine_ns = xrealloc(t->mine_ns, t->mine_ns_cap * sizeof(*t->mine_ns));
            }
            t->mine_ns[t->nmine_ns++] = w;
            w->in_mine = true;
        }
    }
    /* Every namespace keeps a list or watch stream open, and the API server refuses more than
     * STREAMS_PER_CONNECTION on a connection: beyond 16 x 100 namespaces, more connections, or
     * curl would queue the extra watches and their Leases would never be seen. */
    size_t need = (t->nmine_ns + STREAMS_PER_CONNECTION - 1) / STREAMS_PER_CONNECTION;
    if (!t->h1_only && need > MAX_CONNECTIONS)
        curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)need);
}

/* Starts listing W afresh now (what happened meanwhile was not seen), ending its watch. */
static void relist_now(struct tracker *t, struct nswatch *w, int64_t now)
{
    stop_ns(t, w, now);
    free(w->rv);
    w->rv = NULL;
    w->next_at = now;
    w->backoff_ms = 0;
}

/*
 * Acts on tracker_track / tracker_untrack.  An untracked Lease is published as such; its namespace's watch
 * ends with the last tracked Lease in it.  A Lease tracked (again) is unknown until its namespace is listed:
 * at once, ending a watch; after the backoff of a list waiting for it; or, when a list is under way, by
 * that list if its item comes after this, else by the next one (a list streams in, and its items of Leases
 * not tracked as they came are dropped).  A list under way is never restarted: Leases tracked one after
 * another faster than a list takes would otherwise keep the namespace from ever being listed.
 */
static void follow_wanted(struct tracker *t, struct item *it, int64_t now)
{
    bool wanted = atomic_load(&it->wanted);
    struct nswatch *w = it->nsw;
    if (wanted == it->active)
        return;
    it->active = wanted;
    if (wanted) { /* the state kept from before may be long stale */
        if (it->known && it->exists)
            lease_record_release(&it->rec);
        it->known = false;
        it->exists = false;
        if (w->phase == LISTING)
            it->late = true;
        if (w->nactive++ == 0 || (w->rv != NULL && w->phase != LISTING)) /* (rv: the next request, a watch) */
            relist_now(t, w, now);
    } else if (--w->nactive == 0) {
        relist_now(t, w, now); /* nothing starts while no Lease of W is tracked */
    }
    it->state_rv = 0;
    it->fresh_applied = 0;
    publish(t, it, false);
}

/* Starts the requests that are due; sets next_scan to the earliest one that is not. */
static void scan(struct tracker *t, int64_t now)
{
    t->next_scan = NEVER;
    for (size_t i = 0; i < t->nmine_ns; i++) {
        struct nswatch *w = t->mine_ns[i];
        if (w->phase != IDLE || w->nactive == 0)
            continue;
        if (now >= w->next_at)
            start_request(t, w);
        else if (w->next_at < t->next_scan)
            t->next_scan = w->next_at;
    }
}

static void finish(struct tracker *t, struct nswatch *w, CURLcode cc, int64_t now)
{
    if (w->phase == LISTING)
        finish_list(t, w, cc, now);
    else
        finish_watch(t, w, cc, now);
    if (w->next_at < t->next_scan)
        t->next_scan = w->next_at;
}

/* Abandons the watches that have been silent for longer than their timeout plus the margin, and the lists
 * from which nothing came for the list silence. */
static void sweep(struct tracker *t, int64_t now)
{
    for (size_t i = 0; i < t->nmine_ns; i++) {
        struct nswatch *w = t->mine_ns[i];
        bool listing = w->phase == LISTING;
        int64_t limit = listing ? (int64_t)t->list_silence_s * 1000000000LL : w->silence_ns;
        if ((w->phase != WATCHING && !listing) || now - w->last_rx <= limit)
            continue;
        char secs[32];
        snprintf(secs, sizeof(secs), "%.1f", (double)(now - w->last_rx) / 1e9);
        log_event(LOGL_WARN, listing ? "list silent, listing again" : "watch silent, reconnecting",
                  "namespace", w->ns, "silent_s", secs, NULL);
        if (!listing)
            w->watch_silent = true;
        finish(t, w, CURLE_OPERATION_TIMEDOUT, now);
    }
}

static int64_t sweep_interval_ns(const struct tracker *t)
{
    int64_t ns = (int64_t)t->watch_margin_s * 1000000000LL / 2;
    int64_t list_ns = (int64_t)t->list_silence_s * 1000000000LL / 2;
    if (list_ns < ns)
        ns = list_ns;
    return ns < SWEEP_MAX_NS ? ns : SWEEP_MAX_NS;
}

/* Adds HANDLE again without PIPEWAIT when it has no answer yet (see requeue_unanswered). */
static void requeue(struct tracker *t, CURL *handle)
{
    long code = 0;
    if (handle == NULL)
        return;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    if (code != 0)
        return;
    curl_multi_remove_handle(t->multi, handle);
    curl_easy_setopt(handle, CURLOPT_PIPEWAIT, 0L);
    curl_multi_add_handle(t->multi, handle);
}

/*
 * Requests queued (PIPEWAIT) for the first connection to show whether it multiplexes wait, once it turns
 * out to be HTTP/1.1, until that connection is free again: a whole watch (30-45 s) during which their
 * Leases are not watched.  They are added again, without PIPEWAIT, so that curl connects for them now.
 */
static void requeue_unanswered(struct tracker *t)
{
    for (size_t i = 0; i < t->nmine_ns; i++)
        requeue(t, t->mine_ns[i]->phase != IDLE ? t->mine_ns[i]->easy : NULL);
    for (size_t i = 0; i < t->nmine; i++)
        requeue(t, t->mine[i]->get);
}

static void drain_messages(struct tracker *t)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *owner = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &owner);
        if (*(enum owner *)(void *)owner == OWNER_ITEM)
            finish_get(t, (struct item *)(void *)owner, msg->data.result, mono_ns());
        else
            finish(t, (struct nswatch *)(void *)owner, msg->data.result, mono_ns());
    }
}

/* CURLMOPT_SOCKETFUNCTION: keeps the interest set of epfd in step with what curl waits for. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct tracker *t = userp;
    (void)easy;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, s, NULL); /* may be closed already: then it is gone from the set */
        return 0;
    }
    struct epoll_event ev = {.data.fd = s};
    if (what & CURL_POLL_IN)
        ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT &&
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, s, &ev) != 0) {
        log_event(LOGL_ERROR, "cannot watch a socket", "error", strerror(errno), NULL);
        return -1;
    }
    return 0;
}

/* CURLMOPT_TIMERFUNCTION */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct tracker *t = userp;
    (void)multi;
    t->curl_timer = timeout_ms < 0 ? NEVER : mono_ns() + (int64_t)timeout_ms * 1000000LL;
    return 0;
}

/* Acts on what tracker_track and tracker_untrack asked for since the last call. */
static void take_wanted(struct tracker *t, int64_t now)
{
    take_new_items(t);
    for (size_t i = 0; i < t->nmine; i++)
        follow_wanted(t, t->mine[i], now);
}

/* Waits in epoll until a socket, the wakeup, curl's timer, a due request or the sweep; drives curl. */
static void wait_and_drive(struct tracker *t)
{
    struct epoll_event evs[64];
    int running = 0;
    int64_t until = t->next_sweep, now = mono_ns();
    if (t->next_scan < until)
        until = t->next_scan;
    if (t->curl_timer < until)
        until = t->curl_timer;
    /* Rounded up: waking a little early would only spin until the deadline. */
    int64_t ms = until <= now ? 0 : (until - now + 999999) / 1000000;
    int nev = epoll_wait(t->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), (int)ms);
    for (int i = 0; i < nev; i++) {
        if (evs[i].data.fd == t->wakefd) {
            uint64_t v;
            if (read(t->wakefd, &v, sizeof(v)) < 0) {
                /* EAGAIN: another wakeup consumed it */
            }
            continue;
        }
        int bits = 0;
        if (evs[i].events & EPOLLIN)
            bits |= CURL_CSELECT_IN;
        if (evs[i].events & EPOLLOUT)
            bits |= CURL_CSELECT_OUT;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            bits |= CURL_CSELECT_ERR;
        curl_multi_socket_action(t->multi, evs[i].data.fd, bits, &running);
    }
    if (t->curl_timer <= mono_ns()) {
        t->curl_timer = NEVER; /* curl sets the next one from within the call */
        curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

static void *tracker_main(void *arg)
{
    struct tracker *t = arg;
    t->curl_timer = NEVER;
    take_wanted(t, mono_ns());
    t->next_scan = 0;
    t->next_sweep = mono_ns() + sweep_interval_ns(t);
    while (!atomic_load(&t->stop)) {
        int64_t now = mono_ns();
        bool asked = atomic_exchange(&t->rescan, false);
        if (asked)
            take_wanted(t, now);
        if (asked || now >= t->next_scan)
            scan(t, now);
        if (now >= t->next_sweep) {
            sweep(t, now);
            t->next_sweep = now + sweep_interval_ns(t);
        }
        wait_and_drive(t);
        drain_messages(t);
        take_refreshes(t);
        if (t->h1_requeue) { /* not from within curl's callbacks: there no handle may be removed */
            t->h1_requeue = false;
            requeue_unanswered(t);
        }
        /* A thousand lists' buffers and decoded items, freed between the Leases' small long-lived
         * allocations, leave the heap fragmented: megabytes of free pages that malloc keeps.  Hand them back
         * once the lists are done (measured with 10,000 Leases: about 1 KB per Lease). */
        if (t->listing == 0 && t->freed > TRIM_AFTER) {
            malloc_trim(0);
            t->freed = 0;
        }
    }
    fail_refreshes(t);
    for (size_t i = 0; i < t->nmine_ns; i++)
        stop_ns(t, t->mine_ns[i], mono_ns());
    headers_put(t->hdrs);
    t->hdrs = NULL;
    return NULL;
}

static void close_fds(struct tracker *t)
{
    if (t->epfd >= 0)
        close(t->epfd);
    if (t->wakefd >= 0)
        close(t->wakefd);
    t->epfd = t->wakefd = -1;
}

int tracker_start(struct tracker *t, char *err, size_t errlen)
{
    if (t->running) {
        snprintf(err, errlen, "tracker already running");
        return -1;
    }
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = t->wakefd};
    if (t->epfd < 0 || t->wakefd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->wakefd, &ev) != 0) {
        snprintf(err, errlen, "cannot set up the tracker's event loop: %s", strerror(errno));
        close_fds(t);
        return -1;
    }
    t->multi = curl_multi_init();
    if (t->multi == NULL) {
        snprintf(err, errlen, "cannot create a curl multi handle");
        close_fds(t);
        return -1;
    }
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(t->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    /*
     * Over HTTP/2 all watches share a few connections.  Without a cap, a burst
     * of 1,000 new requests opens hundreds of connections before the first
     * one is known to multiplex (measured: 750-900 sockets; with the cap: 16).
     */
    curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_CONNECTIONS);
    atomic_store(&t->stop, false);
    /* Running before the thread starts: a Lease tracked from now on wakes it (through wakefd, which keeps
     * the wakeup until the thread reads it), so none can be missed. */
    pthread_mutex_lock(&t->lock);
    t->running = true;
    t->refresh_open = true;
    pthread_mutex_unlock(&t->lock);
    int r = pthread_create(&t->thread, NULL, tracker_main, t);
    if (r != 0) {
        snprintf(err, errlen, "cannot start the tracker thread: %s", strerror(r));
        pthread_mutex_lock(&t->lock);
        t->running = false;
        t->refresh_open = false;
        struct tracker_refresh *asked = t->asked;
        t->asked = NULL;
        pthread_mutex_unlock(&t->lock);
        answer_all(t, NULL, asked, NULL, false, 0, "the tracker is not running", 0);
        curl_multi_cleanup(t->multi);
        t->multi = NULL;
        close_fds(t);
        return -1;
    }
    pthread_setname_np(t->thread, "lf-tracker"); /* for top -H and /proc/PID/task/TID/comm */
    return 0;
}

void tracker_stop(struct tracker *t)
{
    pthread_mutex_lock(&t->lock);
    bool running = t->running;
    pthread_mutex_unlock(&t->lock);
    if (!running)
        return;
    atomic_store(&t->stop, true);
    wake(t);
    pthread_join(t->thread, NULL);
    pthread_mutex_lock(&t->lock);
    t->running = false;
    pthread_mutex_unlock(&t->lock);
    curl_multi_cleanup(t->multi);
    t->multi = NULL;
    close_fds(t);
}

void tracker_free(struct tracker *t)
{
    if (t == NULL)
        return;
    tracker_stop(t);
    for (size_t i = 0; i < t->n; i++) {
        struct item *it = t->items[i];
        snap_unref(it->cur);
        if (it->known && it->exists)
            lease_record_release(&it->rec);
        lf_buf_release(&it->get_body);
        free(it->name);
        free(it);
    }
    for (size_t i = 0; i < t->by_ns.nbuckets; i++)
        for (struct nswatch *w = t->by_ns.buckets[i], *next; w != NULL; w = next) {
            next = w->hnext;
            kube_watch_decoder_release(&w->dec);
            list_read_free(t, w->list);
            lf_buf_release(&w->list_body);
            free(w->rv);
            free(w->items);
            free(w->ns);
            free(w);
        }
    free(t->by_ns.buckets);
    free(t->by_name.buckets);
    free(t->items);
    free(t->mine);
    free(t->mine_ns);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
