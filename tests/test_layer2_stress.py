"""Counted stress for Layer 2: pipelines of 3 stages x 4 workers, with failures
injected in random workers and cancels from other threads, in every world.

Every run checks, value by value, that each item came out at most once and
only as the right result; that an undisturbed run emitted every item; that
an ordered run emitted a prefix of the source order; and that a run ended by
a failure raised exactly that failure. Each run is bounded: a hang fails it.
Counts scale with CHANPY_STRESS_SCALE.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import pytest
import trio

from chanpy import Cancelled, Chan, Context, Group
from tests.crew import stress_scale


class Injected(Exception):
    """The failure a stress run injects into one worker."""


def _scaled(n: int) -> int:
    return max(1, int(n * stress_scale()))


def _plan(rng: random.Random, n: int) -> tuple[str, int, float]:
    """What disturbs one run: nothing, a failure at item k, or a cancel after t s."""
    kind = rng.choice(["none", "fail", "group-cancel", "outer-cancel"])
    return kind, rng.randrange(n), rng.uniform(0.0, 0.05)


def _check(kind: str, got: list[int], n: int, ordered: bool, error: BaseException | None) -> None:
    expected = [2 * (i + 1) - 2 for i in range(n)]
    assert len(got) == len(set(got)), "a value came out twice"
    assert set(got) <= set(expected), "a value that is no stage's result"
    if ordered:
        assert got == expected[: len(got)], "an ordered pipeline emitted out of order"
    if kind == "none":
        assert error is None
        assert sorted(got) == expected, "an undisturbed run lost values"
    elif kind == "fail":
        assert isinstance(error, ExceptionGroup), error
        assert [type(e) for e in error.exceptions] == [Injected]
    elif kind == "outer-cancel":
        assert error is None or isinstance(error, Cancelled), error
    else:
        assert error is None, error  # the group's own cancel raises nothing


def _stage_fns(fail_at: int | None) -> tuple[Any, Any, Any]:
    def a(x: int) -> int:
        return x + 1

    def b(x: int) -> int:
        if x == fail_at:
            raise Injected(x)
        return x * 2

    def c(x: int) -> int:
        return x - 2

    return a, b, c


def _thread_run(n: int, plan: tuple[str, int, float], ordered: bool) -> None:
    kind, k, delay = plan
    a, b, c = _stage_fns(k + 1 if kind == "fail" else None)
    got: list[int] = []
    error: BaseException | None = None
    outer = Context()
    try:
        with outer, Group() as g:
            if kind == "group-cancel":
                threading.Timer(delay, g.cancel).start()
            elif kind == "outer-cancel":
                threading.Timer(delay, outer.cancel).start()
            s1 = g.map(a, range(n), workers=4, ordered=ordered)
            s2 = g.map(b, s1, workers=4, ordered=ordered)
            s3 = g.map(c, s2, workers=4, ordered=ordered)
            got.extend(s3)
    except (ExceptionGroup, Cancelled) as exc:
        error = exc
    _check(kind, got, n, ordered, error)


def test_pipeline_of_100k_items_emits_each_once() -> None:
    _thread_run(_scaled(100_000), ("none", 0, 0.0), ordered=False)


def test_ordered_pipeline_of_100k_items_keeps_the_order() -> None:
    _thread_run(_scaled(100_000), ("none", 0, 0.0), ordered=True)


@pytest.mark.parametrize("seed", range(12))
def test_thread_pipelines_under_failures_and_cancels(seed: int) -> None:
    rng = random.Random(seed)
    n = _scaled(20_000)
    _thread_run(n, _plan(rng, n), ordered=bool(seed % 2))


async def _async_run(world: str, n: int, plan: tuple[str, int, float], ordered: bool) -> None:
    kind, k, delay = plan
    a, b, c = _stage_fns(k + 1 if kind == "fail" else None)
    sleep = trio.sleep if world == "trio" else asyncio.sleep

    async def a_task(x: int) -> int:
        if x % 64 == 0:
            await sleep(0)
        return int(a(x))

    async def c_task(x: int) -> int:
        return int(c(x))

    got: list[int] = []
    error: BaseException | None = None
    outer = Context()
    try:
        async with outer, Group() as g:
            if kind == "group-cancel":
                threading.Timer(delay, g.cancel).start()
            elif kind == "outer-cancel":
                threading.Timer(delay, outer.cancel).start()
            s1 = g.map(a_task, range(n), workers=4, ordered=ordered)  # tasks
            s2 = g.map(b, s1, workers=4, ordered=ordered)  # thread workers
            s3 = g.map(c_task, s2, workers=4, ordered=ordered)  # tasks
            async for v in s3:
                got.append(v)
    except (ExceptionGroup, Cancelled) as exc:
        error = exc
    _check(kind, got, n, ordered, error)


@pytest.mark.parametrize("host", ["trio", "asyncio"])
@pytest.mark.parametrize("seed", range(6))
def test_mixed_pipelines_under_failures_and_cancels(host: str, seed: int) -> None:
    rng = random.Random(1000 + seed)
    n = _scaled(5_000)
    plan = ("none", 0, 0.0) if seed == 0 else _plan(rng, n)
    if host == "trio":
        trio.run(_async_run, "trio", n, plan, bool(seed % 2))
    else:
        asyncio.run(_async_run("asyncio", n, plan, bool(seed % 2)))


def _storm_round(rng: random.Random) -> tuple[int, dict[str, int]]:
    """One small group cancelled from a timer thread: (jobs started, outcomes)."""
    gate: Chan[None] = Chan()
    counts = {"ran": 0, "cancelled": 0}
    lock = threading.Lock()
    wait = rng.uniform(0, 0.002)

    def job() -> None:
        try:
            gate.recv(timeout=wait)
        except TimeoutError:
            outcome = "ran"
        except Cancelled:
            with lock:
                counts["cancelled"] += 1
            raise
        with lock:
            counts[outcome] += 1

    started = 0
    with Group(limit=4) as g:
        threading.Timer(rng.uniform(0, 0.003), g.cancel).start()
        for _ in range(8):
            g.go(job)  # raises Cancelled once cancelled: the group swallows it
            started += 1
    return started, counts


def test_group_cancel_storm_counts_every_job() -> None:
    """Hundreds of small groups, each cancelled from another thread at a
    random moment: every job that started either ran to its end or was
    cancelled, none twice, and every group exits."""
    rng = random.Random(7)
    totals = {"ran": 0, "cancelled": 0}
    for _ in range(_scaled(300)):
        started, counts = _storm_round(rng)
        assert counts["ran"] + counts["cancelled"] == started
        for key in totals:
            totals[key] += counts[key]
    assert totals["ran"] > 0
    assert totals["cancelled"] > 0
