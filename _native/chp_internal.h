/*
 * chp_internal.h -- layouts shared by the core's C files (not by cffi).
 *
 * Lock order: a channel's `lock` is the only lock in the core, and no code
 * holds two of them at once. Nothing is woken while a lock is held: claims
 * take a waiter reference under the lock; the caller wakes after unlock.
 */
#ifndef CHP_INTERNAL_H
#define CHP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include "chp.h"

#define CHP_CACHELINE 64

/* Waiter state word: { index:30, tag:2 }. */
#define CHP_STATE(tag, index) ((uint32_t)(((uint32_t)(index) << 2) | (tag)))
#define CHP_STATE_TAG(s) ((s) & 3u)
#define CHP_STATE_INDEX(s) ((s) >> 2)
#define CHP_MAX_CASES (1u << 30)

/* One case of a waiting operation, linked into one channel's queue.
 *
 * Invariants:
 * - `prev`, `next` and `linked` are read and written only under
 *   chan->lock.
 * - While linked, `waiter`, `chan`, `index` and `op` do not change, and a
 *   send entry's `value` does not change.
 * - A recv entry's `value` is written only under chan->lock, just before a
 *   claim CAS on the waiter; the owner reads it only after observing
 *   DONE|index, so a write by a claimer that lost the CAS is never read.
 */
typedef struct chp_entry {
    struct chp_entry *prev, *next;
    chp_waiter_t *waiter;
    chp_chan_t *chan;
    void *value;
    uint32_t index;
    uint32_t op;
    bool linked;
} chp_entry_t;

/* The entries waiting for one side of a channel, oldest first.
 *
 * Invariants: `head`/`tail` are guarded by chan->lock; `count` equals the
 * number of linked entries, written under the lock and read without it as
 * an "is anybody waiting" hint.
 */
typedef struct {
    chp_entry_t *head, *tail;
    _Atomic size_t count;
} chp_waitq_t;

/* One slot of the bounded ring (Vyukov's MPMC array queue).
 *
 * Invariant, for the slot at position p (slot index p % cap, lap p / cap):
 * - seq == 2p             the slot is free for the push at position p;
 * - seq == 2p + 1          it holds the value pushed at p, ready for the pop;
 * - seq == 2(p + cap)      the pop at p has released it for the push at p + cap.
 * Sequence numbers count in steps of two so that "full since p" (odd) never
 * equals "free for the next lap" (even) -- with the classic p / p+1 / p+cap
 * numbering those collide when cap == 1 and a push overwrites a value.
 */
typedef struct {
    _Atomic uint64_t seq;
    void *value;
} chp_cell_t;

/* Bit 63 of `tail` marks the channel closed to new pushes. */
#define CHP_TAIL_CLOSED ((uint64_t)1 << 63)

/* A channel.
 *
 * Invariants:
 * - head <= (tail & ~CLOSED) <= head + cap; positions only grow.
 * - A position below (tail & ~CLOSED) has been reserved by a push; it is
 *   readable once its cell's seq says so (a push may be in flight).
 * - Once CLOSED is set in `tail` it stays set, and `closed` is set too.
 * - Unbuffered (cap == 0): values move only by hand-off under `lock`, from
 *   a send entry to a receiver or from a sender into a recv entry.
 * - A buffered channel's waiters are only ever NOTIFIED (they retry); an
 *   unbuffered channel's are DONE (the value already moved) or, on close,
 *   NOTIFIED.
 */
struct chp_chan {
    _Atomic uint64_t head;
    char pad_head[CHP_CACHELINE - sizeof(uint64_t)];
    _Atomic uint64_t tail;
    char pad_tail[CHP_CACHELINE - sizeof(uint64_t)];
    size_t cap;
    chp_cell_t *cells;
    _Atomic int closed;
    _Atomic int lock;
    chp_waitq_t sendq;
    chp_waitq_t recvq;
};

/* A waiting operation (one select, or one send/recv).
 *
 * Invariants:
 * - `state` moves WAITING -> (ABORTED | DONE|i | NOTIFIED|i) exactly once per
 *   arming, by one CAS: the owner's abort or one claimer's claim. That CAS is
 *   the whole completion protocol; whoever wins it owns the outcome.
 * - Entries are linked only between arm and disarm; `nentries` entries of
 *   `entries` are in use. The owner re-arms only after disarm unlinked all.
 * - `refs` counts the owner's reference plus one per claimer between its
 *   claim and its wake; the waiter is freed when it drops to zero.
 */
struct chp_waiter {
    _Atomic uint32_t state;  /* also the futex word */
    _Atomic uint32_t refs;
    int kind;
    void *user;
    chp_entry_t *entries;
    uint32_t nentries;
    uint32_t capacity;
};

/* Small helpers shared by the C files. */
int chp_ring_push(chp_chan_t *c, void *value);
int chp_ring_pop(chp_chan_t *c, void **value);
size_t chp_ring_len(chp_chan_t *c);

void chp_lock(chp_chan_t *c);
void chp_unlock(chp_chan_t *c);
uint64_t chp_random(void);

void chp_waitq_link(chp_waitq_t *q, chp_entry_t *e);
void chp_waitq_unlink(chp_waitq_t *q, chp_entry_t *e);
chp_waiter_t *chp_waitq_claim(chp_waitq_t *q, chp_waiter_t *self,
                              uint32_t tag, void *give, void **take);
int chp_waitq_has_waiting(chp_waitq_t *q, chp_waiter_t *self);

#endif /* CHP_INTERNAL_H */
