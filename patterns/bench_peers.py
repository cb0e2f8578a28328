"""The fleet scenario, written the way users write it today, once per peer.

One workload, several implementations. N bots each tick at 10 Hz on a fixed
grid whose phases are spread over the period; each tick does a tiny state
update. External senders offer N messages per second in total, uniformly
over the bots; 10% of them are asks (request/response, the sender waits for
the reply with a timeout). Tells come from one sender (a thread, or a task
in the async peers), asks from a small set of ask senders, so a slow reply
never holds up the other sends.

Every peer follows the same tick policy: a tick runs for its grid point; a
bot that fell behind by whole periods runs one tick for the latest grid
point it missed and skips the older ones (counted in "ticks achieved"),
never a burst. Mailboxes hold at most ``MAILBOX`` messages where the library
lets one bound them; a send to a full mailbox is refused and counted.

Each peer is a function ``run(n, seconds, warmup) -> FleetRun``:

* ``asyncio``: one task per bot, an ``asyncio.Queue`` mailbox, ticks with
  ``asyncio.timeout_at`` around the mailbox read;
* ``trio``: one task per bot, a memory channel mailbox, ticks with
  ``trio.move_on_at``;
* ``threads``: one thread per bot, a ``queue.Queue`` mailbox read with a
  timeout up to the next tick;
* ``pykka``: one ``pykka.ThreadingActor`` per bot, ticks told by one
  scheduler thread (a heap of due times);
* ``pool``: the best hand-written peer: 4 worker threads, one timer thread
  with a heap of due times, a deque mailbox per bot.

What is measured, after the warm-up, over ``seconds`` of wall time (the
``Recorder``): every tick's lag (handler start minus due time), ticks
achieved, CPU cores (process CPU time over wall time), message latency from
send to handler start, ask round trips, the share of wall time spent in the
garbage collector; bytes per bot is the growth of the resident set size
from creating the N bots (all started, empty state) divided by N. After the
window the senders stop and the bots drain; lost = accepted - handled.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import math
import os
import queue
import random
import threading
import time
from array import array
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from time import monotonic
from typing import TYPE_CHECKING, Any, Final, TextIO

if TYPE_CHECKING:
    import trio

__all__ = [
    "ASK_SENDERS",
    "ASK_SHARE",
    "ASK_TIMEOUT",
    "MAILBOX",
    "PEERS",
    "PERIOD",
    "THREAD_CAP",
    "FleetRun",
    "Recorder",
    "Refused",
    "SendStats",
    "Walker",
    "run_asyncio",
    "run_pool",
    "run_pykka",
    "run_threads",
    "run_trio",
    "trace_phases",
]

PERIOD: Final = 0.1  # 10 Hz ticks
MAILBOX: Final = 64  # mailbox bound, where the library has one
ASK_SHARE: Final = 0.1  # share of the messages that are asks
ASK_SENDERS: Final = 8  # threads (or tasks) issuing the asks
ASK_TIMEOUT: Final = 1.0  # seconds an ask waits for its reply
SEND_SLICE: Final = 0.001  # the tell sender wakes at most this often
DRAIN_S: Final = 5.0  # at most this long for the bots to handle what was accepted
START_S: Final = 120.0  # at most this long for N bots to start
JOIN_S: Final = 10.0  # at most this long to stop every thread of a peer
POOL_WORKERS: Final = 4
POOL_BATCH: Final = 16  # messages one bot handles before its worker moves on
# One thread per bot (threads, pykka): runs above this many bots are not attempted.
THREAD_CAP: Final = 20_000

Msg = tuple[float, int]  # (time.monotonic() when sent, value)


class Refused(Exception):
    """An ask found the bot's mailbox full: the message was not accepted."""


