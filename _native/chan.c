/*
 * chan.c -- channel operations: the ring for buffered channels, hand-off
 * for unbuffered ones, and the wake-up protocol between them and waiters.
 *
 * Buffered (cap > 0): send and recv are lock-free ring operations. After a
 * push (pop) publishes, the pusher (popper) looks at the receivers'
 * (senders') count and, only if somebody waits, takes the lock to NOTIFY
 * one waiter, which then retries its case.
 *
 *   Notify after publish -- why no wake-up is lost:
 *     pusher:  publish value (ring)  ; fence seq_cst ; load recvq.count
 *     waiter:  count++ (link, seq_cst); fence seq_cst ; re-check ring
 *   Both sides store then load with a seq_cst fence between, so at least
 *   one of them sees the other's store: the pusher sees the waiter and
 *   notifies it, or the waiter's re-check sees the value and does not park.
 *
 * Unbuffered (cap == 0): a value only ever moves between a party and a
 * waiting entry, under the channel lock, completed by the claim CAS (DONE).
 * The counts let a non-blocking attempt skip the lock when nobody waits.
 *
 * Close: buffered channels set the mark bit in `tail` (no more pushes);
 * both kinds then set `closed`, and the closer claims every waiter with
 * NOTIFIED so each retries and sees the channel closed.
 */
#include <stdlib.h>
#include "chp_internal.h"

/* build_ffi.py passes the package version (chanpy/_version.py); C tests
 * build without it. */
#ifndef CHP_VERSION_STRING
#define CHP_VERSION_STRING "dev"
#endif

const char *chp_version(void) { return CHP_VERSION_STRING; }

chp_chan_t *chp_chan_new(size_t capacity)
{
    if (capacity > ((size_t)1 << 40))
        return NULL;
    chp_chan_t *c = aligned_alloc(CHP_CACHELINE,
                                  (sizeof *c + CHP_CACHELINE - 1)
                                      / CHP_CACHELINE * CHP_CACHELINE);
    if (!c)
        return NULL;
    c->cap = capacity;
    c->cells = NULL;
    if (capacity > 0) {
        c->cells = malloc(capacity * sizeof *c->cells);
        if (!c->cells) {
            free(c);
            return NULL;
        }
        for (size_t i = 0; i < capacity; i++) {
            atomic_init(&c->cells[i].seq, 2 * (uint64_t)i);
            c->cells[i].value = NULL;
        }
    }
    atomic_init(&c->head, 0);
    atomic_init(&c->tail, 0);
    atomic_init(&c->closed, 0);
    atomic_init(&c->lock, 0);
    c->sendq.head = c->sendq.tail = NULL;
    c->recvq.head = c->recvq.tail = NULL;
    atomic_init(&c->sendq.count, 0);
    atomic_init(&c->recvq.count, 0);
    return c;
}

void chp_chan_free(chp_chan_t *c)
{
    if (!c)
        return;
    free(c->cells);
    free(c);
}

size_t chp_chan_capacity(const chp_chan_t *c) { return c->cap; }

size_t chp_chan_len(chp_chan_t *c)
{
    return c->cap ? chp_ring_len(c) : 0;
}

int chp_chan_is_closed(chp_chan_t *c)
{
    /* ORDER: acquire -- pairs with close's seq_cst store. */
    return atomic_load_explicit(&c->closed, memory_order_acquire);
}

size_t chp_chan_waiting_senders(chp_chan_t *c)
{
    return atomic_load_explicit(&c->sendq.count, memory_order_relaxed);
}

size_t chp_chan_waiting_receivers(chp_chan_t *c)
{
    return atomic_load_explicit(&c->recvq.count, memory_order_relaxed);
}

/* After a publish on a buffered channel: notify one waiter of `q`, if any.
 * ORDER: the seq_cst fence orders our publish (the ring CAS/store) before
 * the count load -- the pusher half of "notify after publish". */
static chp_waiter_t *notify_one(chp_chan_t *c, chp_waitq_t *q)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&q->count, memory_order_relaxed) == 0)
        return NULL;
    chp_lock(c);
    chp_waiter_t *w = chp_waitq_claim(q, NULL, CHP_W_NOTIFIED, NULL, NULL);
    chp_unlock(c);
    return w;
}

