/*
 * chp.h -- the public C API of chanpy's channel core.
 *
 * This header is also the cffi cdef: build_ffi.py feeds it to ffi.cdef()
 * after dropping preprocessor lines, so it holds declarations only (no
 * macros with values, no struct bodies). Layouts live in chp_internal.h.
 *
 * The core is plain C11 (no Python.h). It moves opaque `void *` values and
 * never interprets them: every value pointer the core holds is an owned
 * reference that moves with the value (the caller's binding decides what
 * "owned" means; for Python, one strong reference).
 *
 * Calling rules:
 * - Every function here is non-blocking except chp_waiter_park().
 * - A function that may complete another party's operation returns that
 *   party's waiter through `woken` with a reference taken. The caller must
 *   wake it (chp_waiter_wake for CHP_WAITER_THREAD; its own mechanism for
 *   other kinds) and then chp_waiter_unref it. No lock is held by then.
 */
#ifndef CHP_H
#define CHP_H

#include <stddef.h>
#include <stdint.h>

typedef struct chp_chan chp_chan_t;
typedef struct chp_waiter chp_waiter_t;

/* Outcome of an operation. */
enum {
    CHP_OK = 0,          /* the operation took effect */
    CHP_WOULDBLOCK = 1,  /* it cannot take effect right now; nothing changed */
    CHP_CLOSED = 2,      /* the channel is closed (recv: and drained) */
    CHP_NOMEM = 3        /* allocation failed; nothing changed */
};

/* What a case does. */
enum { CHP_OP_RECV = 0, CHP_OP_SEND = 1 };

/* Who waits on a waiter: a thread parks in chp_waiter_park(); a task is
 * woken by its binding (trio/asyncio) when a claimer hands it back. */
enum { CHP_WAITER_THREAD = 0, CHP_WAITER_TASK = 1 };

/* A waiter's state word is { index:30, tag:2 } (see chp_internal.h). */
enum {
    CHP_W_WAITING = 0,   /* armed, nobody has completed it */
    CHP_W_ABORTED = 1,   /* its owner gave up (timeout, cancel, re-check) */
    CHP_W_DONE = 2,      /* case `index` was completed by a counterpart */
    CHP_W_NOTIFIED = 3   /* case `index` may be ready now: retry it */
};

/* One case of a select: a NULL chan is never ready (Go's nil channel). */
typedef struct chp_case {
    chp_chan_t *chan;
    void *value;      /* send: the value offered (an owned reference) */
    uint32_t op;      /* CHP_OP_RECV or CHP_OP_SEND */
} chp_case_t;

/* The version baked into the library; the binding refuses a mismatch. */
const char *chp_version(void);

/* --- channels ----------------------------------------------------------- */

/* A channel with `capacity` buffered slots (0: unbuffered). NULL if out of
 * memory or if capacity is absurdly large. */
chp_chan_t *chp_chan_new(size_t capacity);
/* Precondition: no waiter is registered and the buffer was drained with
 * chp_chan_try_recv (the core cannot release values it does not own). */
void chp_chan_free(chp_chan_t *c);

size_t chp_chan_capacity(const chp_chan_t *c);
size_t chp_chan_len(chp_chan_t *c);

/* Call visit(value, arg) for each value buffered in c, oldest first; stop
 * and return the first non-zero result. Only exact while no other thread
 * operates on c: the caller provides that (chanpy: the GIL, for the
 * garbage collector's traversal). */
int chp_chan_visit(chp_chan_t *c, int (*visit)(void *value, void *arg),
                   void *arg);
/* Teardown: take one buffered value without notifying or claiming any
 * waiter. CHP_OK (*value set) or CHP_WOULDBLOCK when the buffer is empty. */
int chp_chan_take_buffered(chp_chan_t *c, void **value);
int chp_chan_is_closed(chp_chan_t *c);
size_t chp_chan_waiting_senders(chp_chan_t *c);
size_t chp_chan_waiting_receivers(chp_chan_t *c);

