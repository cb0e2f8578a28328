/*
 * test_stress.c -- the channel core on its own, driven from many pthreads.
 *
 * Each test prints its name, then "ok" with its time and the driver's
 * counters. A failed check prints file:line and aborts; a hang is caught by
 * the stall detector in harness.h or by the per-test alarm().
 *
 * Environment:
 *   CHP_STRESS_SCALE  multiplies the work (default 1)
 *   CHP_TEST_TIMEOUT  seconds before a single test is declared hung (120)
 *   CHP_STALL_SEC     seconds a blocking call may stay parked (20)
 *   CHP_ONLY          run only the tests whose name contains this string
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static double g_scale = 1;
static unsigned g_timeout_sec = 120;
static const char *volatile g_test = "startup";
static int64_t g_t0;

static void on_alarm(int sig)
{
    (void)sig;
    static const char a[] = "\nTIMEOUT: test '";
    static const char b[] = "' did not finish in time (hung?)\n";
    const char *t = g_test;
    if (write(2, a, sizeof a - 1) < 0 || write(2, t, strlen(t)) < 0
        || write(2, b, sizeof b - 1) < 0) {
    }
    abort();
}

static int selected(const char *name)
{
    const char *only = getenv("CHP_ONLY");
    return !only || !*only || strstr(name, only) != NULL;
}

static void begin(const char *name)
{
    g_test = name;
    printf("%-28s ", name);
    fflush(stdout);
    h_stats_reset();
    alarm(g_timeout_sec);
    g_t0 = h_now_ns();
}

static void end(void)
{
    alarm(0);
    printf("ok (%.2fs) ", (h_now_ns() - g_t0) / 1e9);
    h_stats_print();
    printf("\n");
    fflush(stdout);
}

static uint32_t scaled(double n)
{
    double v = n * g_scale;
    return v < 1 ? 1 : (uint32_t)v;
}

/* --- a ledger: each value sent at most once, received iff sent ---------- */

typedef struct {
    uint32_t nids, maxseq;
    _Atomic uint8_t *sent;
    _Atomic uint8_t *recvd;
} ledger_t;

static void ledger_init(ledger_t *l, uint32_t nids, uint32_t maxseq)
{
    l->nids = nids;
    l->maxseq = maxseq;
    l->sent = calloc((size_t)nids * maxseq, 1);
    l->recvd = calloc((size_t)nids * maxseq, 1);
    CHECK(l->sent && l->recvd);
}

static void ledger_free(ledger_t *l)
{
    free((void *)l->sent);
    free((void *)l->recvd);
}

static size_t ledger_slot(ledger_t *l, void *v)
{
    uint32_t id = h_val_id(v), seq = h_val_seq(v);
    if (id >= l->nids || seq >= l->maxseq) {
        fprintf(stderr, "\nvalue %p was never offered by anyone\n", v);
        abort();
    }
    return (size_t)id * l->maxseq + seq;
}

/* The sender learned that v went through (its send returned CHP_OK). */
static void ledger_sent(ledger_t *l, void *v)
{
    CHECK_EQ(atomic_fetch_add(&l->sent[ledger_slot(l, v)], 1), 0);
}

/* Somebody received v: it must be the first time. */
static void ledger_recv(ledger_t *l, void *v)
{
    size_t s = ledger_slot(l, v);
    if (atomic_fetch_add(&l->recvd[s], 1) != 0) {
        fprintf(stderr, "\nvalue %p received twice\n", v);
        abort();
    }
}

/* After everyone stopped and the channels were drained: received iff sent.
 * Returns the number of values that moved. */
static uint64_t ledger_check(ledger_t *l)
{
    uint64_t moved = 0;
    for (size_t i = 0; i < (size_t)l->nids * l->maxseq; i++) {
        uint8_t s = atomic_load(&l->sent[i]), r = atomic_load(&l->recvd[i]);
        if (s != r) {
            fprintf(stderr,
                    "\nvalue id %zu seq %zu: sent %u times, received %u "
                    "times (%s)\n",
                    i / l->maxseq, i % l->maxseq, s, r,
                    s ? "LOST" : "received but never reported sent");
            abort();
        }
        moved += s;
    }
    return moved;
}

/* Receive everything left in a closed channel (non-blocking). */
static void drain_closed(chp_chan_t *c, ledger_t *l)
{
    for (;;) {
        void *v;
        chp_waiter_t *woken;
        int r = chp_chan_try_recv(c, &v, NULL, &woken);
        h_wake(woken);
        if (r == CHP_CLOSED)
            break;
        CHECK_EQ(r, CHP_OK);
        ledger_recv(l, v);
    }
}

/* Wait (bounded) until a channel has `n` registered senders / receivers. */
static void wait_waiting(chp_chan_t *c, uint32_t op, size_t n)
{
    int64_t until = h_now_ns() + 10000000000ll;
    for (;;) {
        size_t k = op == CHP_OP_SEND ? chp_chan_waiting_senders(c)
                                     : chp_chan_waiting_receivers(c);
        if (k == n)
            return;
        CHECK(h_now_ns() < until);
        h_sleep_ns(1000000);
    }
}

/* ========================================================================
 * semantics: every function's return codes, single-threaded.
 * Proves the documented contract case by case: try on empty/full, FIFO,
 * NULL values, len/capacity/waiting counts, ready(), hand-off to and from
 * an armed waiter (DONE), notification on buffered channels (NOTIFIED),
 * self-exclusion, abort, NULL-channel cases, close + take_waiter, and
 * select_try/arm beyond the 16-case stack buffer.
 * ====================================================================== */

#define V(n) ((void *)(uintptr_t)(0x1000 + (n)))
#define SENTINEL ((void *)(uintptr_t)0xdeadbeef)

static void expect_woken(chp_waiter_t *woken, chp_waiter_t *w, uint32_t state)
{
    CHECK_PTR_EQ(woken, w);
    CHECK_EQ(chp_waiter_state(w), state);
    chp_waiter_wake(woken);
    chp_waiter_unref(woken);
}