@dataclass(frozen=True)
class FleetRun:
    """What one run of the fleet scenario measured (times in ms, ``None``: no samples)."""

    impl: str
    n: int
    seconds: float  # wall time of the measured window
    ticks: int  # ticks that started inside the window
    ticks_expected: int  # n * 10 Hz * seconds
    tick_lag_p50_ms: float | None
    tick_lag_p99_ms: float | None
    tick_lag_max_ms: float | None
    cpu_cores: float  # process CPU seconds per wall second in the window
    bytes_per_bot: float  # RSS growth from creating the n bots, / n
    offered: int  # messages the senders' schedule called for (whole run)
    sent: int  # messages accepted (tells and asks)
    refused: int  # sends refused by a full mailbox
    handled: int  # messages handled, after the drain
    lost: int  # accepted but never handled
    duplicated: int  # handled more often than accepted
    msg_p50_ms: float | None  # send -> handler start, messages sent in the window
    msg_p99_ms: float | None
    asks: int  # asks answered in time
    ask_timeouts: int
    ask_p99_ms: float | None  # ask round trip, asks sent in the window
    gc_share: float  # share of the window's wall time spent in the garbage collector
    gc_collections: int  # collections in the window
    setup_s: float  # time to create and start the n bots
    teardown_s: float  # time to stop them
    extra: dict[str, float] = field(default_factory=dict)  # implementation's own numbers

    @property
    def ticks_pct(self) -> float:
        """Ticks achieved, as a percentage of the ticks the grid called for."""
        return 100.0 * self.ticks / self.ticks_expected if self.ticks_expected else 0.0

    def to_json(self) -> dict[str, Any]:
        """The run as a JSON-ready dict (with ``ticks_pct``)."""
        d = asdict(self)
        d["ticks_pct"] = self.ticks_pct
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FleetRun:
        """The inverse of ``to_json`` (extra keys are ignored)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


class Walker:
    """A bot's state and its tiny handlers: the same in every implementation."""

    def __init__(self) -> None:
        """Empty state."""
        self.x = 0
        self.ticks = 0

    def on_tick(self) -> None:
        """A tiny state update."""
        self.ticks += 1
        self.x += 1

    def on_message(self, value: int) -> int:
        """Fold ``value`` into the state; the result answers an ask."""
        self.x = (self.x + value) & 0xFFFF
        return self.x


@dataclass
class SendStats:
    """One sender's counts (each sender thread or task owns one)."""

    offered: int = 0
    sent: int = 0
    refused: int = 0
    asks: int = 0
    timeouts: int = 0


def _rss() -> int:
    """Resident set size of this process in bytes (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cores(t0: os.times_result, t1: os.times_result) -> float:
    """CPU cores used between two ``os.times()``: process CPU time per wall second."""
    cpu = (t1.user + t1.system) - (t0.user + t0.system)
    wall = t1.elapsed - t0.elapsed
    return cpu / wall if wall > 0 else 0.0


def _trim() -> None:
    """Give free heap memory back to the system (glibc), so that the bots' memory
    shows as RSS growth instead of reusing pages freed earlier."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _percentile(sorted_samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank of already sorted samples."""
    k = max(0, min(len(sorted_samples) - 1, math.ceil(q / 100 * len(sorted_samples)) - 1))
    return sorted_samples[k]


def _ms(samples: array[float], q: float) -> float | None:
    """The ``q``-th percentile of ``samples`` (seconds) in ms, or None without samples."""
    if not samples:
        return None
    return 1e3 * _percentile(sorted(samples), q)


def first_due(base: float, i: int, n: int, now: float) -> float:
    """Bot ``i``'s first grid point at or after ``now``; phases spread over the period."""
    due = base + PERIOD * i / n
    if due < now:
        due += PERIOD * math.ceil((now - due) / PERIOD)
    return due


def next_due(due: float, now: float) -> float:
    """The grid point after a tick due at ``due`` that ran at ``now``.

    The next one; or, when that has passed too, the latest passed one (the
    older ones are skipped: one tick for the missed ones, never a burst).
    """
    nxt = due + PERIOD
    if nxt <= now:
        nxt = due + PERIOD * math.floor((now - due) / PERIOD)
    return nxt


_trace: list[TextIO] = []  # where Recorder.phase reports, if anywhere


def trace_phases(stream: TextIO) -> None:
    """Report each run's phases (bots started, window, drain...) on ``stream``."""
    _trace[:] = [stream]


