/*
 * park.c -- putting a waiting thread to sleep and waking it.
 *
 * Linux: a futex on the waiter's state word. The kernel compares the word
 * with WAITING atomically with going to sleep, and every claim changes the
 * word before it wakes, so a wake-up can never fall between our check and
 * our sleep. Elsewhere: a small table of mutex/condvar pairs hashed by
 * waiter address ("parking lot"); the waker locks the bucket after changing
 * the state, and the sleeper checks the state under that lock.
 *
 * Waking may reach a waiter that already returned (it saw the new state
 * without sleeping): the futex word may then be reused, which costs at most
 * a spurious wake-up that the sleeper's loop absorbs. Claimers hold a
 * reference, so the memory itself is still the waiter's.
 */
#include <errno.h>
#include <time.h>
#include "chp_internal.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t chp_waiter_park(chp_waiter_t *w, int64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    uint32_t s = chp_waiter_state(w);
    if (s != CHP_W_WAITING)
        return s;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    /* One sleep: returns on a wake-up, a timeout or a signal. The caller
     * loops on its own deadline, which lets it look at signals. */
    syscall(SYS_futex, &w->state, FUTEX_WAIT_PRIVATE, CHP_W_WAITING, tsp,
            NULL, 0);
    return chp_waiter_state(w);
}

void chp_waiter_wake(chp_waiter_t *w)
{
    syscall(SYS_futex, &w->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#else
#include <pthread.h>

#define BUCKETS 64
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
} lot[BUCKETS];
static pthread_once_t lot_once = PTHREAD_ONCE_INIT;

static void lot_init(void)
{
    for (int i = 0; i < BUCKETS; i++) {
        pthread_mutex_init(&lot[i].mu, NULL);
        pthread_cond_init(&lot[i].cv, NULL);
    }
}

static unsigned bucket_of(chp_waiter_t *w)
{
    return (unsigned)(((uintptr_t)w >> 6) % BUCKETS);
}

uint32_t chp_waiter_park(chp_waiter_t *w, int64_t timeout_ns)
{
    pthread_once(&lot_once, lot_init);
    unsigned b = bucket_of(w);
    uint32_t s;
    pthread_mutex_lock(&lot[b].mu);
    s = chp_waiter_state(w);
    if (s == CHP_W_WAITING) {
        if (timeout_ns < 0) {
            pthread_cond_wait(&lot[b].cv, &lot[b].mu);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + timeout_ns % 1000000000;
            ts.tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&lot[b].cv, &lot[b].mu, &ts);
        }
        s = chp_waiter_state(w);
    }
    pthread_mutex_unlock(&lot[b].mu);
    return s;
}

void chp_waiter_wake(chp_waiter_t *w)
{
    pthread_once(&lot_once, lot_init);
    unsigned b = bucket_of(w);
    pthread_mutex_lock(&lot[b].mu);
    pthread_cond_broadcast(&lot[b].cv);
    pthread_mutex_unlock(&lot[b].mu);
}
#endif
