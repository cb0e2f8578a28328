"""``after`` and ``tick``: one shared timer feeding ordinary channels.

Time is only ever checked from below (a timer must not fire early); how
late a timer fires depends on the machine and is never asserted. Waits
use generous timeouts so that a broken timer fails instead of hanging.
"""

from __future__ import annotations

import gc
import math
import threading
import time
import weakref
from typing import Any

import pytest

from chanpy import Chan, Closed, Ticker, WouldBlock, _timer, after, recv, select, tick

# Generous bound on how long any timer may take to show up.
WAIT = 10.0
EPS = 1e-6


def _scheduled(entry: Any) -> bool:
    """Whether the shared timer's heap still holds ``entry``."""
    with _timer._timers._cond:
        return any(item[2] is entry for item in _timer._timers._heap)


def _collected(ref: weakref.ref[Any]) -> bool:
    for _ in range(3):
        gc.collect()
        if ref() is None:
            return True
    return False


# --- after -------------------------------------------------------------------------


def test_after_delivers_the_time_once_and_not_early() -> None:
    delay = 0.1
    t0 = time.monotonic()
    ch = after(delay)
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0)  # certainly not yet
    v = ch.recv(timeout=WAIT)
    t1 = time.monotonic()
    assert isinstance(v, float)
    assert v >= t0 + delay - EPS, "the value is the firing time, which is not before the delay"
    assert t1 >= t0 + delay
    assert v <= t1
    # Once: nothing more comes, and the channel is not closed.
    with pytest.raises(TimeoutError):
        ch.recv(timeout=0.3)
    assert not ch.closed
    with pytest.raises(WouldBlock):
        ch.recv_nowait()


def test_after_zero_fires_promptly() -> None:
    v = after(0).recv(timeout=WAIT)
    assert isinstance(v, float)
    assert v <= time.monotonic()


def test_iterating_an_after_channel_does_not_end_on_its_own() -> None:
    ch = after(0.02)
    got: list[float] = []
    reader = threading.Thread(target=lambda: got.extend(ch), daemon=True)
    reader.start()
    deadline = time.monotonic() + WAIT
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(got) == 1, "the timer value never arrived"
    reader.join(0.3)
    assert reader.is_alive(), "iteration ended although nobody closed the channel"
    assert got == got[:1]
    ch.close()  # only a close ends it
    reader.join(WAIT)
    assert not reader.is_alive()
    assert len(got) == 1


def test_after_in_a_select_fires_its_case() -> None:
    never: Chan[int] = Chan()
    t0 = time.monotonic()
    r = select(recv(never), recv(None), recv(after(0.05)), timeout=WAIT)
    assert r.index == 2
    assert r.ok
    assert isinstance(r.value, float)
    assert r.value >= t0 + 0.05 - EPS


def test_a_ready_case_wins_over_a_pending_after() -> None:
    ready: Chan[str] = Chan(1)
    ready.send_nowait("work")
    deadline = after(5)
    r = select(recv(deadline), recv(ready), timeout=WAIT)
    assert (r.index, r.value) == (1, "work")
    assert len(deadline) == 0


def test_after_value_can_be_taken_by_recv_in_a_waiting_thread() -> None:
    ch = after(0.05)
    got: list[float] = []
    t = threading.Thread(target=lambda: got.append(ch.recv(timeout=WAIT)), daemon=True)
    t.start()
    t.join(WAIT + 1)
    assert not t.is_alive()
    assert len(got) == 1


# --- tick --------------------------------------------------------------------------


def test_tick_values_come_one_period_apart_or_more() -> None:
    period = 0.05
    t0 = time.monotonic()
    ticker = tick(period)
    try:
        values = [ticker.recv(timeout=WAIT) for _ in range(4)]
    finally:
        ticker.stop()
    for k, v in enumerate(values, start=1):
        assert v >= t0 + k * period - EPS, f"tick {k} came early: {v - t0:.4f} s after start"
    assert values == sorted(values)
    assert len(set(values)) == 4


def test_a_slow_reader_misses_ticks_instead_of_queueing_them() -> None:
    period = 0.02
    ticker = tick(period)
    try:
        time.sleep(15 * period)  # about 15 ticks are due meanwhile
        assert len(ticker) <= 1, "ticks were queued up"
        assert ticker.statistics().length <= 1
        drained = 0
        while True:
            try:
                ticker.recv_nowait()
            except WouldBlock:
                break
            drained += 1
            assert drained <= 3, "ticks came in a burst"
        assert drained >= 1, "no tick at all in 15 periods"
        # It keeps ticking after the slow stretch.
        assert isinstance(ticker.recv(timeout=WAIT), float)
    finally:
        ticker.stop()