class Recorder:
    """Collects one run's samples; safe to call from any thread (array appends)."""

    def __init__(self, impl: str, n: int) -> None:
        """A recorder for ``n`` bots; it starts listening to the garbage collector."""
        self.impl = impl
        self.n = n
        self.on = False  # inside the measured window
        self.w0 = math.inf  # window start (monotonic)
        self.w1 = math.inf  # window end
        self.lags: array[float] = array("d")
        self.msg_lat: array[float] = array("d")
        self.ask_rtt: array[float] = array("d")
        self.done: array[int] = array("b")  # one entry per handled message
        self.started: array[int] = array("b")  # one entry per started bot
        self.extra: dict[str, float] = {}
        # CPU time and wall time from one call: under a starved GIL, two calls
        # can be seconds apart.
        self._times0 = self._times1 = os.times()
        self._gc_t0 = 0.0
        self.gc_time = 0.0
        self.gc_count = 0
        self._rss0 = self._rss1 = 0
        self.setup_s = 0.0
        self._setup_t0 = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        """gc.callbacks hook: add collections inside the window to the GC time."""
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        elif self.on:
            self.gc_time += time.perf_counter() - self._gc_t0
            self.gc_count += 1

    def phase(self, text: str) -> None:
        """Report that the run reached a phase (see ``trace_phases``)."""
        for stream in _trace:
            print(f"{self.impl} N={self.n}: {text}", file=stream, flush=True)

    # -- what the bots call

    def bot_started(self) -> None:
        """A bot has started."""
        self.started.append(1)

    def tick(self, lag: float) -> None:
        """A tick's handler started ``lag`` seconds after its due time."""
        if self.on:
            self.lags.append(lag)

    def handled(self, sent_at: float) -> None:
        """A message sent at ``sent_at`` (monotonic) reached its handler now."""
        now = monotonic()
        self.done.append(1)
        if self.w0 <= sent_at < self.w1:
            self.msg_lat.append(now - sent_at)

    def answered(self, sent_at: float) -> None:
        """The reply to an ask sent at ``sent_at`` arrived now."""
        now = monotonic()
        if self.w0 <= sent_at < self.w1:
            self.ask_rtt.append(now - sent_at)

    # -- what the implementation calls

    def before_bots(self) -> None:
        """Mark the memory baseline: the runtime is up, no bot exists yet."""
        gc.collect()
        _trim()
        self._rss0 = _rss()
        self._setup_t0 = monotonic()
        self.phase("creating the bots")

    def all_started(self) -> bool:
        """Have all n bots started?"""
        return len(self.started) >= self.n

    def after_bots(self) -> None:
        """Mark the memory after the n bots were created and started."""
        self.setup_s = monotonic() - self._setup_t0
        gc.collect()
        self._rss1 = _rss()
        self.phase(f"all bots started in {self.setup_s:.2f} s")

    def open_window(self) -> None:
        """Start the measured window."""
        self.gc_time = 0.0
        self.gc_count = 0
        self._times0 = os.times()
        self.w0 = monotonic()
        self.on = True
        self.phase("measuring")

    def close_window(self) -> None:
        """End the measured window."""
        self.on = False
        self.w1 = monotonic()
        self._times1 = os.times()
        self.phase("draining")

    def drained(self, stats: list[SendStats]) -> bool:
        """Has every accepted message been handled?"""
        return len(self.done) >= sum(s.sent for s in stats)

    def result(self, stats: list[SendStats], teardown_s: float) -> FleetRun:
        """The run's numbers; removes the garbage collector hook."""
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        self.phase("stopped; computing the results")
        wall = self.w1 - self.w0
        sent = sum(s.sent for s in stats)
        handled = len(self.done)
        lags = sorted(self.lags)
        return FleetRun(
            impl=self.impl,
            n=self.n,
            seconds=wall,
            ticks=len(lags),
            ticks_expected=round(self.n * wall / PERIOD),
            tick_lag_p50_ms=1e3 * _percentile(lags, 50) if lags else None,
            tick_lag_p99_ms=1e3 * _percentile(lags, 99) if lags else None,
            tick_lag_max_ms=1e3 * lags[-1] if lags else None,
            cpu_cores=_cores(self._times0, self._times1),
            bytes_per_bot=(self._rss1 - self._rss0) / self.n,
            offered=sum(s.offered for s in stats),
            sent=sent,
            refused=sum(s.refused for s in stats),
            handled=handled,
            lost=max(0, sent - handled),
            duplicated=max(0, handled - sent),
            msg_p50_ms=_ms(self.msg_lat, 50),
            msg_p99_ms=_ms(self.msg_lat, 99),
            asks=sum(s.asks for s in stats),
            ask_timeouts=sum(s.timeouts for s in stats),
            ask_p99_ms=_ms(self.ask_rtt, 99),
            gc_share=self.gc_time / wall,
            gc_collections=self.gc_count,
            setup_s=self.setup_s,
            teardown_s=teardown_s,
            extra=dict(self.extra),
        )


# -- senders, for implementations driven from threads


def tell_sender(
    n: int, send: Callable[[int, Msg], bool], stop: threading.Event, stats: SendStats
) -> None:
    """Offer ``(1 - ASK_SHARE) * n`` tells per second, uniformly over the bots, until ``stop``.

    ``send(bot, msg)`` returns whether the mailbox accepted the message.
    """
    rng = random.Random(n)
    interval = 1.0 / ((1.0 - ASK_SHARE) * n)
    t0 = monotonic()
    j = 0
    while not stop.is_set():
        now = monotonic()
        due = t0 + j * interval
        while due <= now:
            stats.offered += 1
            if send(rng.randrange(n), (monotonic(), j)):
                stats.sent += 1
            else:
                stats.refused += 1
            j += 1
            due = t0 + j * interval
        time.sleep(max(SEND_SLICE, due - monotonic()))