static void test_semantics(void)
{
    begin("semantics");
    chp_waiter_t *woken = SENTINEL;
    void *v;

    CHECK(chp_version() != NULL && chp_version()[0] != '\0');
    CHECK(chp_chan_new((size_t)1 << 41) == NULL);

    /* Buffered: empty, full, FIFO, NULL values, wrap-around. */
    chp_chan_t *b = chp_chan_new(2);
    CHECK(b != NULL);
    CHECK_EQ(chp_chan_capacity(b), 2);
    CHECK_EQ(chp_chan_len(b), 0);
    CHECK_EQ(chp_chan_is_closed(b), 0);
    CHECK_EQ(chp_chan_waiting_senders(b), 0);
    CHECK_EQ(chp_chan_waiting_receivers(b), 0);
    CHECK_EQ(chp_chan_ready(b, CHP_OP_RECV, NULL), 0);
    CHECK(chp_chan_ready(b, CHP_OP_SEND, NULL));
    v = SENTINEL;
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_WOULDBLOCK);
    CHECK_PTR_EQ(woken, NULL);
    CHECK_PTR_EQ(v, SENTINEL);
    woken = SENTINEL;
    CHECK_EQ(chp_chan_try_send(b, V(1), NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(woken, NULL);
    CHECK_EQ(chp_chan_len(b), 1);
    CHECK(chp_chan_ready(b, CHP_OP_RECV, NULL));
    CHECK(chp_chan_ready(b, CHP_OP_SEND, NULL));
    CHECK_EQ(chp_chan_try_send(b, NULL, NULL, &woken), CHP_OK);
    CHECK_EQ(chp_chan_len(b), 2);
    CHECK_EQ(chp_chan_ready(b, CHP_OP_SEND, NULL), 0);
    CHECK_EQ(chp_chan_try_send(b, V(2), NULL, &woken), CHP_WOULDBLOCK);
    CHECK_PTR_EQ(woken, NULL);
    CHECK_EQ(chp_chan_len(b), 2);
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(1));
    CHECK_PTR_EQ(woken, NULL);
    v = SENTINEL;
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, NULL); /* NULL is a value like any other */
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_WOULDBLOCK);
    CHECK_EQ(chp_chan_len(b), 0);
    for (int i = 0; i < 25; i++) { /* many laps around the ring */
        CHECK_EQ(chp_chan_try_send(b, V(10 + i), NULL, &woken), CHP_OK);
        CHECK_EQ(chp_chan_try_send(b, V(50 + i), NULL, &woken), CHP_OK);
        CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_OK);
        CHECK_PTR_EQ(v, V(10 + i));
        CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_OK);
        CHECK_PTR_EQ(v, V(50 + i));
    }
    CHECK_EQ(chp_chan_close(b), 1);
    CHECK_EQ(chp_chan_close(b), 0);
    CHECK_EQ(chp_chan_is_closed(b), 1);
    CHECK_EQ(chp_chan_try_send(b, V(3), NULL, &woken), CHP_CLOSED);
    CHECK_PTR_EQ(woken, NULL);
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_CLOSED);
    CHECK(chp_chan_ready(b, CHP_OP_RECV, NULL));
    CHECK(chp_chan_ready(b, CHP_OP_SEND, NULL));
    CHECK_PTR_EQ(chp_chan_take_waiter(b), NULL);
    chp_chan_free(b);

    /* Close keeps buffered values: they drain first, then CLOSED. */
    b = chp_chan_new(3);
    CHECK_EQ(chp_chan_try_send(b, V(1), NULL, &woken), CHP_OK);
    CHECK_EQ(chp_chan_try_send(b, V(2), NULL, &woken), CHP_OK);
    CHECK_EQ(chp_chan_close(b), 1);
    CHECK_EQ(chp_chan_try_send(b, V(3), NULL, &woken), CHP_CLOSED);
    CHECK_EQ(chp_chan_len(b), 2);
    CHECK(chp_chan_ready(b, CHP_OP_SEND, NULL)); /* closed counts as ready */
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(1));
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(2));
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_CLOSED);
    CHECK_EQ(chp_chan_try_recv(b, &v, NULL, &woken), CHP_CLOSED);
    chp_chan_free(b);

    /* Unbuffered with nobody waiting: nothing can happen. */
    chp_chan_t *u = chp_chan_new(0);
    CHECK(u != NULL);
    CHECK_EQ(chp_chan_capacity(u), 0);
    CHECK_EQ(chp_chan_len(u), 0);
    CHECK_EQ(chp_chan_try_send(u, V(1), NULL, &woken), CHP_WOULDBLOCK);
    CHECK_PTR_EQ(woken, NULL);
    CHECK_EQ(chp_chan_try_recv(u, &v, NULL, &woken), CHP_WOULDBLOCK);
    CHECK_EQ(chp_chan_ready(u, CHP_OP_SEND, NULL), 0);
    CHECK_EQ(chp_chan_ready(u, CHP_OP_RECV, NULL), 0);

    /* Waiter basics. A fresh waiter is not armed (ABORTED); parking on a
     * waiter that is not WAITING returns at once. */
    int tag;
    chp_waiter_t *w = chp_waiter_new(CHP_WAITER_THREAD, &tag);
    CHECK(w != NULL);
    CHECK_EQ(chp_waiter_kind(w), CHP_WAITER_THREAD);
    CHECK_PTR_EQ(chp_waiter_user(w), &tag);
    CHECK_EQ(chp_waiter_ncases(w), 0);
    CHECK_EQ(chp_waiter_state(w), CHP_W_ABORTED);
    CHECK_EQ(chp_waiter_park(w, -1), CHP_W_ABORTED);

    /* A sender completes an armed receiver: DONE|0, value in the waiter. */
    chp_case_t rc = {u, NULL, CHP_OP_RECV};
    CHECK_EQ(chp_select_arm(w, &rc, 1), 1);
    CHECK_EQ(chp_waiter_state(w), CHP_W_WAITING);
    CHECK_EQ(chp_waiter_ncases(w), 1);
    CHECK_EQ(chp_chan_waiting_receivers(u), 1);
    CHECK_EQ(chp_chan_waiting_senders(u), 0);
    CHECK(chp_chan_ready(u, CHP_OP_SEND, NULL));
    CHECK_EQ(chp_chan_ready(u, CHP_OP_RECV, NULL), 0);
    CHECK_EQ(chp_chan_ready(u, CHP_OP_SEND, w), 0); /* not with itself */
    CHECK_EQ(chp_waiter_park(w, 1000000), CHP_W_WAITING); /* times out */
    CHECK_EQ(chp_chan_try_send(u, V(7), NULL, &woken), CHP_OK);
    CHECK_EQ(chp_chan_waiting_receivers(u), 0);
    expect_woken(woken, w, H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_waiter_park(w, -1), H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 0));
    CHECK_PTR_EQ(chp_waiter_take_value(w, 0), V(7));

    /* A receiver completes an armed sender. */
    chp_case_t sc = {u, V(8), CHP_OP_SEND};
    CHECK_EQ(chp_select_arm(w, &sc, 1), 1);
    CHECK_EQ(chp_chan_waiting_senders(u), 1);
    CHECK_PTR_EQ(chp_waiter_offered(w, 0), V(8));
    CHECK(chp_chan_ready(u, CHP_OP_RECV, NULL));
    CHECK_EQ(chp_chan_try_recv(u, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(8));
    expect_woken(woken, w, H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_chan_waiting_senders(u), 0);

    /* NULL through an unbuffered hand-off, both directions. */
    CHECK_EQ(chp_select_arm(w, &rc, 1), 1);
    CHECK_EQ(chp_chan_try_send(u, NULL, NULL, &woken), CHP_OK);
    expect_woken(woken, w, H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 0));
    CHECK_PTR_EQ(chp_waiter_take_value(w, 0), NULL);
    chp_case_t snull = {u, NULL, CHP_OP_SEND};
    CHECK_EQ(chp_select_arm(w, &snull, 1), 1);
    v = SENTINEL;
    CHECK_EQ(chp_chan_try_recv(u, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, NULL);
    expect_woken(woken, w, H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 0));

    /* A waiter is never matched with itself: send and recv on one
     * unbuffered channel in one select stay waiting. */
    chp_case_t both[2] = {{u, V(3), CHP_OP_SEND}, {u, NULL, CHP_OP_RECV}};
    CHECK_EQ(chp_select_arm(w, both, 2), 1);
    CHECK_EQ(chp_chan_waiting_senders(u), 1);
    CHECK_EQ(chp_chan_waiting_receivers(u), 1);
    CHECK_EQ(chp_chan_try_recv(u, &v, w, &woken), CHP_WOULDBLOCK);
    CHECK_PTR_EQ(woken, NULL);
    CHECK_EQ(chp_chan_try_send(u, V(4), w, &woken), CHP_WOULDBLOCK);
    CHECK_EQ(chp_chan_ready(u, CHP_OP_RECV, w), 0);
    CHECK(chp_chan_ready(u, CHP_OP_RECV, NULL));
    CHECK_EQ(chp_chan_try_recv(u, &v, NULL, &woken), CHP_OK); /* a stranger */
    CHECK_PTR_EQ(v, V(3));
    expect_woken(woken, w, H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 0));
    CHECK_EQ(chp_chan_waiting_senders(u), 0);
    CHECK_EQ(chp_chan_waiting_receivers(u), 0);

    /* Abort: nothing took effect, nothing stays registered. */
    CHECK_EQ(chp_select_arm(w, &rc, 1), 1);
    CHECK_EQ(chp_select_disarm(w), CHP_W_ABORTED);
    CHECK_EQ(chp_chan_waiting_receivers(u), 0);
    CHECK_EQ(chp_chan_try_send(u, V(1), NULL, &woken), CHP_WOULDBLOCK);
    CHECK_EQ(chp_select_disarm(w), CHP_W_ABORTED); /* idempotent */

    /* NULL-channel cases are never ready; indices still count them. */
    chp_case_t nc[3] = {{NULL, NULL, CHP_OP_RECV},
                        {NULL, V(1), CHP_OP_SEND},
                        {u, NULL, CHP_OP_RECV}};
    size_t fired = 99;
    CHECK_EQ(chp_select_try(nc, 2, w, &fired, &v, &woken), CHP_WOULDBLOCK);
    CHECK_PTR_EQ(woken, NULL);
    CHECK_EQ(chp_select_try(nc, 3, w, &fired, &v, &woken), CHP_WOULDBLOCK);
    CHECK_EQ(chp_select_arm(w, nc, 3), 1);
    CHECK_EQ(chp_chan_try_send(u, V(5), NULL, &woken), CHP_OK);
    expect_woken(woken, w, H_STATE(CHP_W_DONE, 2));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 2));
    CHECK_PTR_EQ(chp_waiter_take_value(w, 2), V(5));

    /* Buffered channels NOTIFY their waiters (who then retry). */
    chp_chan_t *b1 = chp_chan_new(1);
    chp_case_t brc = {b1, NULL, CHP_OP_RECV};
    CHECK_EQ(chp_select_arm(w, &brc, 1), 1);
    CHECK_EQ(chp_chan_waiting_receivers(b1), 1);
    CHECK_EQ(chp_chan_try_send(b1, V(1), NULL, &woken), CHP_OK);
    CHECK_EQ(chp_chan_waiting_receivers(b1), 0);
    expect_woken(woken, w, H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_EQ(chp_chan_try_recv(b1, &v, w, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(1));
    CHECK_PTR_EQ(woken, NULL);
    CHECK_EQ(chp_chan_try_send(b1, V(2), NULL, &woken), CHP_OK); /* full */
    chp_case_t bsc = {b1, V(3), CHP_OP_SEND};
    CHECK_EQ(chp_select_arm(w, &bsc, 1), 1);
    CHECK_EQ(chp_chan_waiting_senders(b1), 1);
    CHECK_EQ(chp_chan_try_recv(b1, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(2));
    expect_woken(woken, w, H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_EQ(chp_chan_try_send(b1, V(3), w, &woken), CHP_OK);
    /* Arming on a case that is already ready says "disarm at once". */
    CHECK_EQ(chp_select_arm(w, &brc, 1), 0);
    CHECK_EQ(chp_select_disarm(w), CHP_W_ABORTED);
    CHECK_EQ(chp_chan_try_recv(b1, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(3));

    /* A NOTIFIED waiter that leaves without retrying passes the notice
     * on to the next waiter while the case is still ready; never when it
     * is not, and never on an unbuffered channel. */
    {
        chp_chan_t *pb = chp_chan_new(1);
        chp_waiter_t *w2 = chp_waiter_new(CHP_WAITER_THREAD, NULL);
        chp_case_t prc = {pb, NULL, CHP_OP_RECV};
        CHECK_EQ(chp_select_arm(w, &prc, 1), 1);
        CHECK_EQ(chp_select_arm(w2, &prc, 1), 1);
        CHECK_EQ(chp_chan_try_send(pb, V(21), NULL, &woken), CHP_OK);
        expect_woken(woken, w, H_STATE(CHP_W_NOTIFIED, 0));
        CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_NOTIFIED, 0));
        woken = chp_chan_pass_notification(pb, CHP_OP_RECV);
        expect_woken(woken, w2, H_STATE(CHP_W_NOTIFIED, 0));
        CHECK_EQ(chp_select_disarm(w2), H_STATE(CHP_W_NOTIFIED, 0));
        CHECK_PTR_EQ(chp_chan_pass_notification(pb, CHP_OP_RECV), NULL);
        CHECK_EQ(chp_chan_try_recv(pb, &v, NULL, &woken), CHP_OK);
        CHECK_PTR_EQ(v, V(21));
        CHECK_EQ(chp_select_arm(w2, &prc, 1), 1);
        CHECK_PTR_EQ(chp_chan_pass_notification(pb, CHP_OP_RECV), NULL);
        CHECK_EQ(chp_waiter_state(w2), CHP_W_WAITING); /* nothing to tell */
        CHECK_EQ(chp_select_disarm(w2), CHP_W_ABORTED);
        CHECK_PTR_EQ(chp_chan_pass_notification(u, CHP_OP_RECV), NULL);
        chp_waiter_unref(w2);
        chp_chan_free(pb);
    }

    /* Close does not wake by itself; take_waiter claims each registered
     * waiter as NOTIFIED, once. */
    chp_chan_t *u2 = chp_chan_new(0);
    chp_case_t rc2 = {u2, NULL, CHP_OP_RECV};
    CHECK_EQ(chp_select_arm(w, &rc2, 1), 1);
    CHECK_EQ(chp_chan_close(u2), 1);
    CHECK_EQ(chp_waiter_state(w), CHP_W_WAITING);
    woken = chp_chan_take_waiter(u2);
    expect_woken(woken, w, H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_PTR_EQ(chp_chan_take_waiter(u2), NULL);
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_EQ(chp_chan_try_recv(u2, &v, w, &woken), CHP_CLOSED);
    CHECK_EQ(chp_chan_try_send(u2, V(1), w, &woken), CHP_CLOSED);
    CHECK(chp_chan_ready(u2, CHP_OP_RECV, NULL));
    CHECK(chp_chan_ready(u2, CHP_OP_SEND, NULL));
    CHECK_EQ(chp_chan_close(u2), 0);
    chp_case_t sc2 = {u2, V(1), CHP_OP_SEND};
    CHECK_EQ(chp_select_arm(w, &sc2, 1), 0); /* closed is ready */
    CHECK_EQ(chp_select_disarm(w), CHP_W_ABORTED);
    CHECK_EQ(chp_chan_waiting_senders(u2), 0);

    /* The same on a buffered channel, for a blocked sender. */
    chp_chan_t *b2 = chp_chan_new(1);
    CHECK_EQ(chp_chan_try_send(b2, V(1), NULL, &woken), CHP_OK);
    chp_case_t bsc2 = {b2, V(2), CHP_OP_SEND};
    CHECK_EQ(chp_select_arm(w, &bsc2, 1), 1);
    CHECK_EQ(chp_chan_close(b2), 1);
    woken = chp_chan_take_waiter(b2);
    expect_woken(woken, w, H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_PTR_EQ(chp_chan_take_waiter(b2), NULL);
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_NOTIFIED, 0));
    CHECK_EQ(chp_chan_try_send(b2, V(2), w, &woken), CHP_CLOSED);
    CHECK_EQ(chp_chan_try_recv(b2, &v, NULL, &woken), CHP_OK);
    CHECK_PTR_EQ(v, V(1));
    CHECK_EQ(chp_chan_try_recv(b2, &v, NULL, &woken), CHP_CLOSED);

    /* select_try: nothing ready, a recv, a send, a closed channel. */
    chp_chan_t *b3 = chp_chan_new(1);
    CHECK_EQ(chp_select_try(NULL, 0, w, &fired, &v, &woken), CHP_WOULDBLOCK);
    chp_case_t st[3] = {{b3, NULL, CHP_OP_RECV},
                        {u, NULL, CHP_OP_RECV},
                        {u, V(1), CHP_OP_SEND}};
    CHECK_EQ(chp_select_try(st, 3, w, &fired, &v, &woken), CHP_WOULDBLOCK);
    CHECK_EQ(chp_chan_try_send(b3, V(9), NULL, &woken), CHP_OK);
    CHECK_EQ(chp_select_try(st, 3, w, &fired, &v, &woken), CHP_OK);
    CHECK_EQ(fired, 0);
    CHECK_PTR_EQ(v, V(9));
    chp_case_t st2[2] = {{u, NULL, CHP_OP_RECV}, {b3, V(10), CHP_OP_SEND}};
    CHECK_EQ(chp_select_try(st2, 2, w, &fired, &v, &woken), CHP_OK);
    CHECK_EQ(fired, 1);
    CHECK_EQ(chp_chan_len(b3), 1);
    chp_case_t st3[2] = {{u, NULL, CHP_OP_RECV}, {u2, NULL, CHP_OP_RECV}};
    CHECK_EQ(chp_select_try(st3, 2, w, &fired, &v, &woken), CHP_CLOSED);
    CHECK_EQ(fired, 1);

    /* More cases than select.c's 16-entry stack buffer. */
    chp_case_t many[20];
    for (int i = 0; i < 20; i++)
        many[i] = (chp_case_t){NULL, NULL, CHP_OP_RECV};
    many[17].chan = b3;
    CHECK_EQ(chp_select_try(many, 20, w, &fired, &v, &woken), CHP_OK);
    CHECK_EQ(fired, 17);
    CHECK_PTR_EQ(v, V(10));
    many[17].chan = NULL;
    many[19].chan = u;
    CHECK_EQ(chp_select_arm(w, many, 20), 1);
    CHECK_EQ(chp_waiter_ncases(w), 20);
    CHECK_EQ(chp_chan_try_send(u, V(11), NULL, &woken), CHP_OK);
    expect_woken(woken, w, H_STATE(CHP_W_DONE, 19));
    CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 19));
    CHECK_PTR_EQ(chp_waiter_take_value(w, 19), V(11));
    CHECK_EQ(chp_chan_waiting_receivers(u), 0);

    chp_waiter_unref(w);
    chp_chan_free(u);
    chp_chan_free(u2);
    chp_chan_free(b1);
    chp_chan_free(b2);
    chp_chan_free(b3);
    end();
}