def test_stop_ends_iteration_and_refuses_further_receives() -> None:
    ticker = tick(0.01)
    seen: list[float] = []
    reader = threading.Thread(target=lambda: seen.extend(ticker), daemon=True)
    reader.start()
    deadline = time.monotonic() + WAIT
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(seen) >= 2
    ticker.stop()
    reader.join(WAIT)
    assert not reader.is_alive(), "iteration over a stopped ticker did not end"
    assert ticker.closed
    ticker.stop()  # idempotent
    # At most the tick buffered before stop() is left, then Closed.
    try:
        ticker.recv(timeout=WAIT)
    except Closed:
        pass
    with pytest.raises(Closed):
        ticker.recv(timeout=WAIT)
    count = len(seen)
    time.sleep(0.05)
    assert len(seen) == count


def test_stop_frees_the_timer_entry_and_the_ticker() -> None:
    ticker = tick(0.01)
    assert isinstance(ticker, Ticker)
    entry = ticker._entry
    assert _scheduled(entry)
    ref = weakref.ref(ticker)
    ticker.stop()
    assert not _scheduled(entry), "a stopped ticker is still in the timer heap"
    del ticker
    assert _collected(ref), "a stopped ticker is kept alive"


def test_an_unreferenced_ticker_is_released_and_dropped() -> None:
    ticker = tick(0.01)
    entry = ticker._entry
    ref = weakref.ref(ticker)
    del ticker
    assert _collected(ref), "the timer keeps an unreferenced ticker alive"
    deadline = time.monotonic() + WAIT
    while _scheduled(entry) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _scheduled(entry), "the entry of a dead ticker keeps being rescheduled"


def test_an_unreferenced_after_channel_is_released() -> None:
    ref = weakref.ref(after(3600))
    assert _collected(ref), "the timer keeps an unreferenced after() channel alive"


def test_unreferenced_after_channels_do_not_pile_up_in_the_timer() -> None:
    """``select(recv(work), recv(after(60)))`` in a loop must not leak.

    Each iteration makes a timer nobody can receive from once the select
    returns; like Go since 1.23, its entry must go with the channel rather
    than stay scheduled for the whole delay.
    """
    before = _timer._timers.pending()
    before_heap = len(_timer._timers._heap)
    work: Chan[int] = Chan(1)
    for i in range(1000):
        work.send_nowait(i)
        r = select(recv(work), recv(after(3600)))
        assert r.index == 0
    gc.collect()
    grown = _timer._timers.pending() - before
    assert grown < 100, f"{grown} timer entries kept for channels nobody can receive from"
    # The dead entries' memory goes too, not only their count.
    heap_grown = len(_timer._timers._heap) - before_heap
    assert heap_grown < 100, f"the timer heap grew by {heap_grown} dead entries"


# --- one thread for all ----------------------------------------------------------------


def test_many_timers_share_one_thread() -> None:
    # Make sure the shared thread exists, then count.
    after(0).recv(timeout=WAIT)
    threads_before = threading.active_count()
    afters = [after(0.02 + 0.0005 * i) for i in range(100)]
    tickers = [tick(0.05) for _ in range(100)]
    try:
        assert threading.active_count() <= threads_before, "timers started threads"
        values = [ch.recv(timeout=WAIT) for ch in afters]
        assert all(isinstance(v, float) for v in values)
        for ticker in tickers:
            assert isinstance(ticker.recv(timeout=WAIT), float)
        assert threading.active_count() <= threads_before
        assert all(len(ch) == 0 for ch in afters)
    finally:
        for ticker in tickers:
            ticker.stop()
    names = [t.name for t in threading.enumerate() if "timer" in t.name.lower()]
    assert len(names) <= 1, f"more than one timer thread: {names}"


# --- bad arguments ------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [-1, -0.001, math.nan, math.inf])
def test_after_refuses_a_bad_delay(seconds: float) -> None:
    with pytest.raises(ValueError, match="after"):
        after(seconds)


@pytest.mark.parametrize("seconds", [0, -1, math.nan, math.inf])
def test_tick_refuses_a_bad_period(seconds: float) -> None:
    with pytest.raises(ValueError, match="tick"):
        tick(seconds)


@pytest.mark.parametrize("func", [after, tick])
@pytest.mark.parametrize("seconds", ["1", b"1", None, object()], ids=repr)
def test_timers_refuse_a_non_number(func: Any, seconds: object) -> None:
    # A numeric string is not a number either (as for a timeout).
    with pytest.raises(TypeError, match="seconds"):
        func(seconds)