/* Try to send `value`. CHP_OK: the value moved into the buffer or to a
 * waiting receiver. `self` (may be NULL) is never matched with itself. */
int chp_chan_try_send(chp_chan_t *c, void *value, chp_waiter_t *self,
                      chp_waiter_t **woken);
/* Try to receive into *value. CHP_CLOSED only once closed and drained. */
int chp_chan_try_recv(chp_chan_t *c, void **value, chp_waiter_t *self,
                      chp_waiter_t **woken);
/* Non-zero if `op` would complete now or the channel is closed (a hint:
 * the answer may change at once). */
int chp_chan_ready(chp_chan_t *c, uint32_t op, chp_waiter_t *self);

/* Close. Returns 1 if this call closed the channel, 0 if it already was.
 * Then call chp_chan_take_waiter until it returns NULL and wake each one. */
int chp_chan_close(chp_chan_t *c);
/* After close: claim one registered waiter (state NOTIFIED) or NULL. */
chp_waiter_t *chp_chan_take_waiter(chp_chan_t *c);
/* A waiter that was NOTIFIED for case (c, op) but leaves without retrying
 * (cancelled, interrupted) passes the notification on: if the case is
 * still ready, claim one other waiter for it (NOTIFIED) and return it to be
 * woken, else NULL. Without this a value could sit in the buffer while a
 * receiver sleeps. */
chp_waiter_t *chp_chan_pass_notification(chp_chan_t *c, uint32_t op);

/* --- select ------------------------------------------------------------- */

/* Try the cases once, in a uniformly random order. CHP_OK: case *fired
 * completed (*value holds the received value for a recv). CHP_CLOSED: case
 * *fired found its channel closed (recv: drained). CHP_WOULDBLOCK: none. */
int chp_select_try(const chp_case_t *cases, size_t n, chp_waiter_t *self,
                   size_t *fired, void **value, chp_waiter_t **woken);

/* Register `w` on every case (in a random order), then re-check them.
 * Returns 1 if the caller should wait for w's state to leave WAITING,
 * 0 if it should disarm at once (a case is ready, or w was completed).
 * CHP_NOMEM is reported as -1 (nothing registered). */
int chp_select_arm(chp_waiter_t *w, const chp_case_t *cases, size_t n);
/* Abort w if it is still waiting, unregister every entry, and return the
 * final state word. Exactly one of these holds afterwards: ABORTED (no case
 * took effect), DONE|index (case index took effect), NOTIFIED|index. */
uint32_t chp_select_disarm(chp_waiter_t *w);

/* --- waiters ------------------------------------------------------------ */

chp_waiter_t *chp_waiter_new(int kind, void *user);
void chp_waiter_ref(chp_waiter_t *w);
void chp_waiter_unref(chp_waiter_t *w);
int chp_waiter_kind(const chp_waiter_t *w);
void *chp_waiter_user(const chp_waiter_t *w);
uint32_t chp_waiter_state(chp_waiter_t *w);
/* The value handed to recv case `index` (valid once state is DONE|index;
 * the reference moves to the caller). */
void *chp_waiter_take_value(chp_waiter_t *w, uint32_t index);
/* The value the owner offered on send case `index` (owned by the entry
 * until disarm; the binding releases the ones not taken). */
void *chp_waiter_offered(chp_waiter_t *w, uint32_t index);
uint32_t chp_waiter_ncases(const chp_waiter_t *w);

/* Block the calling thread until w's state leaves WAITING, `timeout_ns`
 * passes (< 0: no limit) or a signal arrives. Returns the state then
 * (CHP_W_WAITING if it returned for time or a signal). */
uint32_t chp_waiter_park(chp_waiter_t *w, int64_t timeout_ns);
/* Wake a thread parked on w (a spurious wake-up is harmless). */
void chp_waiter_wake(chp_waiter_t *w);

#endif /* CHP_H */