int chp_chan_try_send(chp_chan_t *c, void *value, chp_waiter_t *self,
                      chp_waiter_t **woken)
{
    *woken = NULL;
    if (c->cap > 0) {
        int r = chp_ring_push(c, value);
        if (r == CHP_OK)
            *woken = notify_one(c, &c->recvq);
        return r;
    }
    /* ORDER: acquire -- a fast "closed" answer; rechecked under the lock. */
    if (atomic_load_explicit(&c->closed, memory_order_acquire))
        return CHP_CLOSED;
    /* ORDER: seq_cst -- pairs with the seq_cst increment in link: a
     * receiver that linked before us is seen; one that links after will
     * see nothing to take, which is the same as arriving after us. */
    if (atomic_load_explicit(&c->recvq.count, memory_order_seq_cst) == 0)
        return CHP_WOULDBLOCK;
    chp_lock(c);
    int closed = atomic_load_explicit(&c->closed, memory_order_relaxed);
    chp_waiter_t *w = closed ? NULL
        : chp_waitq_claim(&c->recvq, self, CHP_W_DONE, value, NULL);
    chp_unlock(c);
    if (closed)
        return CHP_CLOSED;
    if (!w)
        return CHP_WOULDBLOCK;
    *woken = w;
    return CHP_OK;
}

int chp_chan_try_recv(chp_chan_t *c, void **value, chp_waiter_t *self,
                      chp_waiter_t **woken)
{
    *woken = NULL;
    if (c->cap > 0) {
        int r = chp_ring_pop(c, value);
        if (r == CHP_OK)
            *woken = notify_one(c, &c->sendq);
        return r;
    }
    /* ORDER: seq_cst -- as in try_send, the mirror image. */
    if (atomic_load_explicit(&c->sendq.count, memory_order_seq_cst) == 0)
        return atomic_load_explicit(&c->closed, memory_order_acquire)
            ? CHP_CLOSED : CHP_WOULDBLOCK;
    chp_lock(c);
    int closed = atomic_load_explicit(&c->closed, memory_order_relaxed);
    void *v = NULL;
    chp_waiter_t *w = closed ? NULL
        : chp_waitq_claim(&c->sendq, self, CHP_W_DONE, NULL, &v);
    chp_unlock(c);
    if (closed)
        return CHP_CLOSED;
    if (!w)
        return CHP_WOULDBLOCK;
    *value = v;
    *woken = w;
    return CHP_OK;
}

int chp_chan_ready(chp_chan_t *c, uint32_t op, chp_waiter_t *self)
{
    if (atomic_load_explicit(&c->closed, memory_order_seq_cst))
        return 1;
    if (c->cap > 0) {
        /* ORDER: seq_cst -- the waiter half of "notify after publish":
         * these loads follow the link's seq_cst count increment. */
        uint64_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
        uint64_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst)
                        & ~CHP_TAIL_CLOSED;
        if (op == CHP_OP_RECV)
            return tail != head;
        return tail - head < c->cap;
    }
    chp_lock(c);
    int ready = chp_waitq_has_waiting(
        op == CHP_OP_RECV ? &c->sendq : &c->recvq, self);
    chp_unlock(c);
    return ready;
}

int chp_chan_close(chp_chan_t *c)
{
    int was;
    chp_lock(c);
    if (c->cap > 0)
        /* ORDER: seq_cst -- after this no push can reserve a position,
         * and a pop that sees the mark also sees every earlier reservation
         * (it reads tail with seq_cst; see chp_ring_pop). */
        atomic_fetch_or_explicit(&c->tail, CHP_TAIL_CLOSED,
                                 memory_order_seq_cst);
    /* ORDER: seq_cst -- set before the waiters are taken: a waiter that
     * links after our critical section re-checks and sees it (chan_ready),
     * one that linked before is taken by chp_chan_take_waiter. */
    was = atomic_exchange_explicit(&c->closed, 1, memory_order_seq_cst);
    chp_unlock(c);
    return !was;
}

chp_waiter_t *chp_chan_take_waiter(chp_chan_t *c)
{
    chp_lock(c);
    chp_waiter_t *w = chp_waitq_claim(&c->recvq, NULL, CHP_W_NOTIFIED,
                                      NULL, NULL);
    if (!w)
        w = chp_waitq_claim(&c->sendq, NULL, CHP_W_NOTIFIED, NULL, NULL);
    chp_unlock(c);
    return w;
}

chp_waiter_t *chp_chan_pass_notification(chp_chan_t *c, uint32_t op)
{
    /* Unbuffered channels only notify on close, which reaches every
     * waiter by itself; so do closed buffered ones. */
    if (c->cap == 0 || chp_chan_is_closed(c))
        return NULL;
    /* Not ready: whoever makes it ready again notifies (notify after
     * publish). Ready: act as that publisher would have. */
    if (!chp_chan_ready(c, op, NULL))
        return NULL;
    return notify_one(c, op == CHP_OP_RECV ? &c->recvq : &c->sendq);
}
