"""Counted stress for Layer 3: 5 000 bots, many senders, random crashes, random stops.

Every sender numbers its messages and keeps those a send accepted (the send
returned). Handlers crash on the messages marked so (a few bots are fragile
and crash so often that they fail for good), and a stopper stops random bots
while the senders run. After the fleet's exit every accepted message must have
been handled exactly once or be a dead letter, and nothing else may have been
handled; each sender's messages to one bot were handled in the order sent; no
two handlers of one bot overlapped; and the exit raised only the BotFailed of
the bots that failed. Runs in a thread fleet, and in trio and asyncio fleets
with thread senders and task senders (and half the bots async). Counts scale
with CHANPY_STRESS_SCALE (the number of messages; the fleet stays at 5 000 bots);
each run is bounded.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from chanpy import Cancelled, Closed, Context, Group, WouldBlock
from chanpy_patterns import Bot, BotFailed, BotRef, BotStopped, DeadLetter, Fleet, Restart
from tests.crew import stress_scale

N_BOTS = 5000
POLICY = Restart(max_restarts=2, within=5.0, backoff=(0.001, 0.01))
MAILBOX = 4
FRAGILE_EVERY = 97  # bots whose index is a multiple of this crash on 30% of their messages
CRASH_SHARE = 0.01  # the others on 1%

Key = tuple[int, int, int]  # (bot, sender, seq)


def _scaled(n: int) -> int:
    return max(1, int(n * stress_scale()))


class Boom(Exception):
    """A crash a message asked for."""


class Track:
    """One bot's record across its restarts: what it handled, and overlaps seen."""

    __slots__ = ("handled", "lock", "overlaps")

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held by the running handler: a second one cannot take it
        self.handled: list[tuple[int, int]] = []
        self.overlaps = 0

    def enter(self) -> bool:
        if self.lock.acquire(blocking=False):
            return True
        self.overlaps += 1
        return False

    def leave(self, owned: bool) -> None:
        if owned:
            self.lock.release()


class Worker(Bot):
    def __init__(self, track: Track) -> None:
        self.track = track

    def on_tick(self, now: float) -> object:
        self.track.leave(self.track.enter())
        return None

    def on_message(self, msg: tuple[int, int, bool]) -> object:
        owned = self.track.enter()
        try:
            sid, seq, crash = msg
            if crash:
                raise Boom(f"{sid}:{seq}")
            self.track.handled.append((sid, seq))
        finally:
            self.track.leave(owned)
        return None


class AsyncWorker(Worker):
    async def on_tick(self, now: float) -> None:
        owned = self.track.enter()
        try:
            await self.fleet.checkpoint()
        finally:
            self.track.leave(owned)

    async def on_message(self, msg: tuple[int, int, bool]) -> None:
        owned = self.track.enter()
        try:
            await self.fleet.checkpoint()  # suspended while inside
            sid, seq, crash = msg
            if crash:
                raise Boom(f"{sid}:{seq}")
            self.track.handled.append((sid, seq))  # last: the handler completes here
        finally:
            self.track.leave(owned)