def ask_sender(
    k: int,
    n: int,
    ask: Callable[[int, Msg], object],
    stop: threading.Event,
    stats: SendStats,
    rec: Recorder,
) -> None:
    """Ask sender ``k`` of ``ASK_SENDERS``: its share of ``ASK_SHARE * n`` asks per second.

    ``ask(bot, msg)`` returns the reply, raises Refused (mailbox full) or
    TimeoutError (no reply within ``ASK_TIMEOUT``). A late reply delays
    only this sender's next ask.
    """
    rng = random.Random(n * 100 + k)
    rate = ASK_SHARE * n
    interval = ASK_SENDERS / rate
    t0 = monotonic() + k / rate
    m = 0
    while True:
        delay = t0 + m * interval - monotonic()
        if stop.wait(delay) if delay > 0 else stop.is_set():
            return
        sent_at = monotonic()
        stats.offered += 1
        stats.sent += 1  # counted before the ask: the reply may never be awaited
        try:
            ask(rng.randrange(n), (sent_at, m))
        except Refused:
            stats.sent -= 1
            stats.refused += 1
        except TimeoutError:
            stats.timeouts += 1
        else:
            stats.asks += 1
            rec.answered(sent_at)
        m += 1


def drive_threads(
    rec: Recorder,
    n: int,
    seconds: float,
    warmup: float,
    send: Callable[[int, Msg], bool],
    ask: Callable[[int, Msg], object],
) -> list[SendStats]:
    """Run the sender threads through warm-up, the window and the drain; their counts."""
    stop = threading.Event()
    stats = [SendStats() for _ in range(1 + ASK_SENDERS)]
    threads = [threading.Thread(target=tell_sender, args=(n, send, stop, stats[0]), daemon=True)]
    threads += [
        threading.Thread(target=ask_sender, args=(k, n, ask, stop, stats[1 + k], rec), daemon=True)
        for k in range(ASK_SENDERS)
    ]
    for t in threads:
        t.start()
    time.sleep(warmup)
    rec.open_window()
    time.sleep(seconds)
    rec.close_window()
    stop.set()
    for t in threads:
        t.join(ASK_TIMEOUT + 1.0)
    deadline = monotonic() + DRAIN_S
    while not rec.drained(stats) and monotonic() < deadline:
        time.sleep(0.01)
    return stats


def wait_started(rec: Recorder) -> None:
    """Block until all bots started (RuntimeError after ``START_S``), then mark memory."""
    deadline = monotonic() + START_S
    while not rec.all_started():
        if monotonic() > deadline:
            raise RuntimeError(f"only {len(rec.started)} of {rec.n} bots started")
        time.sleep(0.005)
    rec.after_bots()


# -- senders, for the async implementations (asyncio and trio alike)


class StopFlag:
    """A stop flag for tasks of one event loop."""

    def __init__(self) -> None:
        """Not stopped."""
        self.stopped = False