/* ========================================================================
 * ring MPMC / unbuffered hand-off: 8 producers x 8 consumers through one
 * channel of capacity 1, 16, 1024 and 0, with blocking send/recv.
 * Proves: every value is received exactly once (seen[] bitmap), values of
 * one producer reach any one consumer in the order they were sent, and a
 * consumer parked with no deadline is always woken (stall detector); the
 * final close lets every consumer out with CHP_CLOSED.
 * ====================================================================== */

#define NPROD 8
#define NCONS 8

typedef struct {
    chp_chan_t *c;
    uint32_t per;          /* values per producer */
    _Atomic uint8_t *seen; /* NPROD * per */
    _Atomic uint64_t received;
} mpmc_t;

typedef struct {
    mpmc_t *m;
    uint32_t id;
} mpmc_arg_t;

static void *mpmc_producer(void *p)
{
    mpmc_arg_t *a = p;
    chp_waiter_t *w = h_waiter();
    for (uint32_t seq = 0; seq < a->m->per; seq++)
        CHECK_EQ(h_send(w, a->m->c, h_val(a->id + 1, seq), -1), CHP_OK);
    chp_waiter_unref(w);
    return NULL;
}

static void *mpmc_consumer(void *p)
{
    mpmc_arg_t *a = p;
    mpmc_t *m = a->m;
    int64_t last[NPROD];
    for (int i = 0; i < NPROD; i++)
        last[i] = -1;
    chp_waiter_t *w = h_waiter();
    uint64_t n = 0;
    for (;;) {
        void *v = SENTINEL;
        int r = h_recv(w, m->c, &v, -1);
        if (r == CHP_CLOSED)
            break;
        CHECK_EQ(r, CHP_OK);
        uint32_t id = h_val_id(v) - 1, seq = h_val_seq(v);
        CHECK(id < NPROD && seq < m->per);
        if ((int64_t)seq <= last[id]) {
            fprintf(stderr,
                    "\nconsumer %u: producer %u's seq %u after seq %lld\n",
                    a->id, id, seq, (long long)last[id]);
            abort();
        }
        last[id] = seq;
        if (atomic_fetch_add(&m->seen[(size_t)id * m->per + seq], 1) != 0) {
            fprintf(stderr, "\nvalue %p received twice\n", v);
            abort();
        }
        n++;
    }
    /* Closed and drained stays that way. */
    void *v;
    chp_waiter_t *woken;
    CHECK_EQ(chp_chan_try_recv(m->c, &v, w, &woken), CHP_CLOSED);
    atomic_fetch_add(&m->received, n);
    chp_waiter_unref(w);
    return NULL;
}

