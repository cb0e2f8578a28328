/*
 * waiter.c -- waiter records, the queues they wait in, and the claim.
 *
 * A waiter is one blocked operation (a send, a recv, or a whole select).
 * It has one entry per case, each linked into the queue of that case's
 * channel. Completing it is a single CAS on its state word from WAITING:
 * the first claimer (or the owner's own abort) wins, so a select waiting on
 * many channels is completed by exactly one of them without a global lock.
 *
 * Waiter queues are guarded by their channel's spinlock: hand-off needs the
 * queue and the entry's value slot to change together, and the critical
 * sections are a few pointer moves. Each queue keeps an atomic count so the
 * lock-free paths skip the lock when nobody waits (crossbeam's SyncWaker
 * does the same).
 */
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include "chp_internal.h"

/* --- the channel spinlock ------------------------------------------------ */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void chp_lock(chp_chan_t *c)
{
    unsigned spins = 0;
    for (;;) {
        /* ORDER: acquire -- pairs with chp_unlock's release, so everything
         * the previous holder wrote under the lock is visible to us. */
        if (!atomic_exchange_explicit(&c->lock, 1, memory_order_acquire))
            return;
        /* ORDER: relaxed -- only waiting for the word to look free; the
         * exchange above is what acquires. */
        while (atomic_load_explicit(&c->lock, memory_order_relaxed)) {
            if (++spins < 64)
                cpu_relax();
            else
                sched_yield();  /* the holder may have been descheduled */
        }
    }
}

void chp_unlock(chp_chan_t *c)
{
    /* ORDER: release -- publishes our writes to the next acquirer. */
    atomic_store_explicit(&c->lock, 0, memory_order_release);
}

/* --- randomness for select --------------------------------------------- */

/* xorshift64* per thread: select needs fair, cheap, not secure. */
static _Thread_local uint64_t rng_state;

uint64_t chp_random(void)
{
    uint64_t x = rng_state;
    if (x == 0) {
        /* Seed from the address of the thread's own state and a counter,
         * so threads started together still differ. */
        static _Atomic uint64_t seeds = 0x9E3779B97F4A7C15ull;
        /* ORDER: relaxed -- any distinct value will do. */
        x = (uint64_t)(uintptr_t)&rng_state
            ^ atomic_fetch_add_explicit(&seeds, 0x9E3779B97F4A7C15ull,
                                        memory_order_relaxed);
        if (x == 0)
            x = 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* --- waiter queues (caller holds the channel lock) ----------------------- */

void chp_waitq_link(chp_waitq_t *q, chp_entry_t *e)
{
    e->next = NULL;
    e->prev = q->tail;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    e->linked = true;
    /* ORDER: seq_cst -- the count is the "somebody waits" hint read by the
     * lock-free paths after they publish a value; with the seq_cst fence in
     * chp_select_arm it forms the store/load pair that rules out a lost
     * wake-up (see chan.c, "notify after publish"). */
    atomic_fetch_add_explicit(&q->count, 1, memory_order_seq_cst);
}

void chp_waitq_unlink(chp_waitq_t *q, chp_entry_t *e)
{
    if (!e->linked)
        return;
    if (e->prev)
        e->prev->next = e->next;
    else
        q->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        q->tail = e->prev;
    e->prev = e->next = NULL;
    e->linked = false;
    /* ORDER: relaxed -- a decrement only makes the hint more pessimistic
     * for readers that skip the lock; nothing is published through it. */
    atomic_fetch_sub_explicit(&q->count, 1, memory_order_relaxed);
}

/* Claim the oldest entry whose waiter is still WAITING and is not `self`:
 * move its waiter to CHP_STATE(tag, entry index), unlink the entry and
 * return the waiter with a reference taken. For DONE on a recv entry, `give`
 * is stored in the entry first; for a send entry, its value goes to *take.
 * Precondition: the caller holds the channel lock. */
chp_waiter_t *chp_waitq_claim(chp_waitq_t *q, chp_waiter_t *self,
                              uint32_t tag, void *give, void **take)
{
    for (chp_entry_t *e = q->head; e; e = e->next) {
        chp_waiter_t *w = e->waiter;
        if (w == self)
            continue;
        /* ORDER: relaxed -- a cheap pre-check; the CAS decides. */
        if (atomic_load_explicit(&w->state, memory_order_relaxed)
            != CHP_W_WAITING)
            continue;
        if (tag == CHP_W_DONE && e->op == CHP_OP_RECV)
            e->value = give;
        uint32_t expected = CHP_W_WAITING;
        /* ORDER: acq_rel on success -- release publishes e->value (the
         * handed value) to the owner, who reads it after an acquire load of
         * the state; acquire orders our later reads of the entry after the
         * owner's writes that preceded arming. relaxed on failure: we only
         * move on. */
        if (atomic_compare_exchange_strong_explicit(
                &w->state, &expected, CHP_STATE(tag, e->index),
                memory_order_acq_rel, memory_order_relaxed)) {
            if (tag == CHP_W_DONE && e->op == CHP_OP_SEND)
                *take = e->value;
            chp_waitq_unlink(q, e);
            chp_waiter_ref(w);
            return w;
        }
    }
    return NULL;
}

/* Non-zero if some entry other than self's is still WAITING.
 * Precondition: the caller holds the channel lock. */
int chp_waitq_has_waiting(chp_waitq_t *q, chp_waiter_t *self)
{
    for (chp_entry_t *e = q->head; e; e = e->next)
        if (e->waiter != self
            && atomic_load_explicit(&e->waiter->state, memory_order_relaxed)
                   == CHP_W_WAITING)
            return 1;
    return 0;
}

/* --- waiter lifetime ---------------------------------------------------- */

chp_waiter_t *chp_waiter_new(int kind, void *user)
{
    chp_waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    atomic_init(&w->state, CHP_W_ABORTED);  /* not armed */
    atomic_init(&w->refs, 1);
    w->kind = kind;
    w->user = user;
    return w;
}

void chp_waiter_ref(chp_waiter_t *w)
{
    /* ORDER: relaxed -- taken while the waiter is known alive (its entry
     * is linked under the lock we hold, or we already own a reference);
     * like any reference count increment, nothing is published by it. */
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
}

void chp_waiter_unref(chp_waiter_t *w)
{
    /* ORDER: acq_rel -- release makes our uses of the waiter happen before
     * the free; acquire (for the last owner) sees everyone else's uses. */
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
        free(w->entries);
        free(w);
    }
}

int chp_waiter_kind(const chp_waiter_t *w) { return w->kind; }
void *chp_waiter_user(const chp_waiter_t *w) { return w->user; }
uint32_t chp_waiter_ncases(const chp_waiter_t *w) { return w->nentries; }

uint32_t chp_waiter_state(chp_waiter_t *w)
{
    /* ORDER: acquire -- pairs with the claim CAS, so a handed value in the
     * winning entry is visible once we see DONE. */
    return atomic_load_explicit(&w->state, memory_order_acquire);
}

void *chp_waiter_take_value(chp_waiter_t *w, uint32_t index)
{
    void *v = w->entries[index].value;
    w->entries[index].value = NULL;
    return v;
}

void *chp_waiter_offered(chp_waiter_t *w, uint32_t index)
{
    return w->entries[index].value;
}
