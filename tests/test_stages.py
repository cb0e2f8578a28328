"""Pipeline stages on a Group, in every world (DESIGN.md, Layer 2).

map / filter / flat_map / merge / broadcast: outputs are exact (ordered) or
the same multiset (unordered); look-ahead is measured by counting what the
stage pulled from its source while nobody reads its output; a failure
anywhere ends the whole pipeline with the error; bad arguments are refused
before anything starts.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

import pytest
import trio

from chanpy import Broadcast, Chan, Group
from tests.worlds import Ops, run, wait_until


def _fn(ops: Ops, f: Any) -> Any:
    """``f`` as a stage function of the body's world: async in tasks."""
    if ops.world == "thread":
        return f

    async def af(x: Any) -> Any:
        await ops.sleep(0)
        return f(x)

    return af


class Counted:
    """An iterable that counts how many values were pulled from it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pulled = 0

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.pulled += 1
            yield i


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("source", ["chan", "iterable", "async-iterable"])
def test_map_emits_every_result(world: str, ordered: bool, source: str) -> None:
    if source == "async-iterable" and world == "thread":
        pytest.skip("an async source needs an async group (see the error tests)")
    n = 300

    async def body(ops: Ops) -> list[int]:
        async with ops.scope(Group()) as g:
            src: Any
            if source == "chan":
                src = Chan(8)

                def feed() -> None:
                    for i in range(n):
                        src.send(i)
                    src.close()

                threading.Thread(target=feed).start()
            elif source == "iterable":
                src = range(n)
            else:

                async def agen() -> AsyncIterator[int]:
                    for i in range(n):
                        yield i

                src = agen()
            out = g.map(_fn(ops, lambda x: x * 10), src, workers=4, ordered=ordered)
            return await ops.items(out)

    got = run(world, body)
    expected = [i * 10 for i in range(n)]
    assert (got if ordered else sorted(got)) == expected


def test_filter_and_flat_map(world: str) -> None:
    async def body(ops: Ops) -> tuple[list[int], list[int], list[int]]:
        async with ops.scope(Group()) as g:
            evens = g.filter(_fn(ops, lambda x: x % 2 == 0), range(50), workers=3)
            a = await ops.items(evens)
            pairs = g.flat_map(_fn(ops, lambda x: [x, -x]), range(20), workers=3)
            b = await ops.items(pairs)
            loose = g.flat_map(_fn(ops, lambda x: [x] * 2), range(30), workers=3, ordered=False)
            c = await ops.items(loose)
        return a, b, sorted(c)

    a, b, c = run(world, body)
    assert a == list(range(0, 50, 2))
    assert b == [v for x in range(20) for v in (x, -x)]
    assert c == sorted(list(range(30)) * 2)


def test_plain_function_in_an_async_group_runs_on_threads() -> None:
    async def main() -> tuple[list[int], set[str]]:
        names: set[str] = set()

        def blocking(x: int) -> int:
            names.add(threading.current_thread().name)
            time.sleep(0.001)  # may block: it is not on the loop
            return x + 1

        async with Group() as g:
            out = g.map(blocking, range(20), workers=2)
            got = [v async for v in out]
        return got, names

    got, names = trio.run(main)
    assert got == list(range(1, 21))
    assert names == {"chanpy-group-worker"}


def test_pipeline_of_three_stages_across_worlds() -> None:
    async def main() -> list[int]:
        async with Group() as g:

            async def plus(x: int) -> int:
                await asyncio.sleep(0)
                return x + 1

            a = g.map(plus, range(500), workers=4)
            b = g.map(lambda x: x * 2, a, workers=4)  # thread workers
            c = g.filter(lambda x: x % 4 == 0, b, workers=2, ordered=False)
            got = sorted([v async for v in c])
        return got

    assert asyncio.run(main()) == sorted(x for x in ((i + 1) * 2 for i in range(500)) if x % 4 == 0)


def test_merge_gets_every_value_of_every_source_in_each_sources_order(world: str) -> None:
    async def body(ops: Ops) -> list[int]:
        async with ops.scope(Group()) as g:
            a = g.map(_fn(ops, lambda x: x), range(0, 100), workers=1)
            out = g.merge(a, range(1000, 1100), range(2000, 2050), buffer=4)
            return await ops.items(out)

    got = run(world, body)
    assert sorted(got) == sorted([*range(100), *range(1000, 1100), *range(2000, 2050)])
    for lo in (0, 1000, 2000):
        part = [v for v in got if lo <= v < lo + 1000]
        assert part == sorted(part)


def test_broadcast_block_gives_every_output_every_value(world: str) -> None:
    async def body(ops: Ops) -> list[list[int]]:
        async with ops.scope(Group()) as g:
            outs = g.broadcast(range(100), 3, buffer=2)
            results: list[list[int]] = [[], [], []]

            async def drain(i: int) -> None:
                results[i] = await ops.items(outs[i])

            for i in range(3):
                g.go(ops.worker(drain), i)
        assert outs.dropped == (0, 0, 0)
        return results

    assert run(world, body) == [list(range(100))] * 3


@pytest.mark.parametrize("overflow", ["drop_newest", "drop_oldest"])
def test_broadcast_drops_are_counted(overflow: str) -> None:
    with Group() as g:
        outs = g.broadcast(range(100), 2, buffer=5, overflow=overflow)
        assert isinstance(outs, Broadcast)
        fast = list(outs[0])  # this output keeps up (blocked reads)
        wait_until(lambda: outs[1].closed)
        slow = list(outs[1])  # read only at the end: most values dropped
    assert len(fast) + outs.dropped[0] == 100
    assert len(slow) + outs.dropped[1] == 100
    assert len(slow) == 5
    assert outs.dropped[1] == 95
    if overflow == "drop_oldest":
        assert slow == list(range(95, 100))  # the newest survive
    else:
        assert slow == list(range(5))  # the first survive


@pytest.mark.parametrize(("workers", "buffer"), [(1, 0), (4, 0), (3, 5)])
def test_ordered_look_ahead_is_bounded_by_workers_plus_buffer(workers: int, buffer: int) -> None:
    src = Counted(10_000)
    with Group() as g:
        out = g.map(lambda x: x, src, workers=workers, buffer=buffer)
        first = out.recv()
        time.sleep(0.1)  # let the stage run ahead as far as it can
        held = src.pulled - 1 - len(out)  # taken, not yet emitted
        buffered = len(out)
        g.cancel()
    assert first == 0
    assert held <= workers + buffer
    assert buffered <= buffer
    assert held >= 1  # it did run ahead: the bound is what stopped it


def test_unordered_look_ahead_from_a_chan_is_bounded() -> None:
    src: Chan[int] = Chan(10_000)
    for i in range(10_000):
        src.send_nowait(i)
    with Group() as g:
        g.map(lambda x: x, src, workers=3, ordered=False, buffer=4)
        time.sleep(0.1)  # nobody reads the output: the stage must stop pulling
        pulled = 10_000 - len(src)
        g.cancel()
    assert 0 < pulled <= 3 + 4  # one in each worker's hands, and the output's buffer


def test_a_failing_stage_stops_the_whole_pipeline(world: str) -> None:
    async def body(ops: Ops) -> tuple[list[type[BaseException]], int]:
        def check(x: int) -> int:
            if x == 500:
                raise ValueError(x)
            return x

        got: list[int] = []
        try:
            async with ops.scope(Group()) as g:
                a = g.map(_fn(ops, lambda x: x), Counted(1_000_000), workers=2)
                b = g.map(_fn(ops, check), a, workers=3)
                c = g.map(_fn(ops, lambda x: x), b, workers=2)
                got.extend(await ops.items(c))
        except ExceptionGroup as eg:
            return [type(e) for e in eg.exceptions], len(got)
        return [], len(got)

    errors, emitted = run(world, body, timeout=60)
    assert errors == [ValueError]
    assert emitted <= 500


def test_output_closes_even_when_the_stage_fails() -> None:
    got: list[int] = []
    with pytest.raises(ExceptionGroup) as info, Group() as g:  # noqa: PT012
        out = g.map(lambda x: 1 // (x - 3), range(10), workers=2, ordered=False)
        reader = threading.Thread(target=lambda: got.extend(out))  # outside g's scope
        reader.start()
        reader.join(30)
    assert out.closed  # so a reader outside the group was not left hanging
    assert not reader.is_alive()
    assert len(got) < 10  # the failed item is never emitted; the rest may race the cancel
    assert [type(e) for e in info.value.exceptions] == [ZeroDivisionError]


# -- bad input: refused before anything starts ------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda g, s: g.map(abs, s, workers=0), ValueError, "workers"),
        (lambda g, s: g.map(abs, s, workers=1.5), ValueError, "workers"),
        (lambda g, s: g.map(abs, s, buffer=-1), ValueError, "buffer"),
        (lambda g, s: g.filter(abs, s, ordered="yes"), TypeError, "ordered"),
        (lambda g, s: g.map(42, s), TypeError, "fn"),
        (lambda g, s: g.filter(None, s), TypeError, "pred"),
        (lambda g, s: g.map(abs, 5), TypeError, "src"),
        (lambda g, s: g.merge(), ValueError, "at least one"),
        (lambda g, s: g.merge(s, buffer=-2), ValueError, "buffer"),
        (lambda g, s: g.merge(s, 7), TypeError, "src"),
        (lambda g, s: g.broadcast(s, 0), ValueError, "n must"),
        (lambda g, s: g.broadcast(s, 2, buffer=-1), ValueError, "buffer"),
        (lambda g, s: g.broadcast(s, 2, overflow="spill"), ValueError, "overflow"),
        (lambda g, s: g.broadcast(s, 2, overflow="drop_oldest"), ValueError, "buffer >= 1"),
    ],
)
def test_bad_arguments_are_refused_before_anything_starts(
    call: Any, error: type[Exception], match: str
) -> None:
    src: Chan[int] = Chan(3)
    src.send_nowait(1)
    with Group() as g:
        before = threading.active_count()
        with pytest.raises(error, match=match):
            call(g, src)
        assert threading.active_count() == before  # no worker was started
        assert len(src) == 1  # the source is untouched
    assert src.recv_nowait() == 1


def test_async_things_in_a_thread_group_are_type_errors() -> None:
    async def afn(x: int) -> int:
        return x

    async def agen() -> AsyncGenerator[int, None]:
        yield 1

    with Group() as g:
        with pytest.raises(TypeError, match="async"):
            g.map(afn, range(3))
        source = agen()
        with pytest.raises(TypeError, match="async iterable"):
            g.map(abs, source)
    asyncio.run(source.aclose())


def test_a_stage_on_a_cancelled_group_raises_cancelled() -> None:
    from chanpy import Cancelled

    with Group() as g:
        g.cancel()
        with pytest.raises(Cancelled):
            g.map(abs, range(3))
