"""The bot runtime's rules (DESIGN.md, Layer 3), one test per rule.

Each rule runs in every mode where it applies: ``with Fleet()`` on threads
("thread"), and ``async with Fleet()`` under trio and under asyncio, with
plain handlers ("trio-sync", "asyncio-sync") or with ``async def`` handlers
("trio-async", "asyncio-async"). A test body is written once as
``async def body(f)``; ``f`` (an ``F``) calls the blocking API in the thread
mode (the coroutine never suspends there) and the async API otherwise, and
``f.bot(cls)`` is ``cls`` or its async twin. Bodies run in a thread of their
own (tests.worlds), so a hang fails the test instead of stalling the run.

Timing-dependent rules get their margins from the runtime's own knobs (a
backoff of at least 0.3 s to hold a bot still while the test fills its
mailbox, and so on); no sleep is longer than the rule needs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from time import monotonic
from typing import Any, TypeVar, cast

import pytest
import sniffio
import trio

from chanpy import Cancelled, Chan, Closed, Context, Group, WouldBlock
from chanpy_patterns import (
    Bot,
    BotFailed,
    BotRef,
    BotStopped,
    DeadLetter,
    Fleet,
    FleetStats,
    Restart,
)
from chanpy_patterns._bot import BACKOFF
from tests.worlds import Ops, run

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")
B = TypeVar("B", bound=Bot)

MODES = ("thread", "trio-sync", "trio-async", "asyncio-sync", "asyncio-async")
ASYNC_MODES = MODES[1:]
SYNC_HANDLER_MODES = ("thread", "trio-sync", "asyncio-sync")
BODY_TIMEOUT = 20.0
EPS = 0.002  # clock granularity allowed on "waited at least"


# -- the modes -----------------------------------------------------------------


class F:
    """What a test body sees of its mode: the fleet, sends, asks, waits, bot classes."""

    def __init__(self, ops: Ops, handlers: str) -> None:
        self.ops = ops
        self.world = ops.world
        self.async_handlers = handlers == "async"

    def bot(self, cls: type[B], twin: type[B] | None = None) -> type[B]:
        """``cls`` with plain handlers; with async handlers, ``twin`` or an async copy."""
        if not self.async_handlers:
            return cls
        return twin if twin is not None else asyncified(cls)

    def fleet(self, **kwargs: Any) -> AbstractAsyncContextManager[Fleet]:
        """``Fleet(**kwargs)`` as this world enters it (``with`` or ``async with``)."""
        return cast("AbstractAsyncContextManager[Fleet]", self.ops.scope(Fleet(**kwargs)))

    def group(self) -> AbstractAsyncContextManager[Group]:
        return cast("AbstractAsyncContextManager[Group]", self.ops.scope(Group()))

    async def send(self, ref: BotRef, msg: object, timeout: float | None = None) -> None:
        if self.world == "thread":
            ref.send(msg, timeout)
        else:
            await ref.asend(msg, timeout)

    async def ask(self, ref: BotRef, msg: object, timeout: float | None = 5.0) -> Any:
        if self.world == "thread":
            return ref.ask(msg, timeout)
        return await ref.aask(msg, timeout)

    async def sleep(self, seconds: float) -> None:
        await self.ops.sleep(seconds)

    async def until(self, condition: Callable[[], object], timeout: float = 5.0) -> None:
        """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
        deadline = monotonic() + timeout
        while not condition():
            if monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await self.ops.sleep(0.002)

    async def stopped(self, ref: BotRef, timeout: float = 5.0) -> None:
        """Wait for ``ref.done`` to close (TimeoutError if it does not in time)."""
        try:
            await self.ops.recv(ref.done, timeout)
        except Closed:
            return
        raise AssertionError("ref.done delivered a value instead of closing")

    def in_thread(self, g: Group, fn: Callable[[F], Coroutine[Any, Any, Any]]) -> None:
        """Run ``fn`` in a thread of ``g``, with the blocking API."""
        g.go(Ops().worker(fn), F(Ops(), "sync"))

    def in_task(self, g: Group, fn: Callable[[F], Coroutine[Any, Any, Any]]) -> None:
        """Run ``fn`` as a task of ``g`` (a thread in the thread mode)."""
        if self.world == "thread":
            self.in_thread(g, fn)
        else:
            g.go(fn, self)


def run_mode(mode: str, body: Callable[[F], Coroutine[Any, Any, T]]) -> T:
    world, _, handlers = mode.partition("-")

    async def main(ops: Ops) -> T:
        return await body(F(ops, handlers or "sync"))

    return run(world, main, BODY_TIMEOUT)


_HANDLERS = ("on_start", "on_tick", "on_message", "on_stop")
_twins: dict[type[Bot], type[Bot]] = {}


def asyncified(cls: type[B]) -> type[B]:
    """A subclass of ``cls`` whose own handlers are ``async def``: each awaits the
    fleet's checkpoint, runs the plain handler, and awaits again."""
    twin = _twins.get(cls)
    if twin is None:
        ns = {
            h: _awaiting(getattr(cls, h))
            for h in _HANDLERS
            if getattr(cls, h) is not getattr(Bot, h)
        }
        twin = _twins[cls] = type(f"Async{cls.__name__}", (cls,), ns)
    return cast("type[B]", twin)


