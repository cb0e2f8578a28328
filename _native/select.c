/*
 * select.c -- trying, arming and disarming a set of cases.
 *
 * The blocking loop itself belongs to each binding (it knows how its
 * threads or tasks wait); every binding runs the same steps:
 *
 *   1. chp_select_try      -- poll the cases in a random order
 *   2. chp_select_arm      -- register on every case, then re-check
 *                             (the re-check prevents a lost wake-up)
 *   3. wait                -- until the state leaves WAITING, or give up
 *   4. chp_select_disarm   -- abort if still waiting, unregister all
 *   5. DONE|i: case i took effect.  NOTIFIED|i: retry case i first (the
 *      notification is for us; skipping it could strand a value).
 *      ABORTED: nothing happened; go to 1 unless time is up.
 */
#include <stdlib.h>
#include "chp_internal.h"

/* Fisher-Yates, drawn lazily: order[k] is fixed when step k needs it, so
 * the first ready case in this order is uniform among the ready ones. */
static inline size_t draw(size_t *order, size_t k, size_t n)
{
    size_t j = k + (size_t)(chp_random() % (n - k));
    size_t t = order[k];
    order[k] = order[j];
    order[j] = t;
    return order[k];
}

#define SMALL 16

int chp_select_try(const chp_case_t *cases, size_t n, chp_waiter_t *self,
                   size_t *fired, void **value, chp_waiter_t **woken)
{
    size_t small[SMALL];
    size_t *order = n <= SMALL ? small : malloc(n * sizeof *order);
    if (!order)
        return CHP_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    int r = CHP_WOULDBLOCK;
    *woken = NULL;
    for (size_t k = 0; k < n; k++) {
        size_t i = draw(order, k, n);
        const chp_case_t *cs = &cases[i];
        if (!cs->chan)
            continue;
        r = cs->op == CHP_OP_SEND
            ? chp_chan_try_send(cs->chan, cs->value, self, woken)
            : chp_chan_try_recv(cs->chan, value, self, woken);
        if (r != CHP_WOULDBLOCK) {
            *fired = i;
            break;
        }
    }
    if (order != small)
        free(order);
    return r;
}

int chp_select_arm(chp_waiter_t *w, const chp_case_t *cases, size_t n)
{
    if (n >= CHP_MAX_CASES)
        return -1;
    if (n > w->capacity) {
        chp_entry_t *grown = realloc(w->entries, n * sizeof *grown);
        if (!grown)
            return -1;
        w->entries = grown;
        w->capacity = (uint32_t)n;
    }
    w->nentries = (uint32_t)n;
    /* ORDER: relaxed -- no entry of w is linked, so no claimer can see w
     * until a link under a channel lock publishes it (with this store). */
    atomic_store_explicit(&w->state, CHP_W_WAITING, memory_order_relaxed);

    size_t small[SMALL];
    size_t *order = n <= SMALL ? small : malloc(n * sizeof *order);
    if (!order)
        return -1;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 0; i < n; i++) {
        chp_entry_t *e = &w->entries[i];
        e->prev = e->next = NULL;
        e->waiter = w;
        e->chan = cases[i].chan;
        e->value = cases[i].op == CHP_OP_SEND ? cases[i].value : NULL;
        e->index = (uint32_t)i;
        e->op = cases[i].op;
        e->linked = false;
    }
    /* Link in a random order: claimers take the oldest entry, so several
     * cases on one channel must not always queue in argument order. */
    for (size_t k = 0; k < n; k++) {
        chp_entry_t *e = &w->entries[draw(order, k, n)];
        if (!e->chan)
            continue;
        chp_lock(e->chan);
        chp_waitq_link(e->op == CHP_OP_SEND ? &e->chan->sendq
                                            : &e->chan->recvq, e);
        chp_unlock(e->chan);
    }
    if (order != small)
        free(order);

    /* ORDER: seq_cst -- the waiter half of "notify after publish" (chan.c):
     * our count increments come before the re-check loads below. */
    atomic_thread_fence(memory_order_seq_cst);
    /* Re-check after registering: this prevents a lost wake-up. */
    for (size_t i = 0; i < n; i++) {
        if (cases[i].chan && chp_chan_ready(cases[i].chan, cases[i].op, w))
            return 0;
    }
    /* ORDER: relaxed -- if a claim already happened, say "don't wait";
     * disarm reads the state with acquire. */
    return atomic_load_explicit(&w->state, memory_order_relaxed)
           == CHP_W_WAITING;
}

uint32_t chp_select_disarm(chp_waiter_t *w)
{
    uint32_t state = CHP_W_WAITING;
    /* ORDER: acq_rel -- on failure (acquire, via the strong CAS's failure
     * order) we see the claimer's writes (a handed value). On success,
     * release orders nothing in particular but keeps the one completion
     * CAS symmetric with the claim. */
    if (atomic_compare_exchange_strong_explicit(&w->state, &state,
                                                CHP_W_ABORTED,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        state = CHP_W_ABORTED;
    for (uint32_t i = 0; i < w->nentries; i++) {
        chp_entry_t *e = &w->entries[i];
        if (!e->chan)
            continue;
        chp_lock(e->chan);
        chp_waitq_unlink(e->op == CHP_OP_SEND ? &e->chan->sendq
                                              : &e->chan->recvq, e);
        chp_unlock(e->chan);
    }
    return state;
}