static void run_mpmc(size_t cap, uint32_t total)
{
    mpmc_t m;
    m.c = chp_chan_new(cap);
    CHECK(m.c != NULL);
    m.per = (total + NPROD - 1) / NPROD;
    m.seen = calloc((size_t)NPROD * m.per, 1);
    CHECK(m.seen != NULL);
    atomic_init(&m.received, 0);
    pthread_t pt[NPROD], ct[NCONS];
    mpmc_arg_t pa[NPROD], ca[NCONS];
    for (uint32_t i = 0; i < NCONS; i++) {
        ca[i] = (mpmc_arg_t){&m, i};
        h_spawn(&ct[i], mpmc_consumer, &ca[i]);
    }
    for (uint32_t i = 0; i < NPROD; i++) {
        pa[i] = (mpmc_arg_t){&m, i};
        h_spawn(&pt[i], mpmc_producer, &pa[i]);
    }
    for (int i = 0; i < NPROD; i++)
        h_join(pt[i]);
    /* Every send returned OK: buffered values may still sit in the ring;
     * close, and the consumers drain them before seeing CHP_CLOSED. */
    CHECK_EQ(h_close(m.c), 1);
    for (int i = 0; i < NCONS; i++)
        h_join(ct[i]);
    CHECK_EQ(atomic_load(&m.received), (uint64_t)NPROD * m.per);
    for (size_t i = 0; i < (size_t)NPROD * m.per; i++)
        CHECK_EQ(atomic_load(&m.seen[i]), 1);
    CHECK_EQ(chp_chan_len(m.c), 0);
    CHECK_EQ(chp_chan_waiting_senders(m.c), 0);
    CHECK_EQ(chp_chan_waiting_receivers(m.c), 0);
    chp_chan_free(m.c);
    free((void *)m.seen);
}

