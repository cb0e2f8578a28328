/*
 * ring.c -- the buffer of a buffered channel: a bounded lock-free MPMC queue.
 *
 * Algorithm: Dmitry Vyukov's bounded MPMC queue (sequence-numbered cells,
 * "1024cores: Bounded MPMC queue"), with crossbeam-channel's addition of a
 * mark bit in `tail` so that closing and pushing are ordered by one word:
 * after close sets the mark, no push can reserve a position, and a pop that
 * sees the mark and head == tail knows no value is still on its way.
 *
 * No lock is taken here. Positions are 64-bit counters (63 bits usable)
 * that never wrap in practice: 2^63 operations at 1 ns each take 292 years
 * (a cell's seq holds 2 * position, which still fits in 64 bits).
 */
#include "chp_internal.h"

int chp_ring_push(chp_chan_t *c, void *value)
{
    /* ORDER: relaxed -- only a starting guess; the CAS below validates it. */
    uint64_t pos = atomic_load_explicit(&c->tail, memory_order_relaxed);
    for (;;) {
        if (pos & CHP_TAIL_CLOSED)
            return CHP_CLOSED;
        chp_cell_t *cell = &c->cells[pos % c->cap];
        /* ORDER: acquire -- pairs with the release store of seq by the pop
         * that freed this cell, so its read of cell->value happened before
         * our write below. */
        uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - 2 * pos);
        if (dif == 0) {
            /* ORDER: relaxed on success and failure -- the CAS only
             * reserves the position (its atomicity is what matters);
             * publication of the value is the release store of seq below.
             * It fails if close set the mark since we loaded pos. */
            if (atomic_compare_exchange_weak_explicit(
                    &c->tail, &pos, pos + 1, memory_order_relaxed,
                    memory_order_relaxed)) {
                cell->value = value;
                /* ORDER: release -- publishes cell->value to the pop that
                 * acquires seq == 2 * pos + 1. */
                atomic_store_explicit(&cell->seq, 2 * pos + 1,
                                      memory_order_release);
                return CHP_OK;
            }
        } else if (dif < 0) {
            /* The cell still holds the value from one lap ago: full (or
             * its pop is in flight, which is the same to us right now). */
            return CHP_WOULDBLOCK;
        } else {
            /* Another push took `pos`; start again from the new tail. */
            pos = atomic_load_explicit(&c->tail, memory_order_relaxed);
        }
    }
}

int chp_ring_pop(chp_chan_t *c, void **value)
{
    /* ORDER: relaxed -- a starting guess validated by the CAS below. */
    uint64_t pos = atomic_load_explicit(&c->head, memory_order_relaxed);
    for (;;) {
        chp_cell_t *cell = &c->cells[pos % c->cap];
        /* ORDER: acquire -- pairs with the push's release store of seq, so
         * cell->value is the value it wrote. */
        uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - (2 * pos + 1));
        if (dif == 0) {
            /* ORDER: relaxed -- reserves the position only; the value read
             * is ordered by the acquire above. */
            if (atomic_compare_exchange_weak_explicit(
                    &c->head, &pos, pos + 1, memory_order_relaxed,
                    memory_order_relaxed)) {
                *value = cell->value;
                /* ORDER: release -- our read of cell->value happens before
                 * the push that acquires seq == 2 * (pos + cap) reuses the cell. */
                atomic_store_explicit(&cell->seq, 2 * (pos + c->cap),
                                      memory_order_release);
                return CHP_OK;
            }
        } else if (dif < 0) {
            /* Nothing readable at `pos`. ORDER: seq_cst -- the load of tail
             * must not be satisfied before our read of seq above, and must
             * be ordered with close's seq_cst fetch_or: if we see the mark
             * with tail == pos, every push that reserved a position before
             * close has been counted in tail, so the ring is drained. */
            uint64_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst);
            if ((tail & ~CHP_TAIL_CLOSED) == pos)
                return (tail & CHP_TAIL_CLOSED) ? CHP_CLOSED : CHP_WOULDBLOCK;
            /* A push reserved `pos` but has not published yet, or another
             * pop moved head: report "not now"; a pusher notifies after
             * publishing, so a waiting receiver is not stranded. */
            uint64_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
            if (head == pos)
                return CHP_WOULDBLOCK;
            pos = head;
        } else {
            /* Another pop took `pos`. */
            pos = atomic_load_explicit(&c->head, memory_order_relaxed);
        }
    }
}

size_t chp_ring_len(chp_chan_t *c)
{
    /* ORDER: acquire on both -- a snapshot for statistics and len(); it
     * is clamped because the two loads are not taken at one instant. */
    uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire)
                    & ~CHP_TAIL_CLOSED;
    if (tail <= head)
        return 0;
    return (size_t)(tail - head) > c->cap ? c->cap : (size_t)(tail - head);
}

int chp_chan_visit(chp_chan_t *c, int (*visit)(void *value, void *arg),
                   void *arg)
{
    if (c->cap == 0)
        return 0;
    /* ORDER: acquire on head, tail and each seq -- like a pop, so a value
     * we pass on is the one its push published. */
    uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire)
                    & ~CHP_TAIL_CLOSED;
    for (uint64_t pos = head; pos < tail; pos++) {
        chp_cell_t *cell = &c->cells[pos % c->cap];
        uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        if (seq != 2 * pos + 1)
            continue; /* a push or pop in flight (not while serialised) */
        int r = visit(cell->value, arg);
        if (r)
            return r;
    }
    return 0;
}

int chp_chan_take_buffered(chp_chan_t *c, void **value)
{
    if (c->cap == 0)
        return CHP_WOULDBLOCK;
    return chp_ring_pop(c, value) == CHP_OK ? CHP_OK : CHP_WOULDBLOCK;
}