class Storm:
    """One stress run's plan and records."""

    def __init__(
        self, seed: int, n_bots: int, n_senders: int, per_sender: int, *, cancelled: bool = False
    ) -> None:
        self.seed = seed
        self.cancelled = cancelled  # the run is cancelled midway: "cancelled" letters allowed
        self.stop_every = 0.004 * stress_scale()  # spread the stops over the run
        self.n_bots = n_bots
        self.n_senders = n_senders
        self.per_sender = per_sender
        self.tracks = [Track() for _ in range(n_bots)]
        self.refs: list[BotRef] = []
        self.accepted: list[list[Key]] = [[] for _ in range(n_senders)]
        self.refused = Counter[str]()
        self.stopped = 0
        self.lock = threading.Lock()
        self.senders_done = threading.Event()

    def spawn_all(self, fleet: Fleet, async_share: float) -> None:
        rng = random.Random(self.seed)
        for b, track in enumerate(self.tracks):
            cls = AsyncWorker if rng.random() < async_share else Worker
            ref = fleet.spawn(cls, track, name=f"w{b}", tick=1.0, mailbox=MAILBOX, restart=POLICY)
            self.refs.append(ref)

    def messages(self, sid: int) -> list[tuple[int, int, bool, int]]:
        """Sender ``sid``'s plan: (bot, seq, crash, how) per message."""
        rng = random.Random(self.seed * 1000 + sid)
        plan = []
        for seq in range(self.per_sender):
            b = rng.randrange(self.n_bots)
            share = 0.3 if b % FRAGILE_EVERY == 0 else CRASH_SHARE
            plan.append((b, seq, rng.random() < share, rng.randrange(10)))
        return plan

    def refuse(self, why: str) -> None:
        with self.lock:
            self.refused[why] += 1

    def thread_sender(self, sid: int) -> None:
        mine = self.accepted[sid]
        for b, seq, crash, how in self.messages(sid):
            ref, msg = self.refs[b], (sid, seq, crash)
            try:
                if how < 6:
                    ref.send(msg)
                elif how < 8:
                    ref.send(msg, timeout=0.05)
                else:
                    ref.send_nowait(msg)
            except BotStopped:
                self.refuse("stopped")
                continue
            except WouldBlock:
                self.refuse("full")
                continue
            except TimeoutError:
                self.refuse("timeout")
                continue
            except Cancelled:
                self.refuse("cancelled")
                return  # not accepted; the run is over for this sender
            mine.append((b, sid, seq))

    async def task_sender(self, sid: int, checkpoint: Callable[[], Awaitable[Any]]) -> None:
        mine = self.accepted[sid]
        for b, seq, crash, how in self.messages(sid):
            ref, msg = self.refs[b], (sid, seq, crash)
            try:
                if how < 6:
                    await ref.asend(msg)
                elif how < 8:
                    await ref.asend(msg, timeout=0.05)
                else:
                    ref.send_nowait(msg)
                    if seq % 16 == 0:
                        # Accepted: count it before a cancel at the checkpoint can.
                        mine.append((b, sid, seq))
                        await checkpoint()
                        continue
            except BotStopped:
                self.refuse("stopped")
                continue
            except WouldBlock:
                self.refuse("full")
                continue
            except TimeoutError:
                self.refuse("timeout")
                continue
            mine.append((b, sid, seq))

    def stopper(self) -> None:
        """Stop random bots while the senders run (a tenth of them, spread out)."""
        rng = random.Random(self.seed + 7)
        targets = rng.sample(range(self.n_bots), self.n_bots // 10)
        for b in targets:
            if self.senders_done.is_set():
                break
            self.refs[b].stop()
            self.stopped += 1
            time.sleep(self.stop_every)

    # -- the verdict -------------------------------------------------------------

    def check(self, fleet: Fleet, failures: list[BaseException]) -> None:
        stats = fleet.stats()
        others = Counter(type(e).__name__ for e in failures if not isinstance(e, BotFailed))
        assert not others, f"the exit raised more than BotFailed: {dict(others)}"
        assert len(failures) == stats.failed, "the exit did not report every failed bot"
        if not self.cancelled:
            assert stats.failed >= 1, "no fragile bot failed: the run did not test failures"
        assert self.stopped > 0
        dead: list[DeadLetter] = []
        while True:
            try:
                dead.append(fleet.dead_letters.recv_nowait())
            except (WouldBlock, Closed):
                break
        assert stats.dead_letters_dropped == 0, "raise the dead_letters capacity"
        assert len(dead) == stats.dead_letters

        accepted = [k for keys in self.accepted for k in keys]
        assert len(set(accepted)) == len(accepted)
        handled = [(b, sid, seq) for b, t in enumerate(self.tracks) for sid, seq in t.handled]
        dead_keys: list[Key] = []
        for d in dead:
            assert isinstance(d.message, tuple)
            sid, seq, crash = d.message
            b = int(d.bot[1:])
            dead_keys.append((b, sid, seq))
            allowed = {"failed", "cancelled"} if self.cancelled else {"failed"}
            if crash:
                allowed.add("crashed")
            assert d.reason in allowed, d  # good mail is dropped only by a failed bot
            if d.reason == "crashed":
                assert isinstance(d.error, Boom)
            elif d.reason == "failed":
                assert isinstance(d.error, BotFailed)
        assert len(set(handled)) == len(handled), "a message was handled twice"
        assert len(set(dead_keys)) == len(dead_keys), "a message was dead-lettered twice"
        both = set(handled) & set(dead_keys)
        assert not both, f"{len(both)} messages both handled and dead letters"
        lost = set(accepted) - set(handled) - set(dead_keys)
        assert not lost, f"{len(lost)} accepted messages were lost, e.g. {sorted(lost)[:5]}"
        extra = (set(handled) | set(dead_keys)) - set(accepted)
        assert not extra, f"{len(extra)} messages handled that no send accepted"
        assert stats.messages == len(handled)

        for b, t in enumerate(self.tracks):
            assert t.overlaps == 0, f"bot {b}: handlers overlapped"
            last: dict[int, int] = {}
            for sid, seq in t.handled:
                assert seq > last.get(sid, -1), f"bot {b}: sender {sid} out of order"
                last[sid] = seq
        total = self.n_senders * self.per_sender
        if self.cancelled:
            assert len(accepted) + sum(self.refused.values()) <= total
            assert handled, "nothing got through before the cancel"
        else:
            assert len(accepted) + sum(self.refused.values()) == total
            assert len(handled) > total // 2, f"too little got through: {self.refused}"


def _failures_of(eg: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return list(eg.exceptions)


@pytest.mark.stress
@pytest.mark.timeout(120)
def test_thread_fleet_of_5000_bots_counts_every_message() -> None:
    storm = Storm(seed=11, n_bots=N_BOTS, n_senders=8, per_sender=_scaled(20_000))
    failures: list[BaseException] = []
    fleet = Fleet(workers=2, dead_letters=_scaled(100_000))
    try:
        with fleet:
            storm.spawn_all(fleet, async_share=0.0)
            with Group() as g:
                for sid in range(storm.n_senders):
                    g.go(storm.thread_sender, sid)
                g.go(storm.stopper)
            storm.senders_done.set()
    except ExceptionGroup as eg:
        failures = _failures_of(eg)
    storm.check(fleet, failures)


async def _async_storm(storm: Storm, fleet: Fleet, world: str) -> list[BaseException]:
    def checkpoint() -> Awaitable[Any]:
        return trio.lowlevel.checkpoint() if world == "trio" else asyncio.sleep(0)

    try:
        async with fleet:
            storm.spawn_all(fleet, async_share=0.5)
            async with Group() as g:
                for sid in range(storm.n_senders):
                    if sid % 2:
                        g.go(storm.task_sender, sid, checkpoint)
                    else:
                        g.go(storm.thread_sender, sid)  # a plain function: a thread
                g.go(storm.stopper)
            storm.senders_done.set()
    except ExceptionGroup as eg:  # BotFailed; a cancellation passes on to the Context
        return _failures_of(eg)
    return []


@pytest.mark.stress
@pytest.mark.timeout(120)
@pytest.mark.parametrize("world", ["trio", "asyncio"])
def test_async_fleet_of_5000_bots_with_thread_and_task_senders_counts_every_message(
    world: str,
) -> None:
    storm = Storm(seed=23, n_bots=N_BOTS, n_senders=8, per_sender=_scaled(10_000))
    fleet = Fleet(workers=2, dead_letters=_scaled(100_000))
    if world == "trio":
        failures = trio.run(_async_storm, storm, fleet, world)
    else:
        failures = asyncio.run(_async_storm(storm, fleet, world))
    storm.check(fleet, failures)


@pytest.mark.stress
@pytest.mark.timeout(120)
@pytest.mark.parametrize("world", ["thread", "trio", "asyncio"])
def test_a_storm_cancelled_midway_still_accounts_for_every_accepted_message(world: str) -> None:
    # Enough messages to outlast the cancel, which comes from another thread.
    storm = Storm(seed=37, n_bots=N_BOTS, n_senders=8, per_sender=50_000, cancelled=True)
    fleet = Fleet(workers=2, dead_letters=400_000)
    ctx = Context()
    timer = threading.Timer(2.0, ctx.cancel)
    failures: list[BaseException] = []
    outcome = "not cancelled"

    async def main() -> None:
        nonlocal failures, outcome
        timer.start()
        try:
            async with ctx:
                failures = await _async_storm(storm, fleet, world)
        except Cancelled:
            outcome = "cancelled"
        except ExceptionGroup as eg:  # BotFailed, raised from the Cancelled
            failures, outcome = _failures_of(eg), "cancelled"

    if world == "thread":
        timer.start()
        try:
            with ctx, fleet:
                storm.spawn_all(fleet, async_share=0.0)
                with Group() as g:
                    for sid in range(storm.n_senders):
                        g.go(storm.thread_sender, sid)
                    g.go(storm.stopper)
        except Cancelled:
            outcome = "cancelled"
        except ExceptionGroup as eg:  # BotFailed, raised from the Cancelled
            failures, outcome = _failures_of(eg), "cancelled"
    elif world == "trio":
        trio.run(main)
    else:
        asyncio.run(main())
    storm.senders_done.set()
    assert outcome == "cancelled" or ctx.cancelled
    storm.check(fleet, failures)