static void test_ring_mpmc(void)
{
    static const size_t caps[] = {1, 16, 1024};
    char name[64];
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        snprintf(name, sizeof name, "ring mpmc cap %zu", caps[i]);
        if (!selected(name))
            continue;
        begin(name);
        run_mpmc(caps[i], scaled(200000));
        end();
    }
}

static void test_unbuffered(void)
{
    if (!selected("unbuffered hand-off"))
        return;
    begin("unbuffered hand-off");
    run_mpmc(0, scaled(200000));
    end();
}

/* ========================================================================
 * select claim protocol: selector threads over shared channels (2
 * unbuffered, capacities 1 and 4), each select mixing send and recv cases,
 * naming a channel twice (even send and recv on one unbuffered channel),
 * and holding NULL-channel cases; plain senders and receivers run beside
 * them. Every operation has a deadline, from 0 (a single try) to a few
 * milliseconds, so owners' aborts race with claimers' CASes all the time.
 * Proves: exactly one case of a select takes effect, a value handed to a
 * waiter that aborted is not lost, nothing is duplicated (the ledger), and
 * NULL (value id 0, seq 0) travels like any other value.
 * ====================================================================== */

#define SEL_NCH 4
#define SEL_NSEL 4
#define SEL_NSEND 2
#define SEL_NRECV 2
#define SEL_NCASES 6

typedef struct {
    chp_chan_t *ch[SEL_NCH];
    ledger_t ledger;
    uint32_t iters;
    _Atomic uint64_t ok, timeouts;
} selt_t;

typedef struct {
    selt_t *s;
    uint32_t id;
} selt_arg_t;

/* Case templates: {channel index or -1 for NULL, op}. */
static const struct {
    int ch;
    uint32_t op;
} sel_tmpl[3][SEL_NCASES] = {
    {{0, CHP_OP_RECV}, {0, CHP_OP_SEND}, {2, CHP_OP_RECV},
     {-1, CHP_OP_RECV}, {3, CHP_OP_SEND}, {0, CHP_OP_RECV}},
    {{1, CHP_OP_SEND}, {1, CHP_OP_RECV}, {0, CHP_OP_SEND},
     {3, CHP_OP_RECV}, {-1, CHP_OP_SEND}, {2, CHP_OP_SEND}},
    {{2, CHP_OP_RECV}, {3, CHP_OP_RECV}, {2, CHP_OP_SEND},
     {1, CHP_OP_SEND}, {1, CHP_OP_RECV}, {-1, CHP_OP_RECV}},
};

static int64_t sel_timeout(uint64_t *rng)
{
    static const int64_t t[] = {0, 20000, 200000, 2000000, 5000000};
    return t[h_rand(rng) % 5];
}

