"""recv_many / arecv_many: a batch, waiting only for the first value — in every world."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import pytest
import trio

from chanpy import Chan, Closed
from tests.worlds import WORLDS, Ops, run, start

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("world", WORLDS)
def test_takes_what_is_ready_up_to_max_items_in_order(world: str) -> None:
    async def body(ops: Ops) -> list[list[int]]:
        ch: Chan[int] = Chan(16)
        for i in range(7):
            ch.send(i)
        return [await ops.recv_many(ch, 3), await ops.recv_many(ch, 3), await ops.recv_many(ch, 9)]

    assert run(world, body) == [[0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.parametrize("world", WORLDS)
def test_waits_only_for_the_first_value(world: str) -> None:
    ch: Chan[int] = Chan(16)

    async def body(ops: Ops) -> tuple[list[int], float]:
        t0 = time.monotonic()
        batch = await ops.recv_many(ch, 10, timeout=10)
        return batch, time.monotonic() - t0

    party = start(world, body)
    time.sleep(0.05)
    ch.send(1)  # one value: the call returns it instead of waiting for ten
    batch, waited = party.result()
    assert batch == [1]
    assert waited < 5


@pytest.mark.parametrize("world", WORLDS)
def test_unbuffered_takes_from_waiting_senders(world: str) -> None:
    ch: Chan[int] = Chan()
    senders = [threading.Thread(target=ch.send, args=(i,)) for i in range(3)]
    for t in senders:
        t.start()
    deadline = time.monotonic() + 10
    while ch.statistics().waiting_senders < 3 and time.monotonic() < deadline:
        time.sleep(0.001)

    async def body(ops: Ops) -> list[int]:
        return await ops.recv_many(ch, 5, timeout=10)

    batch = run(world, body)
    for t in senders:
        t.join(10)
    assert sorted(batch) == [0, 1, 2]


@pytest.mark.parametrize("world", WORLDS)
def test_close_delivers_what_was_buffered_then_raises(world: str) -> None:
    async def body(ops: Ops) -> tuple[list[int], str]:
        ch: Chan[int] = Chan(8)
        for i in range(3):
            ch.send(i)
        ch.close()
        first = await ops.recv_many(ch, 8)
        try:
            await ops.recv_many(ch, 8)
        except Closed:
            return first, "closed"
        return first, "no error"

    assert run(world, body) == ([0, 1, 2], "closed")


@pytest.mark.parametrize("world", WORLDS)
def test_a_timeout_takes_nothing(world: str) -> None:
    async def body(ops: Ops) -> tuple[str, int]:
        ch: Chan[int] = Chan(4)
        try:
            await ops.recv_many(ch, 4, timeout=0.02)
        except TimeoutError:
            ch.send(5)
            return "timeout", len(ch)
        return "no timeout", len(ch)

    assert run(world, body) == ("timeout", 1)


@pytest.mark.parametrize("world", WORLDS)
@pytest.mark.parametrize(
    ("max_items", "error"), [(0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_bad_max_items_is_refused_before_touching_the_channel(
    world: str, max_items: Any, error: type[Exception]
) -> None:
    async def body(ops: Ops) -> tuple[str, int]:
        ch: Chan[int] = Chan(4)
        ch.send(1)
        with pytest.raises(error, match="max_items"):
            await ops.recv_many(ch, max_items)
        return "refused", len(ch)

    assert run(world, body) == ("refused", 1)


@pytest.mark.stress
@pytest.mark.parametrize("world", WORLDS)
def test_counted_batches_from_many_threads_with_cancellations(world: str) -> None:
    """4 producer threads x 20 000 values into one channel; one consumer in ``world``
    takes batches, its waits cut short by timeouts (and, in tasks, cancels):
    every value exactly once, each producer's values in order."""
    producers, per = 4, 20_000
    ch: Chan[tuple[int, int]] = Chan(64)
    got: list[tuple[int, int]] = []

    def produce(p: int) -> None:
        for i in range(per):
            ch.send((p, i))

    async def consume_thread(ops: Ops) -> None:
        while len(got) < producers * per:
            try:
                got.extend(ch.recv_many(random.randint(1, 50), timeout=0.001))
            except TimeoutError:
                pass

    async def consume_trio(ops: Ops) -> None:
        while len(got) < producers * per:
            with trio.move_on_after(random.choice([0.0, 0.0005, 1.0])):
                got.extend(await ch.arecv_many(random.randint(1, 50)))

    async def consume_asyncio(ops: Ops) -> None:
        while len(got) < producers * per:
            try:
                async with asyncio.timeout(random.choice([0.0, 0.0005, 1.0])):
                    got.extend(await ch.arecv_many(random.randint(1, 50)))
            except TimeoutError:
                pass

    body = {"thread": consume_thread, "trio": consume_trio, "asyncio": consume_asyncio}[world]
    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in threads:
        t.start()
    run(world, body, timeout=50)
    for t in threads:
        t.join(10)
    assert len(got) == producers * per, "values lost or duplicated"
    assert len(set(got)) == producers * per, "a value was delivered twice"
    for p in range(producers):
        assert [i for q, i in got if q == p] == list(range(per)), f"producer {p} out of order"
