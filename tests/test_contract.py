"""DESIGN.md's semantics, one test per rule, run in every world.

Each test's main party runs in the ``world`` fixture's world (a thread, a
trio task, an asyncio task); counterparts act from the test's own thread
through non-blocking calls, or as parties of their own. Where a test needs
"the other side is now waiting", it waits for the channel's statistics to
say so rather than sleeping.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import chanpy
from chanpy import Chan, Closed, WouldBlock, after, recv, send, tick
from tests.worlds import Ops, run, start, wait_until, waited_at_least

# --- values -------------------------------------------------------------


@pytest.mark.parametrize("capacity", [0, 1, 8])
def test_any_object_is_a_value_none_included(world: str, capacity: int) -> None:
    values: list[Any] = [None, 0, "", [], {"k": 1}, object(), Chan(), ValueError("x")]
    ch: Chan[Any] = Chan(capacity)

    async def consumer(ops: Ops) -> list[Any]:
        return [await ops.recv(ch) for _ in values]

    party = start(world, consumer)
    for v in values:
        ch.send(v, timeout=10)
    got = party.result()
    assert len(got) == len(values)
    assert all(a is b for a, b in zip(got, values, strict=True))


# --- unbuffered ---------------------------------------------------------


def test_unbuffered_send_completes_only_when_a_receiver_takes_it(world: str) -> None:
    ch: Chan[str] = Chan()

    async def sender(ops: Ops) -> None:
        await ops.send(ch, "x")

    party = start(world, sender)
    wait_until(lambda: ch.statistics().waiting_senders == 1)
    time.sleep(0.02)
    assert not party.done()  # still waiting: nobody took the value
    assert len(ch) == 0
    assert ch.recv_nowait() == "x"
    party.result()
    assert ch.statistics().waiting_senders == 0


def test_unbuffered_recv_waits_for_a_sender(world: str) -> None:
    ch: Chan[str] = Chan()

    async def receiver(ops: Ops) -> str:
        return str(await ops.recv(ch))

    party = start(world, receiver)
    wait_until(lambda: ch.statistics().waiting_receivers == 1)
    assert not party.done()
    ch.send_nowait("y")  # completes at once: a receiver is waiting
    assert party.result() == "y"


def test_unbuffered_nowait_without_a_counterpart_would_block() -> None:
    ch: Chan[int] = Chan()
    with pytest.raises(WouldBlock):
        ch.send_nowait(1)
    with pytest.raises(WouldBlock):
        ch.recv_nowait()
    assert ch.statistics() == chanpy.ChanStatistics(0, 0, 0, 0, False)


# --- buffered -----------------------------------------------------------


def test_buffered_is_fifo_and_send_waits_only_when_full(world: str) -> None:
    ch: Chan[int] = Chan(3)

    async def sender(ops: Ops) -> None:
        for i in range(4):
            await ops.send(ch, i)

    party = start(world, sender)
    wait_until(lambda: len(ch) == 3 and ch.statistics().waiting_senders == 1)
    assert not party.done()  # the fourth send waits for room
    assert [ch.recv_nowait() for _ in range(3)] == [0, 1, 2]
    party.result()
    assert ch.recv_nowait() == 3
    assert len(ch) == 0


def test_buffered_recv_waits_while_empty(world: str) -> None:
    ch: Chan[int] = Chan(2)

    async def receiver(ops: Ops) -> int:
        return int(await ops.recv(ch))

    party = start(world, receiver)
    wait_until(lambda: ch.statistics().waiting_receivers == 1)
    ch.send_nowait(5)
    assert party.result() == 5


def test_len_capacity_and_statistics() -> None:
    ch: Chan[int] = Chan(4)
    assert (len(ch), ch.capacity, ch.closed) == (0, 4, False)
    ch.send_nowait(1)
    ch.send_nowait(2)
    stats = ch.statistics()
    assert (stats.length, stats.capacity, stats.closed) == (2, 4, False)
    assert (stats.waiting_senders, stats.waiting_receivers) == (0, 0)
    with pytest.raises(AttributeError):
        stats.length = 9  # type: ignore[misc]
    ch.close()
    assert ch.statistics().closed
    assert ch.closed
    assert Chan().capacity == 0


# --- close --------------------------------------------------------------


def test_close_delivers_buffered_values_then_closed(world: str) -> None:
    ch: Chan[int] = Chan(4)
    for i in range(3):
        ch.send_nowait(i)
    ch.close()

    async def drain(ops: Ops) -> tuple[list[int], bool]:
        got = [await ops.recv(ch) for _ in range(3)]
        try:
            await ops.recv(ch)
        except Closed:
            return got, True
        return got, False

    assert run(world, drain) == ([0, 1, 2], True)


def test_close_wakes_blocked_receivers_with_closed(world: str) -> None:
    ch: Chan[int] = Chan()

    async def receiver(ops: Ops) -> str:
        try:
            await ops.recv(ch)
        except Closed:
            return "closed"
        return "value"

    parties = [start(world, receiver) for _ in range(3)]
    wait_until(lambda: ch.statistics().waiting_receivers == 3)
    assert ch.close() is True
    assert [p.result() for p in parties] == ["closed"] * 3


@pytest.mark.parametrize("capacity", [0, 1])
def test_close_wakes_blocked_senders_with_closed(world: str, capacity: int) -> None:
    ch: Chan[int] = Chan(capacity)
    if capacity:
        ch.send_nowait(0)

    async def sender(ops: Ops) -> str:
        try:
            await ops.send(ch, 1)
        except Closed:
            return "closed"
        return "sent"

    parties = [start(world, sender) for _ in range(2)]
    wait_until(lambda: ch.statistics().waiting_senders == 2)
    ch.close()
    assert [p.result() for p in parties] == ["closed", "closed"]
    # The blocked senders' values never entered the channel.
    assert [ch.recv_nowait() for _ in range(capacity)] == [0] * capacity
    with pytest.raises(Closed):
        ch.recv_nowait()


def test_send_after_close_raises_closed(world: str) -> None:
    ch: Chan[int] = Chan(2)
    ch.close()

    async def sender(ops: Ops) -> None:
        await ops.send(ch, 1)

    with pytest.raises(Closed):
        run(world, sender)
    assert len(ch) == 0


def test_close_is_idempotent() -> None:
    ch: Chan[int] = Chan(1)
    ch.send_nowait(7)
    assert ch.close() is True
    assert ch.close() is False
    assert ch.closed
    assert ch.recv_nowait() == 7


def test_nowait_on_closed_raises_closed_never_wouldblock() -> None:
    for capacity in (0, 2):
        ch: Chan[int] = Chan(capacity)
        if capacity:
            ch.send_nowait(1)
        ch.close()
        with pytest.raises(Closed):
            ch.send_nowait(2)
        if capacity:
            assert ch.recv_nowait() == 1  # recv_nowait drains first
        with pytest.raises(Closed):
            ch.recv_nowait()


def test_iteration_ends_when_closed_and_drained(world: str) -> None:
    ch: Chan[int] = Chan(8)

    async def consumer(ops: Ops) -> list[int]:
        return await ops.items(ch)

    party = start(world, consumer)
    for i in range(20):
        ch.send(i, timeout=10)
    ch.close()
    assert party.result() == list(range(20))


def test_context_manager_closes() -> None:
    with Chan[int](1) as ch:
        ch.send_nowait(1)
        assert not ch.closed
    assert ch.closed
    assert ch.recv_nowait() == 1
    with pytest.raises(Closed):
        ch.recv_nowait()


# --- timeouts -----------------------------------------------------------


def test_recv_timeout_raises_builtin_timeout_error(world: str) -> None:
    ch: Chan[int] = Chan()

    async def receiver(ops: Ops) -> float:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await ops.recv(ch, timeout=0.05)
        return time.monotonic() - t0

    assert waited_at_least(run(world, receiver), 0.05)
    assert ch.statistics().waiting_receivers == 0  # no trace left


def test_send_timeout_leaves_no_trace(world: str) -> None:
    ch: Chan[int] = Chan(1)
    ch.send_nowait(1)

    async def sender(ops: Ops) -> None:
        with pytest.raises(TimeoutError):
            await ops.send(ch, 2, timeout=0.05)

    run(world, sender)
    assert ch.statistics().waiting_senders == 0
    assert ch.recv_nowait() == 1
    with pytest.raises(WouldBlock):
        ch.recv_nowait()  # the timed-out value never went in


def test_timeout_zero_polls(world: str) -> None:
    ready: Chan[int] = Chan(1)
    empty: Chan[int] = Chan(1)
    ready.send_nowait(3)

    async def body(ops: Ops) -> int:
        with pytest.raises(TimeoutError):
            await ops.recv(empty, timeout=0)
        with pytest.raises(TimeoutError):
            await ops.send(ready, 4, timeout=0)  # full
        with pytest.raises(TimeoutError):
            await ops.select(recv(empty), send(ready, 4), timeout=0)
        got = int(await ops.recv(ready, timeout=0))
        await ops.send(empty, 5, timeout=0)
        return got

    assert run(world, body) == 3
    assert empty.recv_nowait() == 5


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan")])
def test_negative_or_nan_timeout_is_a_value_error(world: str, bad: float) -> None:
    ch: Chan[int] = Chan(1)
    ch.send_nowait(1)  # even a ready operation is refused

    async def body(ops: Ops) -> None:
        with pytest.raises(ValueError, match="timeout"):
            await ops.recv(ch, timeout=bad)
        with pytest.raises(ValueError, match="timeout"):
            await ops.send(ch, 2, timeout=bad)
        with pytest.raises(ValueError, match="timeout"):
            await ops.select(recv(ch), timeout=bad)

    run(world, body)
    assert ch.recv_nowait() == 1
    assert len(ch) == 0


# --- select -------------------------------------------------------------


def test_select_recv_case_reports_index_value_ok(world: str) -> None:
    a: Chan[str] = Chan(1)
    b: Chan[str] = Chan(1)
    b.send_nowait("from b")

    async def body(ops: Ops) -> tuple[int, Any, bool]:
        r = await ops.select(recv(a), recv(b))
        return r.index, r.value, r.ok

    assert run(world, body) == (1, "from b", True)


def test_select_send_case_delivers(world: str) -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan(1)

    async def body(ops: Ops) -> tuple[int, bool]:
        r = await ops.select(send(a, 1), send(b, 2))
        return r.index, r.ok

    assert run(world, body) == (1, True)
    assert b.recv_nowait() == 2


def test_select_waits_until_a_case_is_ready(world: str) -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan()

    async def body(ops: Ops) -> tuple[int, Any]:
        r = await ops.select(recv(a), recv(b))
        return r.index, r.value

    party = start(world, body)
    wait_until(lambda: b.statistics().waiting_receivers == 1)
    assert a.statistics().waiting_receivers == 1  # registered on both
    b.send_nowait(9)
    assert party.result() == (1, 9)
    # The case that did not fire left no registration behind.
    assert a.statistics().waiting_receivers == 0
    assert b.statistics().waiting_receivers == 0


def test_select_exactly_one_case_takes_effect(world: str) -> None:
    """Two ready sends and two ready receives: one fires, the rest untouched."""
    for _ in range(30):
        outs = [Chan[int](1), Chan[int](1)]
        ins = [Chan[int](1), Chan[int](1)]
        ins[0].send_nowait(10)
        ins[1].send_nowait(11)

        async def body(ops: Ops, outs: list[Chan[int]] = outs, ins: list[Chan[int]] = ins) -> int:
            r = await ops.select(send(outs[0], 0), send(outs[1], 1), recv(ins[0]), recv(ins[1]))
            return r.index

        fired = run(world, body)
        assert [len(c) for c in outs] == [int(fired == 0), int(fired == 1)]
        assert [len(c) for c in ins] == [int(fired != 2), int(fired != 3)]


def test_select_none_channel_is_never_ready(world: str) -> None:
    ch: Chan[int] = Chan(1)

    async def body(ops: Ops) -> None:
        with pytest.raises(TimeoutError):
            await ops.select(recv(None), send(None, 1), timeout=0.02)
        ch.send_nowait(4)
        r = await ops.select(recv(None), send(None, 1), recv(ch))
        assert (r.index, r.value, r.ok) == (2, 4, True)

    run(world, body)


def test_select_recv_on_closed_fires_with_ok_false(world: str) -> None:
    a: Chan[int] = Chan()
    done: Chan[int] = Chan(1)
    done.send_nowait(1)
    done.close()

    async def body(ops: Ops) -> list[tuple[int, Any, bool]]:
        out = []
        for _ in range(2):
            r = await ops.select(recv(a), recv(done))
            out.append((r.index, r.value, r.ok))
        return out

    # The buffered value first (ok=True), then closed and drained (ok=False).
    assert run(world, body) == [(1, 1, True), (1, None, False)]


def test_select_recv_wakes_on_close(world: str) -> None:
    a: Chan[int] = Chan()

    async def body(ops: Ops) -> tuple[int, bool]:
        r = await ops.select(recv(None), recv(a))
        return r.index, r.ok

    party = start(world, body)
    wait_until(lambda: a.statistics().waiting_receivers == 1)
    a.close()
    assert party.result() == (1, False)


def test_select_send_on_closed_raises_closed(world: str) -> None:
    a: Chan[int] = Chan()
    a.close()
    b: Chan[int] = Chan()

    async def body(ops: Ops) -> None:
        await ops.select(send(a, 1), recv(b))

    with pytest.raises(Closed):
        run(world, body)


def test_select_blocked_send_gets_closed_on_close(world: str) -> None:
    a: Chan[int] = Chan()

    async def body(ops: Ops) -> None:
        await ops.select(send(a, 1), recv(None))

    party = start(world, body)
    wait_until(lambda: a.statistics().waiting_senders == 1)
    a.close()
    with pytest.raises(Closed):
        party.result()


def test_select_timeout_leaves_no_trace(world: str) -> None:
    a: Chan[int] = Chan()
    b: Chan[int] = Chan(1)
    b.send_nowait(0)  # full: the send case cannot fire

    async def body(ops: Ops) -> None:
        with pytest.raises(TimeoutError):
            await ops.select(recv(a), send(b, 1), timeout=0.03)

    run(world, body)
    assert a.statistics() == chanpy.ChanStatistics(0, 0, 0, 0, False)
    assert b.statistics() == chanpy.ChanStatistics(1, 1, 0, 0, False)
    assert b.recv_nowait() == 0


def test_select_block_false_raises_would_block() -> None:
    a: Chan[int] = Chan()
    with pytest.raises(WouldBlock):
        chanpy.select(recv(a), send(a, 1), block=False)
    a2: Chan[int] = Chan(1)
    a2.send_nowait(1)
    assert chanpy.select(recv(a2), block=False).value == 1


def test_select_on_one_channel_send_and_recv_does_not_match_itself(world: str) -> None:
    ch: Chan[int] = Chan()

    async def body(ops: Ops) -> None:
        with pytest.raises(TimeoutError):
            await ops.select(send(ch, 1), recv(ch), timeout=0.03)

    run(world, body)
    assert ch.statistics() == chanpy.ChanStatistics(0, 0, 0, 0, False)


def test_select_with_no_cases_waits_for_timeout(world: str) -> None:
    async def body(ops: Ops) -> None:
        with pytest.raises(TimeoutError):
            await ops.select(timeout=0.01)

    run(world, body)


# --- timers -------------------------------------------------------------


def test_after_and_tick_are_receivable_everywhere(world: str) -> None:
    async def body(ops: Ops) -> None:
        t0 = time.monotonic()
        stamp = await ops.recv(after(0.02))
        assert waited_at_least(time.monotonic() - t0, 0.02)
        assert isinstance(stamp, float)
        r = await ops.select(recv(None), recv(after(0.01)))
        assert (r.index, r.ok) == (1, True)
        ticker = tick(0.005)
        first = await ops.recv(ticker)
        second = await ops.recv(ticker)
        assert second > first
        ticker.stop()
        rest = await ops.items(ticker)  # stopped: iteration ends
        assert len(rest) <= 1  # at most the one tick buffered before stop

    run(world, body)


# --- per-sender order across worlds -------------------------------------


@pytest.mark.parametrize("capacity", [0, 1, 64])
def test_per_sender_fifo_and_exactly_once(world: str, capacity: int) -> None:
    ch: Chan[tuple[int, int]] = Chan(capacity)
    n = 2000

    def producer(pid: int) -> Any:
        async def body(ops: Ops) -> None:
            for i in range(n):
                await ops.send(ch, (pid, i))

        return body

    async def consumer(ops: Ops) -> list[tuple[int, int]]:
        return await ops.items(ch)

    consumers = [start(world, consumer) for _ in range(2)]
    producers = [start(w, producer(pid)) for pid, w in enumerate(("thread", "trio", "asyncio"))]
    for p in producers:
        p.result(60)
    ch.close()
    seen: list[tuple[int, int]] = []
    for c in consumers:
        got = c.result(60)
        for pid in range(3):
            mine = [i for q, i in got if q == pid]
            assert mine == sorted(mine)  # each sender's values in order
        seen.extend(got)
    assert sorted(seen) == [(pid, i) for pid in range(3) for i in range(n)]