static void *sel_selector(void *p)
{
    selt_arg_t *a = p;
    selt_t *s = a->s;
    uint64_t rng = 0x1234567ull * (a->id + 1);
    uint32_t seq = 0;
    chp_waiter_t *w = h_waiter();
    for (uint32_t it = 0; it < s->iters; it++) {
        int t = (int)(h_rand(&rng) % 3);
        chp_case_t cs[SEL_NCASES];
        for (int i = 0; i < SEL_NCASES; i++) {
            int ch = sel_tmpl[t][i].ch;
            cs[i].chan = ch < 0 ? NULL : s->ch[ch];
            cs[i].op = sel_tmpl[t][i].op;
            cs[i].value = cs[i].op == CHP_OP_SEND ? h_val(a->id, seq++) : NULL;
        }
        size_t fired = 99;
        void *v = SENTINEL;
        int r = h_select(w, cs, SEL_NCASES, sel_timeout(&rng), &fired, &v);
        if (r == CHP_WOULDBLOCK) {
            atomic_fetch_add(&s->timeouts, 1);
            continue;
        }
        CHECK_EQ(r, CHP_OK);
        CHECK(fired < SEL_NCASES && cs[fired].chan != NULL);
        if (cs[fired].op == CHP_OP_SEND)
            ledger_sent(&s->ledger, cs[fired].value);
        else
            ledger_recv(&s->ledger, v);
        atomic_fetch_add(&s->ok, 1);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void *sel_sender(void *p)
{
    selt_arg_t *a = p;
    selt_t *s = a->s;
    uint64_t rng = 0x7654321ull * (a->id + 1);
    chp_waiter_t *w = h_waiter();
    uint32_t seq = 0;
    for (uint32_t it = 0; it < s->iters; it++) {
        chp_chan_t *c = s->ch[h_rand(&rng) % SEL_NCH];
        void *v = h_val(a->id, seq++);
        /* Sender id 0 starts with NULL and insists on delivering it. */
        int64_t timeout = it == 0 ? -1 : sel_timeout(&rng);
        int r = h_send(w, c, v, timeout);
        if (r == CHP_WOULDBLOCK) {
            atomic_fetch_add(&s->timeouts, 1);
            continue;
        }
        CHECK_EQ(r, CHP_OK);
        ledger_sent(&s->ledger, v);
        atomic_fetch_add(&s->ok, 1);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void *sel_receiver(void *p)
{
    selt_arg_t *a = p;
    selt_t *s = a->s;
    uint64_t rng = 0xabcdefull * (a->id + 1);
    chp_waiter_t *w = h_waiter();
    for (uint32_t it = 0; it < s->iters; it++) {
        chp_chan_t *c = s->ch[h_rand(&rng) % SEL_NCH];
        void *v = SENTINEL;
        int r = h_recv(w, c, &v, sel_timeout(&rng));
        if (r == CHP_WOULDBLOCK) {
            atomic_fetch_add(&s->timeouts, 1);
            continue;
        }
        CHECK_EQ(r, CHP_OK);
        ledger_recv(&s->ledger, v);
        atomic_fetch_add(&s->ok, 1);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void test_select_claims(void)
{
    if (!selected("select claim protocol"))
        return;
    begin("select claim protocol");
    static const size_t caps[SEL_NCH] = {0, 0, 1, 4};
    selt_t s;
    for (int i = 0; i < SEL_NCH; i++) {
        s.ch[i] = chp_chan_new(caps[i]);
        CHECK(s.ch[i] != NULL);
    }
    s.iters = scaled(6000);
    atomic_init(&s.ok, 0);
    atomic_init(&s.timeouts, 0);
    /* ids: plain senders 0..1 (id 0's first value is NULL), selectors
     * 2..5, receivers after them (they never send). */
    ledger_init(&s.ledger, SEL_NSEND + SEL_NSEL,
                s.iters * SEL_NCASES + 1);
    pthread_t t[SEL_NSEND + SEL_NSEL + SEL_NRECV];
    selt_arg_t a[SEL_NSEND + SEL_NSEL + SEL_NRECV];
    uint32_t k = 0;
    for (uint32_t i = 0; i < SEL_NSEND; i++, k++) {
        a[k] = (selt_arg_t){&s, k};
        h_spawn(&t[k], sel_sender, &a[k]);
    }
    for (uint32_t i = 0; i < SEL_NSEL; i++, k++) {
        a[k] = (selt_arg_t){&s, k};
        h_spawn(&t[k], sel_selector, &a[k]);
    }
    for (uint32_t i = 0; i < SEL_NRECV; i++, k++) {
        a[k] = (selt_arg_t){&s, k};
        h_spawn(&t[k], sel_receiver, &a[k]);
    }
    for (uint32_t i = 0; i < k; i++)
        h_join(t[i]);
    for (int i = 0; i < SEL_NCH; i++) {
        CHECK_EQ(chp_chan_waiting_senders(s.ch[i]), 0);
        CHECK_EQ(chp_chan_waiting_receivers(s.ch[i]), 0);
        CHECK_EQ(h_close(s.ch[i]), 1);
        drain_closed(s.ch[i], &s.ledger);
    }
    uint64_t moved = ledger_check(&s.ledger);
    CHECK_EQ(atomic_load(&s.ledger.sent[0]), 1); /* NULL went through */
    CHECK(moved > 0);
    for (int i = 0; i < SEL_NCH; i++)
        chp_chan_free(s.ch[i]);
    ledger_free(&s.ledger);
    printf("[%" PRIu64 " values, %" PRIu64 " ops ok, %" PRIu64
           " timeouts] ",
           moved, atomic_load(&s.ok), atomic_load(&s.timeouts));
    end();
}

/* ========================================================================
 * close: with senders and receivers blocked, and racing with traffic.
 * Proves: close returns 1 once and 0 after (also when two threads race);
 * values buffered before close are still delivered, in order, then
 * CHP_CLOSED; blocked senders and receivers (and a select) get
 * CHP_CLOSED; every value whose send returned CHP_OK is received exactly
 * once, and no other value is.
 * ====================================================================== */

typedef struct {
    chp_chan_t *c;
    uint32_t op;
    void *value;
    int result;
    void *got;
} blocked_t;

static void *blocked_op(void *p)
{
    blocked_t *b = p;
    chp_waiter_t *w = h_waiter();
    b->got = SENTINEL;
    b->result = b->op == CHP_OP_SEND ? h_send(w, b->c, b->value, -1)
                                     : h_recv(w, b->c, &b->got, -1);
    chp_waiter_unref(w);
    return NULL;
}

/* Block 4 threads doing `op` on c, close c, check they all got CLOSED. */
static void close_blocked(chp_chan_t *c, uint32_t op)
{
    enum { N = 4 };
    pthread_t t[N];
    blocked_t b[N];
    for (int i = 0; i < N; i++) {
        b[i] = (blocked_t){c, op, V(100 + i), -1, NULL};
        h_spawn(&t[i], blocked_op, &b[i]);
    }
    wait_waiting(c, op, N);
    CHECK_EQ(h_close(c), 1);
    CHECK_EQ(h_close(c), 0);
    for (int i = 0; i < N; i++) {
        h_join(t[i]);
        CHECK_EQ(b[i].result, CHP_CLOSED);
    }
    CHECK_EQ(chp_chan_waiting_senders(c), 0);
    CHECK_EQ(chp_chan_waiting_receivers(c), 0);
}

typedef struct {
    chp_chan_t *open, *doomed;
    int result;
    size_t fired;
} selclose_t;

static void *selclose_thread(void *p)
{
    selclose_t *sc = p;
    chp_waiter_t *w = h_waiter();
    chp_case_t cs[2] = {{sc->open, NULL, CHP_OP_RECV},
                        {sc->doomed, NULL, CHP_OP_RECV}};
    void *v;
    sc->fired = 99;
    sc->result = h_select(w, cs, 2, -1, &sc->fired, &v);
    chp_waiter_unref(w);
    return NULL;
}

typedef struct {
    chp_chan_t *c;
    ledger_t *ledger;
    uint32_t id, maxseq;
    _Atomic int *close_sum;
    int64_t delay_ns;
} closer_arg_t;

static void *close_producer(void *p)
{
    closer_arg_t *a = p;
    chp_waiter_t *w = h_waiter();
    for (uint32_t seq = 0; seq < a->maxseq; seq++) {
        void *v = h_val(a->id, seq);
        int r = h_send(w, a->c, v, -1);
        if (r == CHP_CLOSED) {
            chp_waiter_t *woken;
            CHECK_EQ(chp_chan_try_send(a->c, v, w, &woken), CHP_CLOSED);
            break;
        }
        CHECK_EQ(r, CHP_OK);
        ledger_sent(a->ledger, v);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void *close_consumer(void *p)
{
    closer_arg_t *a = p;
    chp_waiter_t *w = h_waiter();
    for (;;) {
        void *v;
        int r = h_recv(w, a->c, &v, -1);
        if (r == CHP_CLOSED)
            break;
        CHECK_EQ(r, CHP_OK);
        ledger_recv(a->ledger, v);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void *close_closer(void *p)
{
    closer_arg_t *a = p;
    h_sleep_ns(a->delay_ns);
    atomic_fetch_add(a->close_sum, h_close(a->c));
    return NULL;
}

static void test_close(void)
{
    if (!selected("close"))
        return;
    begin("close");
    chp_waiter_t *woken;
    void *v;

    /* Buffered and full, 4 senders blocked: close; the senders get
     * CLOSED, the 4 buffered values still come out in order. */
    chp_chan_t *c = chp_chan_new(4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(chp_chan_try_send(c, V(i), NULL, &woken), CHP_OK);
    close_blocked(c, CHP_OP_SEND);
    CHECK_EQ(chp_chan_len(c), 4);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(chp_chan_try_recv(c, &v, NULL, &woken), CHP_OK);
        CHECK_PTR_EQ(v, V(i));
    }
    CHECK_EQ(chp_chan_try_recv(c, &v, NULL, &woken), CHP_CLOSED);
    chp_chan_free(c);

    /* Buffered and empty, 4 receivers blocked. */
    c = chp_chan_new(4);
    close_blocked(c, CHP_OP_RECV);
    chp_chan_free(c);

    /* Unbuffered, 4 senders blocked; then 4 receivers blocked. */
    c = chp_chan_new(0);
    close_blocked(c, CHP_OP_SEND);
    chp_chan_free(c);
    c = chp_chan_new(0);
    close_blocked(c, CHP_OP_RECV);
    chp_chan_free(c);

    /* A select blocked on an open and a to-be-closed channel: the closed
     * case fires with CHP_CLOSED. */
    {
        selclose_t sc;
        sc.open = chp_chan_new(0);
        sc.doomed = chp_chan_new(2);
        pthread_t t;
        h_spawn(&t, selclose_thread, &sc);
        wait_waiting(sc.doomed, CHP_OP_RECV, 1);
        CHECK_EQ(chp_chan_waiting_receivers(sc.open), 1);
        CHECK_EQ(h_close(sc.doomed), 1);
        h_join(t);
        CHECK_EQ(sc.result, CHP_CLOSED);
        CHECK_EQ(sc.fired, 1);
        CHECK_EQ(chp_chan_waiting_receivers(sc.open), 0);
        chp_chan_free(sc.open);
        chp_chan_free(sc.doomed);
    }

    /* Close racing with traffic: 3 producers, 3 consumers, 2 closers. */
    enum { NP = 3, NC = 3, NCL = 2 };
    static const size_t caps[] = {0, 1, 8};
    uint32_t rounds = scaled(120);
    uint32_t maxseq = 50000;
    ledger_t l;
    uint64_t moved = 0;
    uint64_t rng = 42;
    for (uint32_t round = 0; round < rounds; round++) {
        ledger_init(&l, NP, maxseq);
        c = chp_chan_new(caps[round % 3]);
        _Atomic int close_sum;
        atomic_init(&close_sum, 0);
        int64_t delay = (int64_t)(h_rand(&rng) % 3000000);
        pthread_t t[NP + NC + NCL];
        closer_arg_t a[NP + NC + NCL];
        for (int i = 0; i < NP + NC + NCL; i++)
            a[i] = (closer_arg_t){c, &l, (uint32_t)i, maxseq, &close_sum,
                                  delay + (int64_t)(h_rand(&rng) % 50000)};
        for (int i = 0; i < NC; i++)
            h_spawn(&t[NP + i], close_consumer, &a[NP + i]);
        for (int i = 0; i < NP; i++)
            h_spawn(&t[i], close_producer, &a[i]);
        for (int i = 0; i < NCL; i++)
            h_spawn(&t[NP + NC + i], close_closer, &a[NP + NC + i]);
        for (int i = 0; i < NP + NC + NCL; i++)
            h_join(t[i]);
        CHECK_EQ(atomic_load(&close_sum), 1);
        CHECK_EQ(chp_chan_try_recv(c, &v, NULL, &woken), CHP_CLOSED);
        CHECK_EQ(chp_chan_waiting_senders(c), 0);
        CHECK_EQ(chp_chan_waiting_receivers(c), 0);
        moved += ledger_check(&l);
        chp_chan_free(c);
        ledger_free(&l);
    }
    printf("[%u rounds, %" PRIu64 " values] ", rounds, moved);
    end();
}

/* ========================================================================
 * fairness smoke: a select over 4 always-ready buffered channels picks
 * each about a quarter of the time (25% +- 3% over 20 000 selects).
 * ====================================================================== */

static void test_fairness(void)
{
    if (!selected("fairness"))
        return;
    begin("fairness");
    enum { N = 4, SELECTS = 20000 };
    chp_chan_t *c[N];
    chp_case_t cs[N];
    chp_waiter_t *woken;
    for (int i = 0; i < N; i++) {
        c[i] = chp_chan_new(1);
        CHECK_EQ(chp_chan_try_send(c[i], V(i), NULL, &woken), CHP_OK);
        cs[i] = (chp_case_t){c[i], NULL, CHP_OP_RECV};
    }
    chp_waiter_t *w = h_waiter();
    uint32_t hits[N] = {0};
    for (int k = 0; k < SELECTS; k++) {
        size_t fired = 99;
        void *v;
        CHECK_EQ(h_select(w, cs, N, 0, &fired, &v), CHP_OK);
        CHECK(fired < N);
        CHECK_PTR_EQ(v, V(fired));
        hits[fired]++;
        CHECK_EQ(chp_chan_try_send(c[fired], v, NULL, &woken), CHP_OK);
        CHECK_PTR_EQ(woken, NULL);
    }
    for (int i = 0; i < N; i++) {
        double share = (double)hits[i] / SELECTS;
        if (share < 0.22 || share > 0.28) {
            fprintf(stderr, "\ncase %d chosen %.2f%% of the time\n", i,
                    share * 100);
            abort();
        }
    }
    printf("[%u %u %u %u] ", hits[0], hits[1], hits[2], hits[3]);
    for (int i = 0; i < N; i++) {
        void *v;
        CHECK_EQ(chp_chan_try_recv(c[i], &v, NULL, &woken), CHP_OK);
        chp_chan_free(c[i]);
    }
    chp_waiter_unref(w);
    end();
}

/* ========================================================================
 * waiter refcount / lifetime: an owner frees its waiter (its last own
 * reference) as soon as its select returns, while claimers -- senders,
 * receivers, pushers notifying, a closer taking waiters -- still hold the
 * reference their claim took, and wake it afterwards (a yield before each
 * wake widens that window). Under ASan any use after free is reported.
 * Also proves, deterministically, that a claimer may wake and unref after
 * the owner's final unref. The ledger checks no value is lost meanwhile.
 * ====================================================================== */

typedef struct {
    chp_chan_t *a, *b, *c; /* a: cap 2, b and c: unbuffered */
    ledger_t *ledger;
    uint32_t id, maxseq;
    _Atomic uint64_t *selects;
} life_t;

/* Owner: a fresh waiter per select over {recv a, recv b, send c}. */
static void *life_owner(void *p)
{
    life_t *a = p;
    uint64_t rng = 0x5151ull * (a->id + 1);
    for (uint32_t seq = 0; seq < a->maxseq; seq++) {
        chp_waiter_t *w = h_waiter();
        chp_case_t cs[3] = {{a->a, NULL, CHP_OP_RECV},
                            {a->b, NULL, CHP_OP_RECV},
                            {a->c, h_val(a->id, seq), CHP_OP_SEND}};
        size_t fired = 99;
        void *v = SENTINEL;
        int r = h_select(w, cs, 3, (int64_t)(h_rand(&rng) % 50000), &fired,
                         &v);
        chp_waiter_unref(w); /* freed now unless a claimer holds it */
        atomic_fetch_add(a->selects, 1);
        if (r == CHP_CLOSED)
            break;
        if (r == CHP_OK) {
            if (fired == 2)
                ledger_sent(a->ledger, cs[2].value);
            else
                ledger_recv(a->ledger, v);
        }
    }
    return NULL;
}

/* Claimers: plain operations with short deadlines until CLOSED. */
static void *life_pusher(void *p) /* sends to a (notifies owners) */
{
    life_t *a = p;
    chp_waiter_t *w = h_waiter();
    for (uint32_t seq = 0; seq < a->maxseq; seq++) {
        void *v = h_val(a->id, seq);
        int r = h_send(w, a->a, v, 100000);
        if (r == CHP_CLOSED)
            break;
        if (r == CHP_OK)
            ledger_sent(a->ledger, v);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void *life_sender(void *p) /* sends to b (DONE-claims owners) */
{
    life_t *a = p;
    chp_waiter_t *w = h_waiter();
    for (uint32_t seq = 0; seq < a->maxseq; seq++) {
        void *v = h_val(a->id, seq);
        int r = h_send(w, a->b, v, 100000);
        if (r == CHP_CLOSED)
            break;
        if (r == CHP_OK)
            ledger_sent(a->ledger, v);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void *life_receiver(void *p) /* receives from c (DONE-claims) */
{
    life_t *a = p;
    chp_waiter_t *w = h_waiter();
    for (uint32_t k = 0; k < a->maxseq; k++) {
        void *v;
        int r = h_recv(w, a->c, &v, 100000);
        if (r == CHP_CLOSED)
            break;
        if (r == CHP_OK)
            ledger_recv(a->ledger, v);
    }
    chp_waiter_unref(w);
    return NULL;
}

static void test_waiter_lifetime(void)
{
    if (!selected("waiter lifetime"))
        return;
    begin("waiter lifetime");
    chp_waiter_t *woken;
    void *v;

    /* Deterministic: a claim's reference outlives the owner's. */
    {
        chp_chan_t *u = chp_chan_new(0);
        chp_waiter_t *w = h_waiter();
        chp_case_t rc = {u, NULL, CHP_OP_RECV};
        CHECK_EQ(chp_select_arm(w, &rc, 1), 1);
        CHECK_EQ(chp_chan_try_send(u, V(1), NULL, &woken), CHP_OK);
        CHECK_PTR_EQ(woken, w);
        CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_DONE, 0));
        CHECK_PTR_EQ(chp_waiter_take_value(w, 0), V(1));
        chp_waiter_unref(w);     /* the owner is gone */
        chp_waiter_wake(woken);  /* the claimer still may wake ... */
        chp_waiter_unref(woken); /* ... and frees it */

        w = h_waiter(); /* the same through close + take_waiter */
        CHECK_EQ(chp_select_arm(w, &rc, 1), 1);
        CHECK_EQ(chp_chan_close(u), 1);
        woken = chp_chan_take_waiter(u);
        CHECK_PTR_EQ(woken, w);
        CHECK_EQ(chp_select_disarm(w), H_STATE(CHP_W_NOTIFIED, 0));
        chp_waiter_unref(w);
        chp_waiter_wake(woken);
        chp_waiter_unref(woken);
        chp_chan_free(u);
    }

    /* Racing rounds. */
    enum { NOWN = 4, NT = NOWN + 3 };
    uint32_t rounds = scaled(30);
    uint32_t maxseq = 200000;
    uint64_t rng = 7, moved = 0;
    _Atomic uint64_t selects;
    atomic_init(&selects, 0);
    atomic_store(&h_yield_before_wake, 1);
    for (uint32_t round = 0; round < rounds; round++) {
        ledger_t l;
        ledger_init(&l, NT, maxseq);
        chp_chan_t *a = chp_chan_new(2), *b = chp_chan_new(0),
                   *c = chp_chan_new(0);
        pthread_t t[NT];
        life_t arg[NT];
        for (uint32_t i = 0; i < NT; i++)
            arg[i] = (life_t){a, b, c, &l, i, maxseq, &selects};
        for (int i = 0; i < NOWN; i++)
            h_spawn(&t[i], life_owner, &arg[i]);
        h_spawn(&t[NOWN], life_pusher, &arg[NOWN]);
        h_spawn(&t[NOWN + 1], life_sender, &arg[NOWN + 1]);
        h_spawn(&t[NOWN + 2], life_receiver, &arg[NOWN + 2]);
        h_sleep_ns(5000000 + (int64_t)(h_rand(&rng) % 10000000));
        /* Close while owners come and go: take_waiter claims race with
         * the owners' aborts and frees. c first stops the owners. */
        CHECK_EQ(h_close(c), 1);
        CHECK_EQ(h_close(b), 1);
        CHECK_EQ(h_close(a), 1);
        for (int i = 0; i < NT; i++)
            h_join(t[i]);
        drain_closed(a, &l);
        moved += ledger_check(&l);
        CHECK_EQ(chp_chan_waiting_senders(a) + chp_chan_waiting_receivers(a)
                     + chp_chan_waiting_senders(b)
                     + chp_chan_waiting_receivers(b)
                     + chp_chan_waiting_senders(c)
                     + chp_chan_waiting_receivers(c),
                 0);
        chp_chan_free(a);
        chp_chan_free(b);
        chp_chan_free(c);
        ledger_free(&l);
    }
    atomic_store(&h_yield_before_wake, 0);
    (void)v;
    printf("[%u rounds, %" PRIu64 " owner selects, %" PRIu64 " values] ",
           rounds, atomic_load(&selects), moved);
    end();
}

int main(void)
{
    g_scale = h_env_double("CHP_STRESS_SCALE", 1);
    g_timeout_sec = (unsigned)h_env_double("CHP_TEST_TIMEOUT", 120);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    int64_t t0 = h_now_ns();
    printf("chanpy core stress tests (core %s, scale %g)\n", chp_version(),
           g_scale);
    if (selected("semantics"))
        test_semantics();
    test_ring_mpmc();
    test_unbuffered();
    test_select_claims();
    test_close();
    test_fairness();
    test_waiter_lifetime();
    printf("all ok (%.2fs)\n", (h_now_ns() - t0) / 1e9);
    return 0;
}