async def tell_sender_async(
    n: int,
    send: Callable[[int, Msg], bool],
    stop: StopFlag,
    stats: SendStats,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """``tell_sender`` as a task: ``sleep`` is the event loop's sleep."""
    rng = random.Random(n)
    interval = 1.0 / ((1.0 - ASK_SHARE) * n)
    t0 = monotonic()
    j = 0
    while not stop.stopped:
        now = monotonic()
        due = t0 + j * interval
        while due <= now:
            stats.offered += 1
            if send(rng.randrange(n), (monotonic(), j)):
                stats.sent += 1
            else:
                stats.refused += 1
            j += 1
            due = t0 + j * interval
        await sleep(max(SEND_SLICE, due - monotonic()))


async def ask_sender_async(
    k: int,
    n: int,
    ask: Callable[[int, Msg], Awaitable[object]],
    stop: StopFlag,
    stats: SendStats,
    rec: Recorder,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """``ask_sender`` as a task (``ask`` raises Refused or TimeoutError alike)."""
    rng = random.Random(n * 100 + k)
    rate = ASK_SHARE * n
    interval = ASK_SENDERS / rate
    t0 = monotonic() + k / rate
    m = 0
    while not stop.stopped:
        delay = t0 + m * interval - monotonic()
        if delay > 0:
            await sleep(delay)
            continue
        sent_at = monotonic()
        stats.offered += 1
        stats.sent += 1  # counted before the ask: the reply may never be awaited
        try:
            await ask(rng.randrange(n), (sent_at, m))
        except Refused:
            stats.sent -= 1
            stats.refused += 1
        except TimeoutError:
            stats.timeouts += 1
        else:
            stats.asks += 1
            rec.answered(sent_at)
        m += 1


async def wait_started_async(rec: Recorder, sleep: Callable[[float], Awaitable[None]]) -> None:
    """``wait_started`` for a task."""
    deadline = monotonic() + START_S
    while not rec.all_started():
        if monotonic() > deadline:
            raise RuntimeError(f"only {len(rec.started)} of {rec.n} bots started")
        await sleep(0.005)
    rec.after_bots()


async def drive_async(
    rec: Recorder,
    stop: StopFlag,
    stats: list[SendStats],
    seconds: float,
    warmup: float,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """Time warm-up, window and drain while the sender tasks run; stops them."""
    await sleep(warmup)
    rec.open_window()
    await sleep(seconds)
    rec.close_window()
    stop.stopped = True
    deadline = monotonic() + DRAIN_S + ASK_TIMEOUT
    while not rec.drained(stats) and monotonic() < deadline:
        await sleep(0.01)


# -- (a) asyncio: a task per bot

AioItem = tuple[float, int, "asyncio.Future[int] | None"]


async def _asyncio_main(n: int, seconds: float, warmup: float) -> FleetRun:
    """The asyncio peer inside its event loop."""
    rec = Recorder("asyncio", n)
    loop = asyncio.get_running_loop()
    rec.before_bots()
    base = loop.time() + PERIOD

    async def bot(i: int, inbox: asyncio.Queue[AioItem]) -> None:
        """One bot's task: wait for a message until the next tick is due, then tick."""
        state = Walker()
        rec.bot_started()
        due = first_due(base, i, n, loop.time())
        while True:
            try:
                async with asyncio.timeout_at(due):
                    sent_at, value, reply = await inbox.get()
            except TimeoutError:
                now = loop.time()
                rec.tick(now - due)
                state.on_tick()
                due = next_due(due, now)
                continue
            rec.handled(sent_at)
            result = state.on_message(value)
            if reply is not None and not reply.done():
                reply.set_result(result)

    inboxes: list[asyncio.Queue[AioItem]] = [asyncio.Queue(MAILBOX) for _ in range(n)]
    tasks = [asyncio.create_task(bot(i, inboxes[i])) for i in range(n)]
    await wait_started_async(rec, asyncio.sleep)

    def send(i: int, msg: Msg) -> bool:
        """Offer a tell to bot ``i``'s queue; False if it is full."""
        try:
            inboxes[i].put_nowait((msg[0], msg[1], None))
        except asyncio.QueueFull:
            return False
        return True

    async def ask(i: int, msg: Msg) -> object:
        """Ask bot ``i``: a future in its queue, awaited for at most ASK_TIMEOUT."""
        reply: asyncio.Future[int] = loop.create_future()
        try:
            inboxes[i].put_nowait((msg[0], msg[1], reply))
        except asyncio.QueueFull:
            raise Refused from None
        async with asyncio.timeout(ASK_TIMEOUT):
            return await reply

    stop = StopFlag()
    stats = [SendStats() for _ in range(1 + ASK_SENDERS)]
    senders = [asyncio.create_task(tell_sender_async(n, send, stop, stats[0], asyncio.sleep))]
    senders += [
        asyncio.create_task(ask_sender_async(k, n, ask, stop, stats[1 + k], rec, asyncio.sleep))
        for k in range(ASK_SENDERS)
    ]
    await drive_async(rec, stop, stats, seconds, warmup, asyncio.sleep)
    t0 = monotonic()
    for t in senders + tasks:
        t.cancel()
    await asyncio.gather(*senders, *tasks, return_exceptions=True)
    return rec.result(stats, monotonic() - t0)


def run_asyncio(n: int, seconds: float, warmup: float) -> FleetRun:
    """(a) One asyncio task per bot; asyncio.Queue mailbox; asyncio.timeout_at ticks."""
    return asyncio.run(_asyncio_main(n, seconds, warmup))


# -- (b) trio: a task per bot

TrioItem = tuple[float, int, "trio.MemorySendChannel[int] | None"]


def run_trio(n: int, seconds: float, warmup: float) -> FleetRun:
    """(b) One trio task per bot; a memory channel mailbox; trio.move_on_at ticks."""
    import trio

    async def main() -> FleetRun:
        """The trio peer inside trio.run: bots in one nursery, senders in another."""
        rec = Recorder("trio", n)
        rec.before_bots()
        base = trio.current_time() + PERIOD

        async def bot(i: int, inbox: trio.MemoryReceiveChannel[TrioItem]) -> None:
            """One bot's task: receive until the next tick is due, then tick."""
            state = Walker()
            rec.bot_started()
            due = first_due(base, i, n, trio.current_time())
            while True:
                with trio.move_on_at(due) as scope:
                    sent_at, value, reply = await inbox.receive()
                if scope.cancelled_caught:
                    now = trio.current_time()
                    rec.tick(now - due)
                    state.on_tick()
                    due = next_due(due, now)
                    continue
                rec.handled(sent_at)
                result = state.on_message(value)
                if reply is not None:
                    try:
                        reply.send_nowait(result)
                    except (trio.BrokenResourceError, trio.WouldBlock):
                        pass  # the asker gave up

        inboxes: list[trio.MemorySendChannel[TrioItem]] = []
        stop = StopFlag()
        stats = [SendStats() for _ in range(1 + ASK_SENDERS)]

        def send(i: int, msg: Msg) -> bool:
            """Offer a tell to bot ``i``'s channel; False if it is full."""
            try:
                inboxes[i].send_nowait((msg[0], msg[1], None))
            except trio.WouldBlock:
                return False
            return True

        async def ask(i: int, msg: Msg) -> object:
            """Ask bot ``i``: a reply channel in its message, awaited for at most ASK_TIMEOUT."""
            reply_send, reply_recv = trio.open_memory_channel[int](1)
            with reply_recv:
                try:
                    inboxes[i].send_nowait((msg[0], msg[1], reply_send))
                except trio.WouldBlock:
                    raise Refused from None
                try:
                    with trio.fail_after(ASK_TIMEOUT):
                        return await reply_recv.receive()
                except trio.TooSlowError:
                    raise TimeoutError from None

        teardown_t0 = 0.0
        async with trio.open_nursery() as nursery:
            for i in range(n):
                send_ch, recv_ch = trio.open_memory_channel[TrioItem](MAILBOX)
                inboxes.append(send_ch)
                nursery.start_soon(bot, i, recv_ch)
            await wait_started_async(rec, trio.sleep)
            async with trio.open_nursery() as senders:
                senders.start_soon(tell_sender_async, n, send, stop, stats[0], trio.sleep)
                for k in range(ASK_SENDERS):
                    senders.start_soon(
                        ask_sender_async, k, n, ask, stop, stats[1 + k], rec, trio.sleep
                    )
                await drive_async(rec, stop, stats, seconds, warmup, trio.sleep)
                senders.cancel_scope.cancel()
            teardown_t0 = monotonic()
            nursery.cancel_scope.cancel()
        return rec.result(stats, monotonic() - teardown_t0)

    return trio.run(main)


# -- (c) threads: a thread per bot

ThreadItem = tuple[float, int, "Future[int] | None"]


def _join_all(threads: list[threading.Thread], rec: Recorder) -> None:
    """Join ``threads`` within ``JOIN_S`` in all; record how many did not stop."""
    deadline = monotonic() + JOIN_S
    for t in threads:
        t.join(max(0.0, deadline - monotonic()))
    alive = sum(t.is_alive() for t in threads)
    if alive:
        rec.extra["threads_not_stopped"] = alive


def _start_threads(threads: list[threading.Thread], rec: Recorder) -> None:
    """Start ``threads``; if the system refuses one, say how many ran."""
    for k, t in enumerate(threads):
        try:
            t.start()
        except RuntimeError as exc:
            msg = f"thread creation failed at thread {k + 1} of {rec.n}: {exc}"
            raise RuntimeError(msg) from exc


def run_threads(n: int, seconds: float, warmup: float) -> FleetRun:
    """(c) One thread per bot; queue.Queue mailbox read with a timeout to the next tick.

    The threads wait for all of them to be started before they tick: with
    thousands of threads already ticking, the starting thread barely gets
    the GIL.
    """
    if n > THREAD_CAP:
        raise RuntimeError(f"not attempted: {n} threads is over the cap of {THREAD_CAP}")
    rec = Recorder("threads", n)
    stop = threading.Event()
    go = threading.Event()  # the bots start ticking once all threads are up
    rec.before_bots()

    def bot(i: int, inbox: queue.Queue[ThreadItem]) -> None:
        """One bot's thread: wait on the queue until the next tick is due, then tick."""
        state = Walker()
        rec.bot_started()
        go.wait()
        due = first_due(base, i, n, monotonic())
        while not stop.is_set():
            now = monotonic()
            if now >= due:
                rec.tick(now - due)
                state.on_tick()
                due = next_due(due, now)
                continue
            try:
                sent_at, value, reply = inbox.get(timeout=due - now)
            except queue.Empty:
                continue
            rec.handled(sent_at)
            result = state.on_message(value)
            if reply is not None:
                reply.set_result(result)

    inboxes: list[queue.Queue[ThreadItem]] = [queue.Queue(MAILBOX) for _ in range(n)]
    threads = [threading.Thread(target=bot, args=(i, inboxes[i]), daemon=True) for i in range(n)]
    try:
        _start_threads(threads, rec)
        wait_started(rec)
        base = monotonic() + PERIOD
        go.set()

        def send(i: int, msg: Msg) -> bool:
            """Offer a tell to bot ``i``'s queue; False if it is full."""
            try:
                inboxes[i].put_nowait((msg[0], msg[1], None))
            except queue.Full:
                return False
            return True

        def ask(i: int, msg: Msg) -> object:
            """Ask bot ``i``: a Future in its queue, waited on for at most ASK_TIMEOUT."""
            reply: Future[int] = Future()
            try:
                inboxes[i].put_nowait((msg[0], msg[1], reply))
            except queue.Full:
                raise Refused from None
            return reply.result(timeout=ASK_TIMEOUT)

        stats = drive_threads(rec, n, seconds, warmup, send, ask)
    finally:
        stop.set()
    t0 = monotonic()
    _join_all([t for t in threads if t.ident is not None], rec)
    return rec.result(stats, monotonic() - t0)


# -- (d) pykka: a ThreadingActor per bot


def run_pykka(n: int, seconds: float, warmup: float) -> FleetRun:
    """(d) One pykka ThreadingActor per bot; one scheduler thread tells the ticks.

    The scheduler keeps a heap of due times and does not tell a tick to an
    actor whose previous tick is still waiting in its inbox.
    """
    import pykka

    if n > THREAD_CAP:
        raise RuntimeError(f"not attempted: {n} threads is over the cap of {THREAD_CAP}")
    rec = Recorder("pykka", n)
    pending = bytearray(n)  # 1: a tick told and not yet handled

    class BotActor(pykka.ThreadingActor):
        """One bot as an actor: ticks and messages both arrive in its inbox."""

        use_daemon_thread = True

        def __init__(self, i: int) -> None:
            """Bot ``i`` with empty state."""
            super().__init__()
            self.i = i
            self.state = Walker()

        def on_start(self) -> None:
            """Count the bot as started."""
            rec.bot_started()

        def on_receive(self, message: Any) -> Any:
            """Handle a tick (record its lag) or a message (answer it)."""
            kind, stamp, value = message
            if kind == "tick":
                rec.tick(monotonic() - stamp)
                pending[self.i] = 0
                self.state.on_tick()
                return None
            rec.handled(stamp)
            return self.state.on_message(value)

    rec.before_bots()
    refs: list[pykka.ActorRef[BotActor]] = []
    try:
        for i in range(n):
            try:
                refs.append(BotActor.start(i))
            except RuntimeError as exc:
                msg = f"thread creation failed at actor {i + 1} of {n}: {exc}"
                raise RuntimeError(msg) from exc
        wait_started(rec)
        stop = threading.Event()

        def scheduler() -> None:
            """Tell each actor its tick when due (a heap of due times); skip busy actors."""
            base = monotonic() + PERIOD
            heap = [(base + PERIOD * i / n, i) for i in range(n)]
            heapq.heapify(heap)
            while not stop.is_set():
                now = monotonic()
                while heap[0][0] <= now:
                    due, i = heap[0]
                    heapq.heapreplace(heap, (next_due(due, now), i))
                    if not pending[i]:
                        pending[i] = 1
                        try:
                            refs[i].tell(("tick", due, 0))
                        except pykka.ActorDeadError:
                            return  # stopping
                time.sleep(max(0.0, heap[0][0] - monotonic()))

        timer = threading.Thread(target=scheduler, daemon=True)
        timer.start()

        def send(i: int, msg: Msg) -> bool:
            """Tell bot ``i`` (pykka inboxes are unbounded: never refused)."""
            refs[i].tell(("msg", msg[0], msg[1]))
            return True

        def ask(i: int, msg: Msg) -> object:
            """Ask bot ``i`` through pykka's ask, for at most ASK_TIMEOUT."""
            try:
                return refs[i].ask(("msg", msg[0], msg[1]), timeout=ASK_TIMEOUT)
            except pykka.Timeout:
                raise TimeoutError from None

        stats = drive_threads(rec, n, seconds, warmup, send, ask)
        stop.set()
        timer.join(JOIN_S)
    finally:
        t0 = monotonic()
        futures = pykka.ActorRegistry.stop_all(block=False)
    try:
        pykka.get_all(futures, timeout=JOIN_S)
    except pykka.Timeout:
        rec.extra["actors_not_stopped"] = sum(r.is_alive() for r in refs)
    return rec.result(stats, monotonic() - t0)


# -- (e) the best hand-written peer: a 4-thread pool, a heap timer, deque mailboxes


class _PoolBot:
    """One bot of the pool: its state, its mailbox and its scheduling flags."""

    __slots__ = ("lock", "mail", "queued", "state", "tick_due")

    def __init__(self) -> None:
        """An idle bot with an empty mailbox."""
        self.state = Walker()
        self.mail: deque[ThreadItem] = deque()
        self.tick_due: float | None = None  # a tick waiting to run (the latest due time)
        self.queued = False  # in the ready queue, or being run by a worker
        self.lock = threading.Lock()


def run_pool(n: int, seconds: float, warmup: float) -> FleetRun:
    """(e) 4 worker threads share a ready queue of bots; one timer thread with a heap.

    A bot is in the ready queue at most once, so its handlers never run at
    the same time; a worker runs its pending tick and up to ``POOL_BATCH``
    messages, then puts it back if more work arrived. A tick that comes due
    while the previous one still waits replaces it (skipped).
    """
    rec = Recorder("pool", n)
    ready: queue.SimpleQueue[_PoolBot | None] = queue.SimpleQueue()
    stop = threading.Event()

    def wake(bot: _PoolBot) -> None:
        """Put ``bot`` in the ready queue unless it is there or running already."""
        with bot.lock:
            if bot.queued:
                return
            bot.queued = True
        ready.put(bot)

    def worker() -> None:
        """A pool thread: run ready bots (a tick, then a batch of messages) until None."""
        while True:
            bot = ready.get()
            if bot is None:
                return
            with bot.lock:
                due = bot.tick_due
                bot.tick_due = None
            if due is not None:
                rec.tick(monotonic() - due)
                bot.state.on_tick()
            for _ in range(POOL_BATCH):
                try:
                    sent_at, value, reply = bot.mail.popleft()
                except IndexError:
                    break
                rec.handled(sent_at)
                result = bot.state.on_message(value)
                if reply is not None:
                    reply.set_result(result)
            with bot.lock:
                again = bool(bot.mail) or bot.tick_due is not None
                bot.queued = again
            if again:
                ready.put(bot)

    def timer() -> None:
        """Mark each bot's tick when due (a heap of due times) and wake the bot."""
        base = monotonic() + PERIOD
        heap = [(base + PERIOD * i / n, i) for i in range(n)]
        heapq.heapify(heap)
        while not stop.is_set():
            now = monotonic()
            while heap[0][0] <= now:
                due, i = heap[0]
                heapq.heapreplace(heap, (next_due(due, now), i))
                bot = bots[i]
                with bot.lock:
                    bot.tick_due = due
                    if bot.queued:
                        continue
                    bot.queued = True
                ready.put(bot)
            time.sleep(max(0.0, heap[0][0] - monotonic()))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(POOL_WORKERS)]
    for t in threads:
        t.start()
    rec.before_bots()
    bots = [_PoolBot() for _ in range(n)]
    for _ in bots:
        rec.bot_started()
    threads.append(threading.Thread(target=timer, daemon=True))
    threads[-1].start()
    wait_started(rec)

    def send(i: int, msg: Msg) -> bool:
        """Append a tell to bot ``i``'s deque; False if it holds MAILBOX already."""
        bot = bots[i]
        if len(bot.mail) >= MAILBOX:
            return False
        bot.mail.append((msg[0], msg[1], None))
        wake(bot)
        return True

    def ask(i: int, msg: Msg) -> object:
        """Ask bot ``i``: a Future in its deque, waited on for at most ASK_TIMEOUT."""
        reply: Future[int] = Future()
        bot = bots[i]
        if len(bot.mail) >= MAILBOX:
            raise Refused
        bot.mail.append((msg[0], msg[1], reply))
        wake(bot)
        return reply.result(timeout=ASK_TIMEOUT)

    try:
        stats = drive_threads(rec, n, seconds, warmup, send, ask)
    finally:
        stop.set()
        t0 = monotonic()
        for _ in range(POOL_WORKERS):
            ready.put(None)
    _join_all(threads, rec)
    return rec.result(stats, monotonic() - t0)


PEERS: Final[dict[str, Callable[[int, float, float], FleetRun]]] = {
    "asyncio": run_asyncio,
    "trio": run_trio,
    "threads": run_threads,
    "pykka": run_pykka,
    "pool": run_pool,
}
