/*
 * harness.h -- shared helpers for the core's C tests.
 *
 * The blocking driver h_select() is written against the public API only,
 * the way a binding drives a blocking operation (see the top of select.c):
 *
 *   try -> arm -> park (with a timeout) -> disarm -> interpret the state:
 *     DONE|i      case i took effect (recv: take the value from the waiter)
 *     NOTIFIED|i  retry case i first, then everything again
 *     ABORTED     nothing happened; loop unless the deadline passed
 *
 * Every waiter handed back through a `woken` out-parameter or by
 * chp_chan_take_waiter is woken and unref'd (h_wake).
 *
 * A blocking call without a deadline parks in slices; if it stays parked
 * longer than the stall limit (CHP_STALL_SEC, default 20 s) it prints what
 * it waits for and aborts, so a lost wake-up fails loudly instead of hanging.
 */
#ifndef CHP_TEST_HARNESS_H
#define CHP_TEST_HARNESS_H

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../chp.h"

/* --- checks ------------------------------------------------------------- */

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "\n%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                       \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_) {                                                      \
            fprintf(stderr,                                                  \
                    "\n%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n",   \
                    __FILE__, __LINE__, #a, #b, a_, b_);                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

#define CHECK_PTR_EQ(a, b)                                                   \
    do {                                                                     \
        const void *a_ = (const void *)(a), *b_ = (const void *)(b);         \
        if (a_ != b_) {                                                      \
            fprintf(stderr,                                                  \
                    "\n%s:%d: CHECK_PTR_EQ failed: %s == %s (%p vs %p)\n",   \
                    __FILE__, __LINE__, #a, #b, a_, b_);                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* A waiter state word is { index:30, tag:2 } (chp.h). */
#define H_TAG(s) ((uint32_t)(s) & 3u)
#define H_INDEX(s) ((uint32_t)(s) >> 2)
#define H_STATE(tag, index) (((uint32_t)(index) << 2) | (uint32_t)(tag))

/* --- values: integers cast to void * ------------------------------------- */

/* (id << 32 | seq): id 0, seq 0 is NULL, which the core must carry too. */
static inline void *h_val(uint32_t id, uint32_t seq)
{
    return (void *)(uintptr_t)(((uint64_t)id << 32) | seq);
}
static inline uint32_t h_val_id(void *v) { return (uint32_t)((uintptr_t)v >> 32); }
static inline uint32_t h_val_seq(void *v) { return (uint32_t)(uintptr_t)v; }

/* --- time, randomness, threads ------------------------------------------ */

static inline int64_t h_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void h_sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

/* Per-thread xorshift (tests only; the core has its own). */
static inline uint64_t h_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline void h_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    CHECK_EQ(pthread_create(t, NULL, fn, arg), 0);
}

static inline void h_join(pthread_t t) { CHECK_EQ(pthread_join(t, NULL), 0); }

static inline double h_env_double(const char *name, double dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    double d = strtod(s, &end);
    return (*end || d <= 0) ? dflt : d;
}

/* --- counters (diagnostics printed by the tests) ------------------------ */

typedef struct {
    _Atomic uint64_t parks;      /* park calls */
    _Atomic uint64_t done;       /* outcomes DONE|i */
    _Atomic uint64_t notified;   /* outcomes NOTIFIED|i */
    _Atomic uint64_t aborted;    /* outcomes ABORTED */
    _Atomic uint64_t wakes;      /* waiters woken by us */
    _Atomic uint64_t arm_ready;  /* arm said "disarm at once" */
} h_stats_t;

static h_stats_t h_stats;

/* Set by a test to widen the window between a claim and its wake-up (the
 * waiter's owner may free it meanwhile; only the claim's reference keeps
 * it alive). */
static _Atomic int h_yield_before_wake;

static inline void h_stats_reset(void)
{
    atomic_store(&h_stats.parks, 0);
    atomic_store(&h_stats.done, 0);
    atomic_store(&h_stats.notified, 0);
    atomic_store(&h_stats.aborted, 0);
    atomic_store(&h_stats.wakes, 0);
    atomic_store(&h_stats.arm_ready, 0);
}

static inline void h_stats_print(void)
{
    printf("[parks %" PRIu64 " done %" PRIu64 " notified %" PRIu64
           " aborted %" PRIu64 " wakes %" PRIu64 " arm-ready %" PRIu64 "] ",
           atomic_load(&h_stats.parks), atomic_load(&h_stats.done),
           atomic_load(&h_stats.notified), atomic_load(&h_stats.aborted),
           atomic_load(&h_stats.wakes), atomic_load(&h_stats.arm_ready));
}

#define H_COUNT(field) \
    atomic_fetch_add_explicit(&h_stats.field, 1, memory_order_relaxed)

/* --- the driver ----------------------------------------------------------- */

/* Wake and release a waiter handed to us by the core (all C-test waiters
 * are CHP_WAITER_THREAD). NULL is fine. */
static inline void h_wake(chp_waiter_t *w)
{
    if (!w)
        return;
    CHECK_EQ(chp_waiter_kind(w), CHP_WAITER_THREAD);
    if (atomic_load_explicit(&h_yield_before_wake, memory_order_relaxed))
        sched_yield();
    chp_waiter_wake(w);
    chp_waiter_unref(w);
    H_COUNT(wakes);
}

/* Close c and wake every waiter it had. Returns chp_chan_close's answer. */
static inline int h_close(chp_chan_t *c)
{
    int r = chp_chan_close(c);
    chp_waiter_t *w;
    while ((w = chp_chan_take_waiter(c)) != NULL) {
        CHECK_EQ(H_TAG(chp_waiter_state(w)), CHP_W_NOTIFIED);
        h_wake(w);
    }
    return r;
}

#define H_PARK_SLICE_NS 50000000ll /* 50 ms */

static inline int64_t h_stall_ns(void)
{
    static _Atomic int64_t cached;
    int64_t v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!v) {
        v = (int64_t)(h_env_double("CHP_STALL_SEC", 20) * 1e9);
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

static inline void h_stall_report(chp_waiter_t *w, const chp_case_t *cases,
                                  size_t n, int64_t parked_ns)
{
    fprintf(stderr,
            "\nSTALL: a blocking select has been parked for %.1f s "
            "(state %#x, %zu cases); a wake-up was lost or nobody will "
            "ever complete it:\n",
            parked_ns / 1e9, (unsigned)chp_waiter_state(w), n);
    for (size_t i = 0; i < n; i++) {
        chp_chan_t *c = cases[i].chan;
        if (!c) {
            fprintf(stderr, "  case %zu: %s on NULL\n", i,
                    cases[i].op == CHP_OP_SEND ? "send" : "recv");
            continue;
        }
        fprintf(stderr,
                "  case %zu: %s on %p cap %zu len %zu closed %d "
                "waiting senders %zu receivers %zu ready %d\n",
                i, cases[i].op == CHP_OP_SEND ? "send" : "recv", (void *)c,
                chp_chan_capacity(c), chp_chan_len(c), chp_chan_is_closed(c),
                chp_chan_waiting_senders(c), chp_chan_waiting_receivers(c),
                chp_chan_ready(c, cases[i].op, NULL));
    }
    abort();
}

/* Try one case on its own (the NOTIFIED retry). */
static inline int h_try_case(chp_waiter_t *self, const chp_case_t *cs,
                             void **value)
{
    chp_waiter_t *woken = NULL;
    int r = cs->op == CHP_OP_SEND
        ? chp_chan_try_send(cs->chan, cs->value, self, &woken)
        : chp_chan_try_recv(cs->chan, value, self, &woken);
    h_wake(woken);
    return r;
}

/*
 * Block on a select through waiter `w` (which the caller owns and may reuse
 * across calls). timeout_ns < 0: no deadline; 0: one try only.
 * Returns CHP_OK (case *fired took effect; for a recv *value holds the
 * value), CHP_CLOSED (case *fired found its channel closed) or
 * CHP_WOULDBLOCK (the deadline passed and nothing took effect).
 */
static inline int h_select(chp_waiter_t *w, const chp_case_t *cases,
                           size_t n, int64_t timeout_ns, size_t *fired,
                           void **value)
{
    int64_t deadline = timeout_ns < 0 ? -1 : h_now_ns() + timeout_ns;
    long retry = -1;
    for (;;) {
        int r;
        if (retry >= 0) {
            /* NOTIFIED|i: case i first (skipping it could strand a value). */
            void *v = NULL;
            r = h_try_case(w, &cases[retry], &v);
            if (r != CHP_WOULDBLOCK) {
                *fired = (size_t)retry;
                if (cases[retry].op == CHP_OP_RECV)
                    *value = v;
                return r;
            }
            retry = -1;
        }
        chp_waiter_t *woken = NULL;
        r = chp_select_try(cases, n, w, fired, value, &woken);
        h_wake(woken);
        CHECK(r != CHP_NOMEM);
        if (r != CHP_WOULDBLOCK) {
            CHECK(*fired < n);
            return r;
        }
        if (deadline >= 0 && h_now_ns() >= deadline)
            return CHP_WOULDBLOCK;

        int armed = chp_select_arm(w, cases, n);
        CHECK(armed >= 0);
        if (armed) {
            int64_t parked_from = h_now_ns();
            for (;;) {
                int64_t slice = H_PARK_SLICE_NS;
                if (deadline >= 0) {
                    int64_t rem = deadline - h_now_ns();
                    if (rem <= 0)
                        break;
                    if (rem < slice)
                        slice = rem;
                }
                H_COUNT(parks);
                if (chp_waiter_park(w, slice) != CHP_W_WAITING)
                    break;
                if (deadline < 0) {
                    int64_t parked = h_now_ns() - parked_from;
                    if (parked > h_stall_ns())
                        h_stall_report(w, cases, n, parked);
                }
            }
        } else {
            H_COUNT(arm_ready);
        }

        uint32_t s = chp_select_disarm(w);
        uint32_t idx = H_INDEX(s);
        switch (H_TAG(s)) {
        case CHP_W_DONE:
            H_COUNT(done);
            CHECK(idx < n);
            CHECK(cases[idx].chan != NULL);
            *fired = idx;
            if (cases[idx].op == CHP_OP_RECV)
                *value = chp_waiter_take_value(w, idx);
            return CHP_OK;
        case CHP_W_NOTIFIED:
            H_COUNT(notified);
            CHECK(idx < n);
            CHECK(cases[idx].chan != NULL);
            retry = (long)idx;
            break;
        case CHP_W_ABORTED:
            H_COUNT(aborted);
            CHECK_EQ(idx, 0);
            break;
        default:
            fprintf(stderr, "\ndisarm returned WAITING (%#x)\n", (unsigned)s);
            abort();
        }
    }
}

/* Plain blocking send / recv: a select of one case. */
static inline int h_send(chp_waiter_t *w, chp_chan_t *c, void *v,
                         int64_t timeout_ns)
{
    chp_case_t cs = {c, v, CHP_OP_SEND};
    size_t fired;
    void *unused = NULL;
    return h_select(w, &cs, 1, timeout_ns, &fired, &unused);
}

static inline int h_recv(chp_waiter_t *w, chp_chan_t *c, void **v,
                         int64_t timeout_ns)
{
    chp_case_t cs = {c, NULL, CHP_OP_RECV};
    size_t fired;
    return h_select(w, &cs, 1, timeout_ns, &fired, v);
}

static inline chp_waiter_t *h_waiter(void)
{
    chp_waiter_t *w = chp_waiter_new(CHP_WAITER_THREAD, NULL);
    CHECK(w != NULL);
    return w;
}

#endif /* CHP_TEST_HARNESS_H */