def _awaiting(fn: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def handler(self: Bot, *args: Any) -> Any:
        await self.fleet.checkpoint()
        result = fn(self, *args)
        await self.fleet.checkpoint()
        return result

    return handler


async def async_sleep(seconds: float) -> None:
    """Sleep in whichever loop runs the caller."""
    if sniffio.current_async_library() == "trio":
        await trio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


def drain(ch: Chan[DeadLetter]) -> list[DeadLetter]:
    out = []
    while True:
        try:
            out.append(ch.recv_nowait())
        except (WouldBlock, Closed):
            return out


def starts_reach(log: Log, n: int) -> Callable[[], bool]:
    return lambda: len(log.starts) >= n


def messages_of(log: Log) -> list[object]:
    return [m for _, m in log.handled]


# -- bots ----------------------------------------------------------------------


class Boom(Exception):
    """What a Flaky bot raises on "crash"."""


class Log:
    """What the instances of one bot did; kept across its restarts (a spawn argument)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made: list[tuple[int, tuple[object, ...]]] = []  # (serial, constructor args)
        self.starts: list[tuple[int, float]] = []  # (serial, when)
        self.handled: list[tuple[int, object]] = []  # (serial, message)
        self.crashes: list[float] = []  # when
        self.raised: list[Boom] = []
        self.stops: list[tuple[int, int]] = []  # (serial, messages handled by then)


class Flaky(Bot):
    """Answers each message with itself; raises Boom on "crash"."""

    def __init__(self, log: Log, *tags: object) -> None:
        with log.lock:
            self.serial = len(log.made) + 1
            log.made.append((self.serial, tags))
        self.log = log

    def on_start(self) -> None:
        self.log.starts.append((self.serial, monotonic()))

    def on_message(self, msg: object) -> object:
        if msg == "crash":
            exc = Boom(f"{self.ref.name} crashed")
            self.log.raised.append(exc)
            self.log.crashes.append(monotonic())
            raise exc
        self.log.handled.append((self.serial, msg))
        return msg

    def on_stop(self) -> None:
        self.log.stops.append((self.serial, len(self.log.handled)))


class Slow(Flaky):
    """A Flaky bot whose messages each take 5 ms of CPU-bound work."""

    def on_message(self, msg: object) -> object:
        time.sleep(0.005)
        return super().on_message(msg)


class AsyncSlow(Slow):
    """Slow with an async on_message (and a plain on_stop)."""

    async def on_message(self, msg: object) -> object:
        await self.fleet.checkpoint()
        return Slow.on_message(self, msg)  # recorded only when the handler completes


class Probe:
    """Shared by the instances of one bot: detects overlapping handlers, records
    each sender's sequence numbers in the order they were handled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside = False
        self.overlaps = 0
        self.ticks = 0
        self.seen: defaultdict[int, list[int]] = defaultdict(list)

    def enter(self) -> None:
        with self._lock:
            if self.inside:
                self.overlaps += 1
            self.inside = True

    def leave(self) -> None:
        with self._lock:
            self.inside = False


class Orderly(Bot):
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def on_tick(self, now: float) -> object:
        self.probe.enter()
        self.probe.ticks += 1
        time.sleep(0)  # let another thread run while inside
        self.probe.leave()
        return None

    def on_message(self, msg: tuple[int, int]) -> object:
        self.probe.enter()
        sender, seq = msg
        self.probe.seen[sender].append(seq)
        time.sleep(0)
        self.probe.leave()
        return seq


class AsyncOrderly(Orderly):
    """Orderly whose handlers stay inside across awaits."""

    async def on_tick(self, now: float) -> None:
        self.probe.enter()
        await self.fleet.checkpoint()
        self.probe.ticks += 1
        await self.fleet.checkpoint()
        self.probe.leave()

    async def on_message(self, msg: tuple[int, int]) -> int:
        self.probe.enter()
        await self.fleet.checkpoint()
        sender, seq = msg
        self.probe.seen[sender].append(seq)
        await self.fleet.checkpoint()
        self.probe.leave()
        return seq


class TickLog:
    def __init__(self) -> None:
        self.ticks: list[tuple[float, float, int]] = []  # (now, monotonic(), skipped so far)
        self.block_end = 0.0


class Ticker(Bot):
    def __init__(self, log: TickLog) -> None:
        self.log = log

    def on_tick(self, now: float) -> None:
        self.log.ticks.append((now, monotonic(), 0))


class LateTicker(Bot):
    """Blocks for ``block`` seconds in its ``at``-th tick."""

    def __init__(self, log: TickLog, block: float, at: int) -> None:
        self.log, self.block, self.at = log, block, at

    def on_tick(self, now: float) -> object:
        self.log.ticks.append((now, monotonic(), self.fleet.stats().skipped_ticks))
        if len(self.log.ticks) == self.at:
            time.sleep(self.block)
            self.log.block_end = monotonic()
        return None


class AsyncLateTicker(LateTicker):
    """LateTicker that awaits (rather than blocks) in its long tick."""

    async def on_tick(self, now: float) -> None:
        self.log.ticks.append((now, monotonic(), self.fleet.stats().skipped_ticks))
        if len(self.log.ticks) == self.at:
            await async_sleep(self.block)
            self.log.block_end = monotonic()


def assert_on_grid(nows: list[float], period: float) -> list[int]:
    """Successive ``now``s differ by whole periods; returns those whole numbers."""
    steps = []
    for a, b in itertools.pairwise(nows):
        k = (b - a) / period
        assert abs(k - round(k)) < 1e-6, f"ticks {a} and {b} are {k} periods apart"
        assert round(k) >= 1, f"two ticks for one grid point: {a}, {b}"
        steps.append(round(k))
    return steps


# -- one bot at a time, in order -------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_one_bots_handlers_never_overlap_and_each_senders_order_is_kept(mode: str) -> None:
    n_bots, n_senders, per_sender = 4, 6, 150

    async def body(f: F) -> list[Probe]:
        probes = [Probe() for _ in range(n_bots)]
        async with f.fleet(workers=2) as fleet:
            refs = [
                fleet.spawn(f.bot(Orderly, AsyncOrderly), p, tick=0.002, mailbox=4) for p in probes
            ]

            def sender(sid: int) -> Callable[[F], Coroutine[Any, Any, None]]:
                async def send_all(g: F) -> None:
                    for seq in range(per_sender):
                        for ref in refs:
                            await g.send(ref, (sid, seq), timeout=10)

                return send_all

            async with f.group() as g:
                for sid in range(n_senders):
                    if sid % 2:
                        f.in_task(g, sender(sid))  # tasks (threads in the thread mode)
                    else:
                        f.in_thread(g, sender(sid))
        return probes

    for probe in run_mode(mode, body):
        assert probe.overlaps == 0, "two handlers of one bot ran at the same time"
        assert sorted(probe.seen) == list(range(n_senders))
        for sid, seqs in probe.seen.items():
            assert seqs == list(range(per_sender)), f"sender {sid}: out of order or lost"


# -- the mailbox -----------------------------------------------------------------

HOLD = Restart(backoff=(1.0, 1.0))  # a crash holds the bot still for 0.5 to 1 s


@pytest.mark.parametrize("mode", MODES)
def test_a_full_mailbox_blocks_send_until_it_drains(mode: str) -> None:
    async def body(f: F) -> tuple[Log, float, list[str]]:
        log = Log()
        events: list[str] = []
        async with f.fleet(workers=1) as fleet:
            ref = fleet.spawn(f.bot(Flaky), log, tick=None, mailbox=2, restart=HOLD)
            await f.send(ref, "crash")
            await f.until(lambda: log.crashes)  # in its backoff: it handles nothing
            ref.send_nowait(1)
            ref.send_nowait(2)
            with pytest.raises(WouldBlock):
                ref.send_nowait("nowait")
            t0 = monotonic()
            with pytest.raises(TimeoutError):
                await f.send(ref, "timed", timeout=0.05)
            waited = monotonic() - t0

            async def blocked(g: F) -> None:
                events.append("sending")
                await g.send(ref, 3, timeout=10)
                events.append("accepted")

            async with f.group() as g:
                f.in_task(g, blocked)
                await f.until(lambda: events)
                await f.sleep(0.05)
                assert events == ["sending"], "send returned while the mailbox was full"
                assert ref.restarts == 0, "the backoff ended too early for this test"
            # the group waited for the send: the restarted bot drained the mailbox
            assert events == ["sending", "accepted"]
        return log, waited, events

    log, waited, _ = run_mode(mode, body)
    assert waited >= 0.05 - EPS
    assert log.handled == [(2, 1), (2, 2), (2, 3)]  # by the fresh instance, in order


@pytest.mark.parametrize("mode", MODES)
def test_after_stop_every_send_raises_bot_stopped(mode: str) -> None:
    async def body(f: F) -> tuple[Log, list[str]]:
        log = Log()
        outcome: list[str] = []
        async with f.fleet(workers=1) as fleet:
            ref = fleet.spawn(f.bot(Flaky), log, tick=None, mailbox=1, restart=HOLD)
            await f.send(ref, "crash")
            await f.until(lambda: log.crashes)
            ref.send_nowait("kept")  # accepted: the mailbox is now full

            async def blocked(g: F) -> None:
                try:
                    await g.send(ref, "refused")
                except BotStopped as exc:
                    outcome.append(type(exc).__name__)

            async with f.group() as g:
                f.in_task(g, blocked)
                if f.world != "thread":
                    f.in_thread(g, blocked)  # a thread's send too
                await f.sleep(0.05)
                assert outcome == []
                ref.stop()  # wakes the blocked senders with BotStopped
            with pytest.raises(BotStopped):
                ref.send_nowait("x")
            with pytest.raises(BotStopped):
                await f.send(ref, "x")
            with pytest.raises(BotStopped):
                await f.send(ref, "x", timeout=1)
            with pytest.raises(BotStopped) as info:
                await f.ask(ref, "x")
            assert isinstance(info.value, Closed)
            if f.world != "thread":
                with pytest.raises(BotStopped):
                    ref.ask("x", timeout=1)  # no event-loop block: it fails at once
            await f.stopped(ref)
            with pytest.raises(BotStopped):
                ref.send_nowait("after done")
        return log, outcome

    log, outcome = run_mode(mode, body)
    assert issubclass(BotStopped, Closed)
    assert outcome == ["BotStopped"] * (1 if mode == "thread" else 2)
    assert messages_of(log) == ["kept"]  # what was accepted was handled, then on_stop
    assert log.stops == [(2, 1)]


# -- ask -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_ask_returns_the_answer_reraises_the_error_and_times_out(mode: str) -> None:
    async def body(f: F) -> tuple[Log, list[DeadLetter], int]:
        log = Log()
        async with f.fleet(workers=1) as fleet:
            policy = Restart(backoff=(0.6, 0.6))  # 0.3 to 0.6 s
            ref = fleet.spawn(f.bot(Flaky), log, tick=None, restart=policy)
            assert await f.ask(ref, "hi") == "hi"
            assert await f.ask(ref, {"a": 1}) == {"a": 1}
            with pytest.raises(Boom) as info:
                await f.ask(ref, "crash")
            assert info.value is log.raised[0]
            t0 = monotonic()
            with pytest.raises(TimeoutError):
                await f.ask(ref, "late", timeout=0.05)  # waits in the mailbox
            assert monotonic() - t0 >= 0.05 - EPS
            assert ref.restarts == 0, "the backoff ended too early for this test"
            assert await f.ask(ref, "after") == "after"  # after the restart
            assert ref.restarts == 1
            if f.world != "thread":
                answer: list[object] = []
                async with f.group() as g:

                    async def from_thread(t: F) -> None:
                        answer.append(await t.ask(ref, "from a thread"))

                    f.in_thread(g, from_thread)
                assert answer == ["from a thread"]
            restarts = ref.restarts
        return log, drain(fleet.dead_letters), restarts

    log, dead, restarts = run_mode(mode, body)
    assert restarts == 1
    assert [s for s, _ in log.starts] == [1, 2]  # the bot restarted after the error
    handled = messages_of(log)
    assert handled[:3] == ["hi", {"a": 1}, "late"]  # the timed-out ask is still handled
    assert handled[3] == "after"
    assert dead == [], "an ask's error goes to the asker, not to dead letters"


# -- ticks -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_ticks_keep_a_fixed_grid_with_small_lag_when_idle(mode: str) -> None:
    period = 0.01

    async def body(f: F) -> tuple[list[tuple[float, float, int]], FleetStats]:
        log = TickLog()
        async with f.fleet(workers=1) as fleet:
            fleet.spawn(f.bot(Ticker), log, tick=period)
            await f.until(lambda: len(log.ticks) >= 30)
            stats = fleet.stats()
        return list(log.ticks), stats

    ticks, stats = run_mode(mode, body)
    steps = assert_on_grid([now for now, _, _ in ticks], period)
    assert steps.count(1) >= 0.8 * len(steps), f"an idle bot missed ticks: {steps}"
    lags = sorted(wall - now for now, wall, _ in ticks)
    assert lags[0] >= 0.0, "a tick ran before it was due"
    assert lags[len(lags) // 2] < 0.01, f"idle tick lag too large: {lags}"
    assert 0.0 <= stats.tick_lag_p50 <= stats.tick_lag_p99 <= stats.tick_lag_max < 1.0


@pytest.mark.parametrize("mode", MODES)
def test_a_late_bot_gets_one_tick_for_the_missed_ones_and_they_count_as_skipped(
    mode: str,
) -> None:
    period, at = 0.04, 3
    block = 3.25 * period

    async def body(f: F) -> TickLog:
        log = TickLog()
        async with f.fleet(workers=1) as fleet:
            cls = f.bot(LateTicker, AsyncLateTicker)
            fleet.spawn(cls, log, block, at, tick=period)
            await f.until(lambda: len(log.ticks) >= at + 5)
        return log

    log = run_mode(mode, body)
    nows = [now for now, _, _ in log.ticks]
    assert_on_grid(nows, period)
    due_blocked, _, _ = log.ticks[at - 1]
    assert log.block_end > 0
    during = [now for now in nows if due_blocked < now < log.block_end]
    assert len(during) <= 1, f"a burst of ticks for the missed grid points: {during}"
    just_after = [w for _, w, _ in log.ticks if log.block_end <= w <= log.block_end + period / 2]
    assert len(just_after) <= 1, "more than one tick right after the block"
    # Every grid point between the first and last tick either ticked or counted as skipped.
    grid_points = round((nows[-1] - nows[0]) / period) + 1
    skipped = log.ticks[-1][2] - log.ticks[0][2]
    assert skipped == grid_points - len(nows)
    assert skipped >= 2  # at least 2 of the 3 grid points inside the block


class Busy(Bot):
    """Counts its ticks and its messages."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def on_tick(self, now: float) -> None:
        self.counts["ticks"] += 1

    def on_message(self, msg: object) -> None:
        self.counts["messages"] += 1


@pytest.mark.parametrize("mode", MODES)
def test_a_bot_busy_with_messages_still_ticks_on_schedule(mode: str) -> None:
    period, duration = 0.01, 0.5

    async def body(f: F) -> tuple[dict[str, int], float]:
        counts = {"ticks": 0, "messages": 0}
        async with f.fleet(workers=1) as fleet:
            ref = fleet.spawn(f.bot(Busy), counts, tick=period, mailbox=4)
            t0 = monotonic()
            while monotonic() - t0 < duration:  # its mailbox is never empty for long
                await f.send(ref, None, timeout=5)
            elapsed = monotonic() - t0
        return counts, elapsed

    counts, elapsed = run_mode(mode, body)
    assert counts["messages"] > 100
    expected = elapsed / period
    assert counts["ticks"] >= 0.25 * expected, (
        f"{counts['ticks']} ticks in {elapsed:.2f} s of messages; expected about {expected:.0f}"
    )


@pytest.mark.parametrize("mode", MODES)
def test_bots_spawned_together_tick_at_spread_phases(mode: str) -> None:
    period, n = 0.1, 20

    async def body(f: F) -> list[float]:
        logs = [TickLog() for _ in range(n)]
        async with f.fleet(workers=2) as fleet:
            for log in logs:
                fleet.spawn(f.bot(Ticker), log, tick=period)
            await f.until(lambda: all(log.ticks for log in logs))
        return [log.ticks[0][0] for log in logs]

    firsts = run_mode(mode, body)
    phases = sorted((now % period) / period for now in firsts)  # where on the period, 0..1
    by_ms: defaultdict[int, int] = defaultdict(int)
    for p in phases:
        by_ms[int(p * period * 1000)] += 1
    assert max(by_ms.values()) <= 2, f"bots tick together: {dict(by_ms)}"
    gaps = [b - a for a, b in itertools.pairwise(phases)] + [1 - phases[-1] + phases[0]]
    assert max(gaps) < 0.25, f"phases not spread over the period: {phases}"


# -- restart ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_crash_restarts_a_fresh_instance_after_the_backoff_keeping_the_mailbox(
    mode: str,
) -> None:
    async def body(f: F) -> tuple[Log, list[DeadLetter], FleetStats, str, int]:
        log = Log()
        async with f.fleet(workers=1) as fleet:
            policy = Restart(backoff=(0.4, 0.4))  # 0.2 to 0.4 s
            ref = fleet.spawn(f.bot(Flaky), log, "arg", tick=None, restart=policy)
            assert await f.ask(ref, "before") == "before"
            await f.send(ref, "crash")
            await f.until(lambda: log.crashes)
            for i in range(3):
                await f.send(ref, i)  # during the backoff: they wait in the mailbox
            assert ref.restarts == 0, "the backoff ended too early for this test"
            await f.until(lambda: len(log.handled) == 4)
            stats = fleet.stats()
            name, restarts = ref.name, ref.restarts
        return log, drain(fleet.dead_letters), stats, name, restarts

    log, dead, stats, name, restarts = run_mode(mode, body)
    assert log.made == [(1, ("arg",)), (2, ("arg",))]  # rebuilt from the spawn arguments
    assert [s for s, _ in log.starts] == [1, 2]  # on_start again, on the new instance
    restarted_after = log.starts[1][1] - log.crashes[0]
    assert restarted_after >= 0.2 - EPS, "restarted before the backoff"
    assert log.handled == [(1, "before"), (2, 0), (2, 1), (2, 2)]
    assert restarts == 1
    assert stats.restarts == 1
    assert len(dead) == 1
    assert dead[0].bot == name
    assert dead[0].message == "crash"
    assert dead[0].reason == "crashed"
    assert dead[0].error is log.raised[0]


@pytest.mark.parametrize("mode", MODES)
def test_the_backoff_doubles_with_each_crash(mode: str) -> None:
    first = 0.02

    async def body(f: F) -> Log:
        log = Log()
        async with f.fleet(workers=1) as fleet:
            policy = Restart(max_restarts=10, within=30.0, backoff=(first, 5.0))
            ref = fleet.spawn(f.bot(Flaky), log, tick=None, restart=policy)
            for k in range(4):
                await f.send(ref, "crash")
                await f.until(starts_reach(log, k + 2))
        return log

    log = run_mode(mode, body)
    for k in range(4):
        delay = first * 2**k  # the jitter draws between half of it and all of it
        gap = log.starts[k + 1][1] - log.crashes[k]
        assert gap >= delay / 2 - EPS, f"crash {k}: restarted after {gap:.3f} s"


@pytest.mark.parametrize("mode", MODES)
def test_too_many_crashes_stop_the_bot_for_good(mode: str) -> None:
    async def body(f: F) -> tuple[Log, list[BaseException], list[DeadLetter], FleetStats, bool]:
        log = Log()
        errors: list[BaseException] = []
        asked: list[BotFailed] = []
        try:
            async with f.fleet(workers=1) as fleet:
                policy = Restart(max_restarts=2, within=10.0, backoff=(0.2, 0.2))
                ref = fleet.spawn(f.bot(Flaky), log, tick=None, mailbox=16, restart=policy)
                for msg in ("crash", "crash", "crash", "x", "y"):
                    await f.send(ref, msg)

                async def asker(t: F) -> None:
                    try:
                        await t.ask(ref, "z")
                    except BotFailed as exc:
                        asked.append(exc)

                async with f.group() as g:
                    f.in_task(g, asker)
                await f.stopped(ref)
                alive = ref.alive
                with pytest.raises(BotStopped):
                    await f.send(ref, "after")
                stats = fleet.stats()
                assert len(asked) == 1
                assert asked[0].name == ref.name
        except ExceptionGroup as eg:
            errors = list(eg.exceptions)
        return log, errors, drain(fleet.dead_letters), stats, alive

    log, errors, dead, stats, alive = run_mode(mode, body)
    assert not alive
    assert stats.failed == 1
    assert stats.restarts == 2
    assert stats.bots == 0
    assert len(log.made) == 3  # two restarts, then no more
    assert len(errors) == 1
    failure = errors[0]
    assert isinstance(failure, BotFailed)
    assert failure.restarts == 2
    assert failure.__cause__ is log.raised[-1]
    assert [(d.message, d.reason) for d in dead] == [
        ("crash", "crashed"),
        ("crash", "crashed"),
        ("crash", "crashed"),
        ("x", "failed"),
        ("y", "failed"),
        ("z", "failed"),
    ]
    assert [d.error for d in dead[:3]] == log.raised
    assert all(d.error is failure for d in dead[3:])
    assert log.handled == []
    assert log.stops == [], "a failed bot does not run on_stop"


@pytest.mark.parametrize("mode", MODES)
def test_no_restart_policy_stops_at_the_first_crash(mode: str) -> None:
    async def body(f: F) -> tuple[list[Log], list[BaseException], FleetStats, list[int]]:
        logs = [Log(), Log()]
        errors: list[BaseException] = []
        try:
            async with f.fleet(workers=1) as fleet:
                refs = [
                    fleet.spawn(f.bot(Flaky), logs[0], tick=None, restart=None),
                    fleet.spawn(f.bot(Flaky), logs[1], tick=None, restart=Restart(max_restarts=0)),
                ]
                for ref in refs:
                    await f.send(ref, "crash")
                for ref in refs:
                    await f.stopped(ref)
                stats = fleet.stats()
                restarts = [ref.restarts for ref in refs]
        except ExceptionGroup as eg:
            errors = list(eg.exceptions)
        return logs, errors, stats, restarts

    logs, errors, stats, restarts = run_mode(mode, body)
    assert restarts == [0, 0]
    assert stats.failed == 2
    assert all(len(log.made) == 1 and len(log.starts) == 1 for log in logs)
    assert sorted(type(e).__name__ for e in errors) == ["BotFailed", "BotFailed"]
    causes = {id(e.__cause__) for e in errors}
    assert causes == {id(log.raised[0]) for log in logs}


# -- teams -----------------------------------------------------------------------

QUICK = Restart(backoff=(0.01, 0.01))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("strategy", "restarted"), [("one_for_all", [1, 1, 1]), ("rest_for_one", [0, 1, 1])]
)
def test_a_team_restarts_the_members_its_strategy_names(
    mode: str, strategy: str, restarted: list[int]
) -> None:
    async def body(f: F) -> tuple[list[Log], list[int], list[list[tuple[int, int]]]]:
        logs = [Log(), Log(), Log()]
        async with f.fleet(workers=2) as fleet:
            team = fleet.team(strategy, restart=QUICK)  # type: ignore[arg-type]
            refs = [team.spawn(f.bot(Flaky), log, tick=None) for log in logs]
            assert team.refs == tuple(refs)
            for ref in refs:
                assert await f.ask(ref, "hello") == "hello"
            await f.send(refs[1], "crash")
            expected = [1 + r for r in restarted]
            await f.until(lambda: [len(log.starts) for log in logs] == expected)
            for ref in refs:
                assert await f.ask(ref, "again") == "again"
            stops_before_exit = [list(log.stops) for log in logs]
            restarts = [ref.restarts for ref in refs]
        return logs, restarts, stops_before_exit

    logs, restarts, stops_before_exit = run_mode(mode, body)
    assert restarts == restarted
    for log, r in zip(logs, restarted, strict=True):
        assert [serial for serial, _ in log.made] == list(range(1, 2 + r))  # new instances
        assert [serial for serial, _ in log.starts] == list(range(1, 2 + r))
        assert log.handled == [(1, "hello"), (1 + r, "again")]
        assert log.stops == [(1 + r, 2)]  # once, at the exit, by the last instance
    assert stops_before_exit == [[], [], []], "a restarted teammate ran on_stop"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("strategy", "failed"), [("one_for_all", 3), ("rest_for_one", 2)])
def test_a_team_that_crashes_too_often_stops_for_good(
    mode: str, strategy: str, failed: int
) -> None:
    async def body(f: F) -> tuple[list[bool], list[BaseException]]:
        logs = [Log(), Log(), Log()]
        errors: list[BaseException] = []
        try:
            async with f.fleet(workers=1) as fleet:
                team = fleet.team(strategy, restart=Restart(max_restarts=0))  # type: ignore[arg-type]
                refs = [team.spawn(f.bot(Flaky), log, tick=None) for log in logs]
                await f.send(refs[1], "crash")
                await f.stopped(refs[1])
                await f.until(lambda: sum(not r.alive for r in refs) == failed)
                await f.sleep(0.02)
                alive = [ref.alive for ref in refs]
        except ExceptionGroup as eg:
            errors = list(eg.exceptions)
        return alive, errors

    alive, errors = run_mode(mode, body)
    assert alive == ([False] * 3 if strategy == "one_for_all" else [True, False, False])
    assert [type(e) for e in errors] == [BotFailed] * failed


# -- throttling ------------------------------------------------------------------


class Load(Bot):
    """Ticks; a normal-priority Load burns 2 ms per tick while ``state["load"]``."""

    def __init__(self, state: dict[str, Any], high: bool) -> None:
        self.state, self.high = state, high

    def on_tick(self, now: float) -> None:
        self.state["ticks"].append((self.high, now))
        if self.state["load"] and not self.high:
            time.sleep(0.002)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
def test_throttling_skips_normal_ticks_under_overload_never_high_ones(mode: str) -> None:
    period, n_normal, n_high = 0.02, 15, 3  # 15 x 2 ms every 20 ms: 1.5 times what it can do

    async def body(f: F) -> tuple[float, float, float, list[tuple[bool, float]], float]:
        state: dict[str, Any] = {"ticks": [], "load": True}
        async with f.fleet(workers=1, tick_budget=0.02) as fleet:
            for _ in range(n_normal):
                fleet.spawn(f.bot(Load), state, False, tick=period)
            for _ in range(n_high):
                fleet.spawn(f.bot(Load), state, True, tick=period, priority="high")
            assert fleet.stats().throttled == 0.0
            await f.until(lambda: fleet.stats().throttled > 0.3, timeout=10)
            await f.sleep(0.8)  # the throttle settles (until then the lag exceeds the period)
            t0 = monotonic()  # measure from here
            await f.sleep(0.6)
            t1 = monotonic()
            peak = fleet.stats().throttled
            state["load"] = False
            await f.until(lambda: fleet.stats().throttled == 0.0, timeout=15)
            recovered = monotonic() - t1
        return t0, t1, peak, list(state["ticks"]), recovered

    t0, t1, peak, ticks, recovered = run_mode(mode, body)
    assert peak > 0.0
    expected = (t1 - t0) / period
    high = sum(1 for h, now in ticks if h and t0 <= now < t1) / n_high
    normal = sum(1 for h, now in ticks if not h and t0 <= now < t1) / n_normal
    # Lateness (a loaded machine) costs both kinds of bot alike; only the throttle
    # tells them apart: high-priority bots keep (nearly) all their ticks.
    assert high >= 0.6 * expected, f"high-priority bots lost ticks: {high:.1f} of {expected:.1f}"
    assert high >= 2 * normal, f"high-priority bots were throttled: {high:.1f} vs {normal:.1f}"
    assert normal <= 0.7 * expected, f"normal bots were not throttled: {normal:.1f}"
    assert normal >= 0.05 * expected, "the throttle took more than 1 - throttle_floor"
    assert recovered < 15


class Cheap(Bot):
    """Ticks that cost 1 ms while ``state["heavy"]``, then nothing."""

    def __init__(self, state: dict[str, bool]) -> None:
        self.state = state

    def on_tick(self, now: float) -> None:
        if self.state["heavy"]:
            time.sleep(0.001)


class Spinner(Bot):
    def on_message(self, msg: object) -> None:
        end = time.perf_counter() + 0.0008
        while time.perf_counter() < end:
            pass  # CPU work the throttle cannot skip


@pytest.mark.timeout(60)
def test_the_throttle_lets_go_when_the_load_left_is_messages() -> None:
    """Heavy ticks engage the throttle; then the ticks turn cheap while messages
    keep the fleet ~80% busy. Skipping ticks now saves next to nothing, so the
    throttle falls back instead of climbing toward its cap (it once scaled all
    the load by the share of ticks let run, so its estimate grew with the
    throttle itself and latched at 1 - throttle_floor)."""
    state = {"heavy": True}
    levels: list[float] = []
    stop = threading.Event()
    with Fleet(workers=1, tick_budget=0.004) as fleet:
        for _ in range(50):
            fleet.spawn(Cheap, state, tick=0.05)
        worker = fleet.spawn(Spinner, tick=None, mailbox=4, priority="high")

        def feed() -> None:
            while not stop.is_set():
                worker.send(1)
                time.sleep(0.0002)

        feeder = threading.Thread(target=feed)
        feeder.start()
        try:
            deadline = monotonic() + 10
            while fleet.stats().throttled < 0.2:  # the heavy ticks engaged it
                assert monotonic() < deadline, "the throttle never engaged"
                time.sleep(0.05)
            state["heavy"] = False
            for _ in range(16):
                time.sleep(0.25)
                levels.append(fleet.stats().throttled)
        finally:
            stop.set()
            feeder.join()
    assert max(levels[-4:]) < 0.4, f"the throttle held on or climbed: {levels}"


# -- graceful stop ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stop_handles_what_was_accepted_then_on_stop_once(mode: str) -> None:
    async def body(f: F) -> tuple[Log, Log, list[bool]]:
        quick, held = Log(), Log()
        async with f.fleet(workers=1) as fleet:
            a = fleet.spawn(f.bot(Flaky), quick, tick=None, mailbox=32)
            for i in range(20):
                a.send_nowait(i)
            a.stop()
            a.stop()  # idempotent
            b = fleet.spawn(
                f.bot(Flaky), held, tick=None, mailbox=16, restart=Restart(backoff=(0.6, 0.6))
            )
            await f.send(b, "crash")
            await f.until(lambda: held.crashes)
            for i in range(10):
                b.send_nowait(i)  # accepted during the backoff
            b.stop()
            for ref in (a, b):
                with pytest.raises(BotStopped):
                    ref.send_nowait("late")
            await f.stopped(a)
            await f.stopped(b)
            alive = [a.alive, b.alive]
            stops = (list(quick.stops), list(held.stops))
            await f.sleep(0.02)
            assert (quick.stops, held.stops) == stops  # no second on_stop
        return quick, held, alive

    quick, held, alive = run_mode(mode, body)
    assert alive == [False, False]
    assert messages_of(quick) == list(range(20))
    assert quick.stops == [(1, 20)]  # once, after every accepted message
    assert messages_of(held) == list(range(10))
    assert held.stops == [(2, 10)]


@pytest.mark.parametrize("mode", MODES)
def test_the_fleet_exit_stops_every_bot_gracefully(mode: str) -> None:
    async def body(f: F) -> tuple[list[Log], Log]:
        logs = [Log() for _ in range(10)]
        held_log = Log()
        async with f.fleet(workers=2) as fleet:
            refs = [fleet.spawn(f.bot(Flaky), log, mailbox=8) for log in logs]
            held = fleet.spawn(
                f.bot(Flaky), held_log, tick=None, mailbox=8, restart=Restart(backoff=(0.6, 0.6))
            )
            await f.send(held, "crash")
            await f.until(lambda: held_log.crashes)
            for i in range(8):
                for ref in refs:
                    ref.send_nowait(i)
            held.send_nowait("in backoff")
        return logs, held_log

    logs, held_log = run_mode(mode, body)
    for i, log in enumerate(logs):
        assert log.handled == [(1, m) for m in range(8)], f"bot {i} lost messages at the exit"
        assert log.stops == [(1, 8)]
    assert held_log.handled == [(2, "in backoff")]  # restarted to handle what it accepted
    assert held_log.stops == [(2, 1)]


@pytest.mark.parametrize("mode", MODES)
def test_a_cancelled_context_stops_the_fleet_gracefully(mode: str) -> None:
    n = 100  # more than one batch: the runner has more work queued when the cancel comes

    async def body(f: F) -> tuple[Log, list[DeadLetter], bool]:
        log = Log()
        ctx = Context()
        cancelled = False
        try:
            async with f.ops.scope(ctx), f.fleet(workers=1) as fleet:
                ref = fleet.spawn(f.bot(Slow, AsyncSlow), log, tick=None, mailbox=n)
                for i in range(n):
                    ref.send_nowait(i)  # 0.5 s of work, accepted
                threading.Timer(0.03, ctx.cancel).start()  # from another thread
                await f.ops.recv(Chan[None]())  # only the cancel ends this
        except Cancelled:
            cancelled = True
        return log, drain(fleet.dead_letters), cancelled

    log, dead, cancelled = run_mode(mode, body)
    assert cancelled
    handled = messages_of(log)
    if not mode.endswith("async"):
        assert handled == list(range(n)), "accepted messages were lost"
        assert dead == []
    else:
        # An async handler cannot be awaited in a cancelled task: its message is a
        # dead letter ("cancelled"); every accepted message is one or the other.
        assert handled == list(range(len(handled)))
        assert [d.message for d in dead] == list(range(len(handled), n))
        assert all(d.reason == "cancelled" for d in dead)
    assert log.stops == [(1, len(handled))]


@pytest.mark.parametrize("mode", MODES)
def test_a_cancelled_fleet_still_reports_the_bots_that_failed(mode: str) -> None:
    async def body(f: F) -> tuple[BaseException | None, int]:
        log = Log()
        ctx = Context()
        escaped: BaseException | None = None
        try:
            async with f.ops.scope(ctx), f.fleet(workers=1) as fleet:
                ref = fleet.spawn(f.bot(Flaky), log, tick=None, restart=None)
                await f.send(ref, "crash")
                await f.stopped(ref)  # failed for good
                threading.Timer(0.03, ctx.cancel).start()
                await f.ops.recv(Chan[None]())
        except BaseException as exc:  # what the exit raised, whatever it is
            escaped = exc
        return escaped, fleet.stats().failed

    escaped, failed = run_mode(mode, body)
    assert failed == 1
    assert isinstance(escaped, ExceptionGroup), f"the BotFailed was lost: {escaped!r}"
    assert [type(e) for e in escaped.exceptions] == [BotFailed]
    # raised from the cancellation (chanpy's, or the loop's own in a task; trio's
    # may come wrapped in the nursery's group)
    cause = escaped.__cause__
    cancels = (Cancelled, asyncio.CancelledError, trio.Cancelled)
    if isinstance(cause, BaseExceptionGroup):
        assert cause.split(cancels)[1] is None, f"not only cancellations: {cause!r}"
    else:
        assert isinstance(cause, cancels), f"not raised from the cancellation: {cause!r}"


# -- the corners of cancel, restart and stop ---------------------------------------


class Asker(Bot):
    """Asks the bot named ``peer`` about each message (waits for its answer)."""

    def __init__(self, handled: list[object], stops: list[str], peer: str) -> None:
        self.handled, self.stops, self.peer = handled, stops, peer

    def on_message(self, msg: object) -> None:
        try:
            self.fleet.bot(self.peer).ask(msg, timeout=5.0)
        except (BotStopped, KeyError):
            pass  # the peer stopped first: this message is handled all the same
        self.handled.append(msg)

    def on_stop(self) -> None:
        self.stops.append(self.ref.name)


class Echo(Bot):
    def __init__(self, handled: list[object], stops: list[str], pause: float) -> None:
        self.handled, self.stops, self.pause = handled, stops, pause

    def on_message(self, msg: object) -> object:
        time.sleep(self.pause)
        self.handled.append(msg)
        return msg

    def on_stop(self) -> None:
        self.stops.append(self.ref.name)


def test_a_cancel_that_interrupts_a_waiting_handler_loses_nothing() -> None:
    """A thread fleet's context is cancelled while a handler waits (an ask to a
    bot on another runner): that message becomes a "cancelled" dead letter, the
    runner goes on stopping its bots as for any cancel, and every accepted
    message of every bot is handled or a dead letter; on_stop runs for all."""
    n = 10
    ctx = Context()
    handled: dict[str, list[object]] = {"a": [], "c": [], "x": []}
    stops: list[str] = []
    cancelled = False
    try:
        with ctx, Fleet(workers=2) as fleet:
            a = fleet.spawn(Asker, handled["a"], stops, "x", name="a", tick=None, mailbox=n)
            x = fleet.spawn(Echo, handled["x"], stops, 0.05, name="x", tick=None, mailbox=n)
            c = fleet.spawn(Echo, handled["c"], stops, 0.01, name="c", tick=None, mailbox=n)
            assert a._cell.runner is c._cell.runner  # the setting: a and c share a runner
            assert x._cell.runner is not a._cell.runner
            for i in range(n):
                a.send(i)
                c.send(i)
            threading.Timer(0.08, ctx.cancel).start()
            Chan[None]().recv(timeout=BODY_TIMEOUT)  # only the cancel ends this
    except Cancelled:
        cancelled = True
    assert cancelled
    dead = drain(fleet.dead_letters)
    for name in ("a", "c"):
        mine = [d for d in dead if d.bot == name]
        assert all(d.reason == "cancelled" for d in mine), mine
        got = cast("list[int]", handled[name] + [d.message for d in mine])
        assert sorted(got) == list(range(n)), f"{name}: lost or twice: {sorted(got)}"
    assert handled["c"] == list(range(n))  # nothing of c's waited: all handled
    assert len([d for d in dead if d.bot == "a"]) >= 1  # the interrupted ask
    assert sorted(stops) == ["a", "c", "x"]
    assert [r.alive for r in (a, c, x)] == [False, False, False]


class Forwarder(Bot):
    """Forwards each message to the bot named ``to`` with a blocking send."""

    def __init__(self, to: str, seen: list[BaseException]) -> None:
        self.to, self.seen = to, seen

    def on_message(self, msg: object) -> None:
        try:
            self.fleet.bot(self.to).send(msg)
        except RuntimeError as exc:
            self.seen.append(exc)


@pytest.mark.parametrize("mode", SYNC_HANDLER_MODES)
def test_a_blocking_send_to_a_full_mailbox_on_the_same_runner_is_refused_with_advice(
    mode: str,
) -> None:
    async def body(f: F) -> list[BaseException]:
        seen: list[BaseException] = []
        async with f.fleet(workers=1) as fleet:
            held = fleet.spawn(Flaky, Log(), name="held", tick=None, mailbox=1, restart=HOLD)
            await f.send(held, "crash")  # in backoff for 0.5 to 1 s: its mailbox stays
            await f.until(lambda: held._cell.state == BACKOFF and not len(held._cell.mailbox))
            held.send_nowait("fill")  # full now
            fwd = fleet.spawn(Forwarder, "held", seen, tick=None)
            await f.send(fwd, "more")
            await f.until(lambda: bool(seen))
        return seen

    (error,) = run_mode(mode, body)
    assert "send_nowait()" in str(error), error


class SlowAnswer(Bot):
    async def on_message(self, msg: object) -> object:
        await async_sleep(10.0)
        return msg


@pytest.mark.parametrize("mode", ["trio-async", "asyncio-async"])
def test_an_ask_whose_handler_is_cancelled_gets_bot_stopped_at_once(mode: str) -> None:
    async def body(f: F) -> tuple[list[object], list[DeadLetter]]:
        ctx = Context()
        answers: list[object] = []

        def ask(ref: BotRef) -> None:
            t0 = monotonic()
            try:
                answers.append(ref.ask("q", timeout=8.0))
            except BaseException as exc:  # what the asker saw, whatever it is
                answers.append(exc)
            answers.append(monotonic() - t0)

        try:
            async with f.ops.scope(ctx), f.fleet(workers=1) as fleet:
                ref = fleet.spawn(SlowAnswer, tick=None)
                asker = threading.Thread(target=ask, args=(ref,))
                asker.start()
                await f.until(lambda: ref._cell.busy)
                ctx.cancel()
                await f.ops.recv(Chan[None]())
        except Cancelled:
            pass
        asker.join(10)
        return answers, drain(fleet.dead_letters)

    answers, dead = run_mode(mode, body)
    error, waited = answers
    assert isinstance(error, BotStopped), error
    assert isinstance(waited, float)
    assert waited < 4.0, f"the asker waited {waited:.1f} s for an answer that could not come"
    assert [(d.message, d.reason) for d in dead] == [("q", "cancelled")]


class Crasher(Bot):
    def on_message(self, msg: object) -> None:
        raise Boom("crash")


class Lingerer(Bot):
    """Its async on_message awaits a while; records overlapping handlers."""

    def __init__(self, probe: Probe, handled: list[object]) -> None:
        self.probe, self.handled = probe, handled

    async def on_start(self) -> None:
        self.probe.enter()  # an on_start while a handler runs is an overlap too
        self.probe.leave()

    async def on_message(self, msg: object) -> None:
        self.probe.enter()
        await async_sleep(0.15)
        self.handled.append(msg)
        self.probe.leave()


@pytest.mark.parametrize("mode", ["trio-async", "asyncio-async"])
def test_a_team_restart_waits_for_a_teammates_running_handler(mode: str) -> None:
    """one_for_all restarts a teammate that is inside an async handler: its new
    instance starts only once that handler returned, so handlers never overlap,
    and each message is handled once."""

    async def body(f: F) -> tuple[Probe, list[object], int]:
        probe, handled = Probe(), cast("list[object]", [])
        async with f.fleet(workers=1) as fleet:
            team = fleet.team("one_for_all", restart=QUICK)
            a = team.spawn(Crasher, tick=None)
            b = team.spawn(Lingerer, probe, handled, tick=None)
            for i in range(3):
                await f.send(b, i)
            await f.until(lambda: b._cell.busy)  # inside on_message(0)
            a.send_nowait("crash")
            await f.until(lambda: len(handled) == 3)
            restarts = b.restarts
        return probe, handled, restarts

    probe, handled, restarts = run_mode(mode, body)
    assert probe.overlaps == 0
    assert handled == [0, 1, 2]
    assert restarts == 1


class TickThenCrash(Bot):
    def __init__(self, nows: list[float]) -> None:
        self.nows = nows

    def on_tick(self, now: float) -> None:
        self.nows.append(now)

    async def on_message(self, msg: object) -> None:
        if msg == "crash":
            await async_sleep(0.12)  # ticks (every 0.05 s) fall due meanwhile: owed
            raise Boom("crash")
        await async_sleep(0.001)


@pytest.mark.parametrize("mode", ["trio-async", "asyncio-async"])
def test_a_tick_owed_to_a_crashed_instance_is_not_run_by_the_next(mode: str) -> None:
    async def body(f: F) -> list[float]:
        nows: list[float] = []
        async with f.fleet(workers=1) as fleet:
            ref = fleet.spawn(TickThenCrash, nows, tick=0.05, restart=QUICK)
            await f.sleep(0.08)
            await f.send(ref, "crash")
            await f.until(lambda: ref.restarts == 1)
            await f.sleep(0.2)  # the new instance ticks
            await f.send(ref, "hello")  # its drain would run a stale owed tick
            await f.sleep(0.1)
        return nows

    nows = run_mode(mode, body)
    assert len(nows) >= 4
    assert nows == sorted(nows), f"now went back: {nows}"
    assert len(set(nows)) == len(nows), f"one grid point ticked twice: {nows}"


@pytest.mark.parametrize("mode", MODES)
def test_stop_during_a_long_backoff_restarts_and_stops_at_once(mode: str) -> None:
    async def body(f: F) -> float:
        log = Log()
        async with f.fleet(workers=1) as fleet:
            ref = fleet.spawn(f.bot(Flaky), log, tick=None, restart=Restart(backoff=(8.0, 8.0)))
            await f.send(ref, "crash")
            await f.send(ref, "after")
            await f.until(lambda: len(log.crashes) == 1)
            t0 = monotonic()
            ref.stop()
            await f.stopped(ref, timeout=3.0)  # not the 4 to 8 s of the backoff
            took = monotonic() - t0
        assert messages_of(log) == ["after"]  # accepted before the stop: handled
        return took

    assert run_mode(mode, body) < 3.0


def test_keyboard_interrupt_in_the_fleet_block_is_not_turned_into_an_exception() -> None:
    log = Log()
    escaped: BaseException | None = None
    try:
        with Fleet(workers=1) as fleet:
            ref = fleet.spawn(Flaky, log, tick=None, restart=None)
            ref.send("crash")
            while ref.alive:
                time.sleep(0.005)
            raise KeyboardInterrupt
    except BaseException as exc:  # what the exit raised, whatever it is
        escaped = exc
    assert escaped is not None
    assert not isinstance(escaped, Exception), repr(escaped)
    found = (
        escaped.subgroup(KeyboardInterrupt) if isinstance(escaped, BaseExceptionGroup) else escaped
    )
    assert isinstance(found, KeyboardInterrupt | BaseExceptionGroup)
    notes = "".join(getattr(escaped, "__notes__", []))
    assert "failed" in notes  # the bot that failed is still named


def test_a_bot_spawned_while_the_fleet_stops_is_started_and_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spawn that is still adopting its bot when another thread stops the
    fleet: the runner cannot finish before that bot, which starts and stops."""
    from chanpy_patterns import _runner

    log = Log()
    adopt = _runner.Runner.add

    def slow_add(self: Any, cell: Any) -> None:
        if cell.name == "late":
            time.sleep(0.2)  # a thread switch right here
        adopt(self, cell)

    monkeypatch.setattr(_runner.Runner, "add", slow_add)
    stop_bot = BotRef.stop

    def slow_stop(self: BotRef) -> None:
        if self.name == "late":
            time.sleep(0.1)  # and another inside Fleet.stop's loop
        stop_bot(self)

    monkeypatch.setattr(BotRef, "stop", slow_stop)
    box: dict[str, BotRef] = {}
    with Fleet(workers=1) as fleet:
        fleet.spawn(Flaky, Log(), tick=None)
        t = threading.Thread(
            target=lambda: box.update(ref=fleet.spawn(Flaky, log, name="late", tick=None))
        )
        t.start()
        time.sleep(0.05)
    t.join(5)
    assert not box["ref"].alive
    assert [s for s, _ in log.starts] == [1]
    assert log.stops == [(1, 0)]


# -- stats and the watchdog ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stats_fields_are_present_and_consistent(mode: str) -> None:
    async def body(f: F) -> tuple[FleetStats, FleetStats, FleetStats, FleetStats]:
        logs = [TickLog() for _ in range(3)]
        log = Log()
        async with f.fleet(workers=2) as fleet:
            for t in logs:
                fleet.spawn(f.bot(Ticker), t, tick=0.005)
            ref = fleet.spawn(
                f.bot(Flaky), log, tick=None, mailbox=8, restart=Restart(backoff=(0.6, 0.6))
            )
            s0 = fleet.stats()
            for i in range(5):
                assert await f.ask(ref, i) == i
            await f.send(ref, "crash")
            await f.until(lambda: log.crashes)
            for i in range(6):
                ref.send_nowait(i)  # 6 deep while it waits out its backoff
            await f.until(lambda: len(log.handled) == 11)
            await f.until(lambda: fleet.stats().ticks >= s0.ticks + 20)
            s1 = fleet.stats()
            await f.sleep(0.02)
            s2 = fleet.stats()
            ref.stop()
            await f.stopped(ref)
            s3 = fleet.stats()
        return s0, s1, s2, s3

    s0, s1, s2, s3 = run_mode(mode, body)
    names = {field.name for field in dataclasses.fields(FleetStats)}
    assert {"bots", "ticks", "messages", "mailbox_high_water", "restarts", "dead_letters"} <= names
    assert {"tick_lag_p50", "tick_lag_p99", "tick_lag_max", "throttled", "bytes_per_bot"} <= names
    assert (s0.bots, s0.spawned, s0.runners) == (4, 4, 2)
    assert (s0.messages, s0.restarts, s0.dead_letters, s0.failed, s0.stalls) == (0, 0, 0, 0, 0)
    assert s0.bytes_per_bot > 0
    assert s1.messages == 11  # 5 asks + 6 sends; the crashed one was not handled
    assert 6 <= s1.mailbox_high_water <= 8
    assert s1.restarts == 1
    assert s1.dead_letters == 1
    assert s1.dead_letters_dropped == 0
    assert s0.ticks < s1.ticks <= s2.ticks
    assert 0.0 <= s1.tick_lag_p50 <= s1.tick_lag_p99 <= s1.tick_lag_max
    assert s1.skipped_ticks >= 0
    assert s1.throttled == 0.0  # no tick_budget, no throttle
    assert s0.uptime < s1.uptime < s2.uptime
    assert (s3.bots, s3.spawned) == (3, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s1.ticks = 0  # type: ignore[misc]


class Sleeper(Bot):
    def on_message(self, seconds: float) -> None:
        time.sleep(seconds)  # blocks its runner: what the watchdog is for


@pytest.mark.parametrize("mode", MODES)
def test_the_watchdog_reports_a_handler_that_blocks(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chanpy_patterns")

    async def body(f: F) -> tuple[int, int]:
        async with f.fleet(workers=1, stall_after=0.2) as fleet:
            ref = fleet.spawn(f.bot(Sleeper), name="sleepy-bot", tick=None)
            await f.ask(ref, 0.01)
            before = fleet.stats().stalls
            await f.ask(ref, 0.5)
            after = fleet.stats().stalls
        return before, after

    before, after = run_mode(mode, body)
    assert before == 0
    assert after == 1  # once per stall
    warnings = [
        r for r in caplog.records if r.name == "chanpy_patterns" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "sleepy-bot" in warnings[0].getMessage()


# -- bad input -------------------------------------------------------------------


class NotABot:
    def on_message(self, msg: object) -> object:
        return msg


class AsyncOnly(Bot):
    async def on_message(self, msg: object) -> object:
        return msg


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tick": 0}, ValueError, "tick"),
        ({"tick": -0.1}, ValueError, "tick"),
        ({"tick": float("nan")}, ValueError, "tick"),
        ({"tick": "0.1"}, TypeError, "tick"),
        ({"mailbox": 0}, ValueError, "mailbox"),
        ({"mailbox": -1}, ValueError, "mailbox"),
        ({"mailbox": 1.5}, TypeError, "mailbox"),
        ({"restart": "always"}, TypeError, "restart"),
        ({"restart": 3}, TypeError, "restart"),
        ({"priority": "urgent"}, ValueError, "priority"),
        ({"name": 7}, TypeError, "name"),
    ],
)
def test_spawn_refuses_bad_arguments_naming_them(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with Fleet(workers=1) as fleet:
        with pytest.raises(error, match=match):
            fleet.spawn(Flaky, Log(), **{"name": "x", **kwargs})
        assert fleet.stats().spawned == 0  # nothing was started
        fleet.spawn(Flaky, Log(), name="x")  # the name was not taken


def test_spawn_refuses_what_is_not_a_bot_class_and_a_name_in_use() -> None:
    with Fleet(workers=1) as fleet:
        with pytest.raises(TypeError, match="Bot subclass"):
            fleet.spawn(NotABot)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="Bot subclass"):
            fleet.spawn(Flaky(Log()))  # type: ignore[arg-type]
        fleet.spawn(Flaky, Log(), name="twin")
        with pytest.raises(ValueError, match="'twin'"):
            fleet.spawn(Flaky, Log(), name="twin")
        with pytest.raises(ValueError, match="strategy"):
            fleet.team("one_for_none")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="restart"):
            fleet.team(restart=None)  # type: ignore[arg-type]
        assert fleet.stats().spawned == 1


def test_async_handlers_need_an_async_fleet() -> None:
    with Fleet(workers=1) as fleet, pytest.raises(TypeError, match=r"async.*async with Fleet"):
        fleet.spawn(AsyncOnly)
    assert fleet.stats().spawned == 0


def test_spawn_outside_the_fleet_block_is_refused() -> None:
    fleet = Fleet(workers=1)
    with pytest.raises(RuntimeError, match="inside"):
        fleet.spawn(Flaky, Log())
    with fleet:
        pass
    with pytest.raises(RuntimeError):
        fleet.spawn(Flaky, Log())
    with pytest.raises(RuntimeError, match="once"), fleet:
        pass


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_restarts": -1}, ValueError, "max_restarts"),
        ({"max_restarts": 1.5}, TypeError, "max_restarts"),
        ({"max_restarts": True}, TypeError, "max_restarts"),
        ({"within": 0}, ValueError, "within"),
        ({"within": -1.0}, ValueError, "within"),
        ({"within": float("inf")}, ValueError, "within"),
        ({"within": "5"}, TypeError, "within"),
        ({"backoff": (0.5, 0.1)}, ValueError, "backoff"),
        ({"backoff": (-0.1, 1.0)}, ValueError, "backoff"),
        ({"backoff": (0.1,)}, TypeError, "backoff"),
        ({"backoff": [0.1, 1.0]}, TypeError, "backoff"),
        ({"backoff": (0.1, "1")}, TypeError, "backoff"),
    ],
)
def test_restart_refuses_bad_arguments_naming_them(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Restart(**kwargs)


def test_restart_is_an_immutable_value() -> None:
    policy = Restart(max_restarts=2, within=1.0, backoff=(0.1, 0.2))
    assert policy == Restart(2, 1.0, (0.1, 0.2))
    assert hash(policy) == hash(Restart(2, 1.0, (0.1, 0.2)))
    with pytest.raises(AttributeError):
        policy.max_restarts = 5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"workers": 0}, ValueError, "workers"),
        ({"workers": -2}, ValueError, "workers"),
        ({"workers": 1.5}, TypeError, "workers"),
        ({"tick_budget": 0}, ValueError, "tick_budget"),
        ({"tick_budget": "fast"}, TypeError, "tick_budget"),
        ({"throttle_floor": 1.5}, ValueError, "throttle_floor"),
        ({"dead_letters": 0}, ValueError, "dead_letters"),
        ({"stall_after": -1}, ValueError, "stall_after"),
    ],
)
def test_fleet_refuses_bad_arguments_naming_them(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Fleet(**kwargs)


def test_ask_refuses_a_bad_timeout() -> None:
    with Fleet(workers=1) as fleet:
        ref = fleet.spawn(Flaky, Log(), tick=None)
        with pytest.raises(ValueError, match="timeout"):
            ref.ask("x", timeout=-1)
        with pytest.raises(TypeError, match="timeout"):
            ref.ask("x", timeout="1")  # type: ignore[arg-type]
        assert ref.ask("x", timeout=5) == "x"


@pytest.mark.parametrize("world", ["trio", "asyncio"])
def test_a_blocking_ask_on_the_loop_thread_is_refused_before_sending(world: str) -> None:
    class Echo(Bot):
        def on_message(self, msg: object) -> object:
            return msg

    async def body() -> tuple[str, int]:
        async with Fleet(workers=1) as fleet:
            ref = fleet.spawn(Echo, tick=None)
            with pytest.raises(RuntimeError, match="aask") as info:
                ref.ask("hello", timeout=1)
            assert await ref.aask("after", timeout=5) == "after"
            handled = fleet.stats().messages
        return str(info.value), handled

    if world == "trio":
        message, handled = trio.run(body)
    else:
        message, handled = asyncio.run(body())
    assert "event loop" in message
    assert handled == 1  # only "after": the refused ask was never put in the mailbox
