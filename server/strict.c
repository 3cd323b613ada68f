/*
 * Waits for fresh Lease reads.  Three threads touch a wait: the loop thread that made it (everything but
 * the reads), and the tracker's thread, which fills each read and, on the last one, posts the wait to the
 * loop's queue.  A wait is freed on its loop thread when both of its references are gone: the request's
 * (dropped when the request's pool is cleared: answered and done with, or the client went away) and the
 * reads' (dropped when the loop takes the message, which the last read sends).
 */
#include "strict.h"
#include "xmem.h"

#include "lf_clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct strict_loop {
    h2o_multithread_receiver_t receiver; /* first: the queue's callback gets it */
    h2o_loop_t *loop;
    struct tracker *tracker;
    h2o_timeout_t budget;
    uint64_t budget_ms;
    unsigned waiting;
};

struct wait_read {
    struct tracker_refresh rf; /* filled by the tracker's thread */
    atomic_bool came;          /* rf's results are written (release) */
    struct strict_wait *w;
    char why[96];
};

struct strict_wait {
    h2o_multithread_message_t msg; /* to the loop: every read came */
    h2o_timeout_entry_t timer;
    struct strict_loop *sl;
    h2o_req_t *req; /* NULL once the request is gone */
    bool finished;  /* done or gone was called */
    int refs;       /* loop thread only */
    atomic_uint outstanding;
    int64_t start_ns;
    const struct strict_ops *ops;
    size_t n;
    struct wait_read *reads;
    struct strict_read *out;
    void *ctx;
};

static int64_t now_ns(void)
{
    return lf_clock_mono_ns();
}

static void wait_unref(struct strict_wait *w)
{
    if (--w->refs > 0)
        return;
    w->ops->cleanup(w->ctx);
    for (size_t i = 0; i < w->n; i++)
        tracker_release(w->sl->tracker, w->reads[i].rf.snap);
    free(w->reads);
    free(w->out);
    free(w->ctx);
    free(w);
}

/* Ends the wait for the request: the answer (DONE) or, with the request gone, GONE. */
static void finish(struct strict_wait *w, bool timed_out)
{
    uint64_t waited = (uint64_t)(now_ns() - w->start_ns);
    w->finished = true;
    w->sl->waiting--;
    if (h2o_timeout_is_linked(&w->timer))
        h2o_timeout_unlink(&w->timer);
    if (w->req == NULL) {
        w->ops->gone(w->ctx, waited);
        return;
    }
    for (size_t i = 0; i < w->n; i++) {
        struct wait_read *rd = &w->reads[i];
        struct strict_read *o = &w->out[i];
        if (!atomic_load_explicit(&rd->came, memory_order_acquire)) {
            /* still with the tracker, which writes it: read nothing of it */
            snprintf(rd->why, sizeof(rd->why), "no answer within %llu ms",
                     (unsigned long long)w->sl->budget_ms);
            o->snap = NULL;
            o->why = rd->why;
            o->late = true;
        } else {
            o->snap = rd->rf.snap;
            o->why = rd->rf.snap == NULL ? rd->rf.err : NULL;
            o->late = rd->rf.snap == NULL && rd->rf.timed_out;
        }
    }
    w->ops->done(w->ctx, w->req, w->out, w->n, timed_out, waited);
}

/* The tracker's thread: one read came; the last one posts the wait to its loop. */
static void read_came(struct tracker_refresh *rf)
{
    struct wait_read *rd = rf->ctx;
    struct strict_wait *w = rd->w;
    atomic_store_explicit(&rd->came, true, memory_order_release);
    if (atomic_fetch_sub(&w->outstanding, 1) == 1)
        h2o_multithread_send_message(&w->sl->receiver, &w->msg);
}

static void on_reads(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        struct strict_wait *w = H2O_STRUCT_FROM_MEMBER(struct strict_wait, msg, m);
        h2o_linklist_unlink(&m->link);
        if (!w->finished)
            finish(w, false);
        wait_unref(w); /* the reads' reference */
    }
}

static void on_budget(h2o_timeout_entry_t *entry)
{
    struct strict_wait *w = H2O_STRUCT_FROM_MEMBER(struct strict_wait, timer, entry);
    if (!w->finished) {
        w->refs++; /* DONE answers the request, which must not free the wait under it */
        finish(w, true);
        wait_unref(w);
    }
}

/* The request's pool is cleared: answered and done with, or its client went away. */
static void on_request_gone(void *p)
{
    struct strict_wait *w = *(struct strict_wait **)p;
    w->req = NULL;
    if (!w->finished)
        finish(w, false);
    wait_unref(w); /* the request's reference */
}

struct strict_loop *strict_loop_new(h2o_context_t *ctx, struct tracker *t, uint64_t budget_ms)
{
    struct strict_loop *sl = xcalloc(1, sizeof(*sl));
    sl->loop = ctx->loop;
    sl->tracker = t;
    sl->budget_ms = budget_ms;
    h2o_timeout_init(ctx->loop, &sl->budget, budget_ms);
    h2o_multithread_register_receiver(ctx->queue, &sl->receiver, on_reads);
    return sl;
}

unsigned strict_loop_waiting(const struct strict_loop *sl)
{
    return sl->waiting;
}

void *strict_wait(struct strict_loop *sl, h2o_req_t *req, const size_t *lease_idx, size_t n, size_t ctx_size,
                  const struct strict_ops *ops)
{
    struct strict_wait *w = xcalloc(1, sizeof(*w));
    w->sl = sl;
    w->req = req;
    w->refs = 2; /* the request's and the reads' */
    w->start_ns = now_ns();
    w->ops = ops;
    w->n = n;
    w->reads = xcalloc(n, sizeof(*w->reads));
    w->out = xcalloc(n, sizeof(*w->out));
    w->ctx = xcalloc(1, ctx_size > 0 ? ctx_size : 1);
    atomic_init(&w->outstanding, (unsigned)n);
    for (size_t i = 0; i < n; i++) {
        w->reads[i].w = w;
        w->reads[i].rf.done = read_came;
        w->reads[i].rf.ctx = &w->reads[i];
        atomic_init(&w->reads[i].came, false);
        w->out[i].lease_idx = lease_idx[i];
    }
    struct strict_wait **guard = h2o_mem_alloc_shared(&req->pool, sizeof(*guard), on_request_gone);
    *guard = w;
    w->timer.cb = on_budget;
    h2o_timeout_link(sl->loop, &sl->budget, &w->timer);
    sl->waiting++;
    /* Last: a read may be answered at once (on this thread, when the tracker is not running); the message it
     * sends is taken on a later turn of the loop, so no callback runs before this returns. */
    for (size_t i = 0; i < n; i++)
        tracker_refresh(sl->tracker, lease_idx[i], &w->reads[i].rf);
    return w->ctx;
}
