"""``after`` and ``tick``: channels fed by one shared timer thread.

All timers of the process live in one heap served by one daemon thread
(started on first use), not a thread per timer. The heap holds only weak
references to the channels, so a timer or ticker nobody can receive from
any more is dropped (as Go does since 1.23); ``Ticker.stop()`` removes its
entry at once.
"""

from __future__ import annotations

import heapq
import itertools
import math
import numbers
import sys
import threading
import weakref
from collections.abc import Callable
from time import monotonic

from chanpy._channel import Chan
from chanpy._errors import Closed, WouldBlock

__all__ = ["Ticker", "after", "tick"]


def _check_seconds(name: str, seconds: float, *, positive: bool) -> float:
    # Real numbers only: float() would also take "1" and b"1"; a bool is a mistake.
    if not isinstance(seconds, numbers.Real) or isinstance(seconds, bool):
        raise TypeError(f"{name}() takes a number of seconds, got {seconds!r}")
    s = float(seconds)
    if math.isnan(s) or s < 0 or (positive and s == 0) or math.isinf(s):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"{name}() needs a finite number of seconds {need}, got {seconds!r}")
    return s


class _Entry:
    __slots__ = ("__weakref__", "callback", "chan", "period", "removed", "when")

    callback: Callable[[], None] | None

    def __init__(self, chan: Chan[float], when: float, period: float | None) -> None:
        self.callback = None
        # When the channel is collected, the entry is marked dead; the heap
        # sheds dead entries as it grows (see _TimerThread.add).
        self.chan: Callable[[], Chan[float] | None] = weakref.ref(chan, _mark_dead(self))
        self.when = when
        self.period = period
        self.removed = False

    @classmethod
    def call_at(cls, when: float, callback: Callable[[], None]) -> _Entry:
        """An entry that calls ``callback()`` once at ``when`` (held strongly).

        The callback runs in the timer thread without the timer's lock held;
        it must not block and should not raise (an exception is reported
        through sys.excepthook).
        """
        entry = cls.__new__(cls)
        entry.callback = callback
        entry.chan = _NO_CHAN
        entry.when = when
        entry.period = None
        entry.removed = False
        return entry


def _NO_CHAN() -> None:
    # The chan of a callback entry: never a channel.
    return None


def _mark_dead(entry: _Entry) -> Callable[[object], None]:
    # Runs wherever the channel is collected, maybe in the timer thread
    # while it holds its lock: so it takes no lock, it only flags.
    ref = weakref.ref(entry)

    def dead(_: object) -> None:
        e = ref()
        if e is not None:
            e.removed = True
            _timers.dead += 1

    return dead


class _TimerThread:
    """The one thread that fires every timer."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        # Entries flagged removed since the last compaction (a hint, written
        # without the lock by weakref callbacks).
        self.dead = 0

    def add(self, entry: _Entry) -> None:
        with self._cond:
            if self.dead > 32 and self.dead * 2 > len(self._heap):
                self._compact()
            heapq.heappush(self._heap, (entry.when, next(self._order), entry))
            if self._heap[0][2] is entry:
                self._cond.notify()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="chanpy-timer", daemon=True)
                self._thread.start()

    def remove(self, entry: _Entry) -> None:
        with self._cond:
            if entry.removed:
                return
            entry.removed = True
            self._heap = [item for item in self._heap if item[2] is not entry]
            heapq.heapify(self._heap)

    def discard(self, entry: _Entry) -> None:
        """Drop ``entry`` lazily (O(1)): it stays in the heap, flagged, until
        it comes up or a compaction sheds it. Never blocks for long."""
        with self._cond:
            if not entry.removed:
                entry.removed = True
                self.dead += 1

    def _call(self, callback: Callable[[], None]) -> None:
        # Precondition: the lock is held. Released around the call, which
        # may add or discard timers itself (a context cancelling children).
        self._cond.release()
        try:
            callback()
        except BaseException as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        finally:
            self._cond.acquire()

    def _compact(self) -> None:
        # Precondition: the lock is held.
        self.dead = 0
        self._heap = [item for item in self._heap if not item[2].removed]
        heapq.heapify(self._heap)

    def pending(self) -> int:
        """How many live timers are scheduled (for tests and statistics)."""
        with self._cond:
            return sum(1 for item in self._heap if not item[2].removed)

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                now = monotonic()
                when, _, entry = self._heap[0]
                if when > now:
                    # Capped: Condition.wait refuses waits beyond threading.TIMEOUT_MAX.
                    self._cond.wait(min(when - now, 3600.0))
                    continue
                heapq.heappop(self._heap)
                if entry.callback is not None:
                    if not entry.removed:
                        entry.removed = True
                        self._call(entry.callback)
                    continue
                chan = entry.chan()
                if chan is None or entry.removed:
                    entry.removed = True
                    continue
                try:
                    # A tick nobody took yet is dropped, as in Go.
                    chan.send_nowait(now)
                except WouldBlock:
                    pass
                except Closed:
                    entry.removed = True
                    continue
                del chan
                if entry.period is None:
                    entry.removed = True
                    continue
                # Next tick: the next period boundary after now (ticks a
                # slow receiver missed are skipped, not bunched up).
                missed = max(0, math.floor((now - when) / entry.period))
                entry.when = when + (missed + 1) * entry.period
                heapq.heappush(self._heap, (entry.when, next(self._order), entry))


_timers = _TimerThread()


def after(seconds: float) -> Chan[float]:
    """A channel that receives one value, ``time.monotonic()`` at firing, after ``seconds``.

    Never blocks. The channel is never closed (as in Go); receive from it in
    a ``select`` to put a deadline on other cases. Raises ValueError for a
    negative, NaN or infinite delay, TypeError for a non-number.
    """
    s = _check_seconds("after", seconds, positive=False)
    chan: Chan[float] = Chan(1)
    _timers.add(_Entry(chan, monotonic() + s, None))
    return chan


class Ticker(Chan[float]):
    """A channel that receives ``time.monotonic()`` once per period until ``stop()``.

    Receive from it like any channel (``recv``, ``recv(...)`` cases,
    iteration). A receiver that falls behind misses ticks rather than
    getting a burst (one tick is buffered).
    """

    _entry: _Entry

    def stop(self) -> None:
        """Stop ticking and close the ticker, so loops over it end; never blocks.

        A tick already buffered can still be received. Idempotent.
        """
        _timers.remove(self._entry)
        self.close()


def tick(seconds: float) -> Ticker:
    """A ``Ticker`` firing every ``seconds`` (> 0); the first tick comes after one period.

    Never blocks. Raises ValueError for a period that is not a finite number > 0.
    """
    s = _check_seconds("tick", seconds, positive=True)
    ticker = Ticker(1)
    ticker._entry = _Entry(ticker, monotonic() + s, s)
    _timers.add(ticker._entry)
    return ticker
