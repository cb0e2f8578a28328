"""Context: the cancellation tree and its scopes, in every world (DESIGN.md, Layer 2).

Each rule is one test; the scope tests run as contract bodies in a thread,
a trio run and an asyncio loop (``tests/worlds.py``). A cancel always comes
from another thread, the hard case for task scopes.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any

import pytest
import trio

import chanpy
from chanpy import Cancelled, Chan, Closed, Context, WouldBlock, current_context, recv, send
from tests.worlds import Ops, run, wait_until, waited_at_least


def cancel_later(ctx: Context, seconds: float, cause: BaseException | None = None) -> None:
    """Cancel ``ctx`` from a thread of its own after ``seconds``."""
    threading.Timer(seconds, ctx.cancel, args=(cause,)).start()


# -- the tree -------------------------------------------------------------


def test_cancel_is_idempotent_and_says_who_cancelled() -> None:
    ctx = Context()
    assert not ctx.cancelled
    assert ctx.cause is None
    assert not ctx.done.closed
    cause = ValueError("stop")
    assert ctx.cancel(cause) is True
    assert ctx.cancel(KeyError("again")) is False
    assert ctx.cancelled
    assert ctx.cause is cause
    assert ctx.done.closed


def test_cancel_reaches_every_descendant_with_the_cause() -> None:
    root = Context()
    child = Context(root)
    grandchildren = [Context(child) for _ in range(5)]
    sibling = Context(root)
    cause = RuntimeError("shutdown")
    child.cancel(cause)
    assert all(g.cancelled and g.cause is cause for g in grandchildren)
    assert not root.cancelled
    assert not sibling.cancelled
    root.cancel()
    assert sibling.cancelled
    assert sibling.cause is None
    assert child.cause is cause  # the first cancel stays


def test_a_child_of_a_cancelled_parent_is_born_cancelled() -> None:
    parent = Context()
    parent.cancel(OSError("gone"))
    child = Context(parent)
    assert child.cancelled
    assert isinstance(child.cause, OSError)
    assert child.done.closed


def test_cancel_from_many_threads_at_once_cancels_once() -> None:
    for _ in range(200):
        ctx = Context()
        kids = [Context(ctx) for _ in range(3)]
        wins: list[bool] = []
        threads = [
            threading.Thread(target=lambda c=ctx, w=wins: w.append(c.cancel())) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert wins.count(True) == 1
        assert len(wins) == 4
        assert all(k.cancelled for k in kids)


def test_timeout_cancels_with_timeout_error_after_the_delay() -> None:
    start = time.monotonic()
    ctx = Context(timeout=0.05)
    assert ctx.deadline is not None
    assert ctx.deadline == pytest.approx(start + 0.05, abs=0.02)
    with pytest.raises(Closed):
        ctx.done.recv(timeout=5)
    assert waited_at_least(time.monotonic() - start, 0.05)
    assert isinstance(ctx.cause, TimeoutError)


def test_deadline_on_the_monotonic_clock() -> None:
    ctx = Context(deadline=time.monotonic() + 0.03)
    with pytest.raises(Closed):
        ctx.done.recv(timeout=5)
    assert isinstance(ctx.cause, TimeoutError)
    past = Context(deadline=time.monotonic() - 1)
    assert past.cancelled
    assert isinstance(past.cause, TimeoutError)


def test_a_child_keeps_the_earlier_deadline() -> None:
    parent = Context(timeout=60)
    later = Context(parent, timeout=3600)
    earlier = Context(parent, timeout=0.01)
    assert later.deadline == parent.deadline
    assert earlier.deadline is not None
    assert parent.deadline is not None
    assert earlier.deadline < parent.deadline
    inherited = Context(parent)
    assert inherited.deadline == parent.deadline
    parent.cancel()


def test_deadlines_are_timer_entries_not_threads() -> None:
    Context(timeout=0.001)  # the shared timer thread exists from here on
    time.sleep(0.01)
    before = threading.active_count()
    contexts = [Context(timeout=30 + i) for i in range(500)]
    assert threading.active_count() == before
    for c in contexts:
        c.cancel()


def test_cancelled_is_a_base_exception_with_context_and_cause() -> None:
    assert issubclass(Cancelled, BaseException)
    assert not issubclass(Cancelled, Exception)
    ctx = Context()
    cause = KeyError("k")
    ctx.cancel(cause)

    def call() -> None:
        try:
            with ctx:
                Chan[int]().recv()
        except Exception:  # must not swallow it
            pytest.fail("except Exception caught Cancelled")

    with pytest.raises(Cancelled) as info:
        call()
    assert info.value.context is ctx
    assert info.value.cause is cause


# -- current_context ----------------------------------------------------------


def test_current_context_is_the_innermost_scope() -> None:
    assert current_context() is None
    outer, inner = Context(), Context()
    with outer:
        assert current_context() is outer
        with inner:
            assert current_context() is inner
        assert current_context() is outer
        seen: list[Context | None] = []
        t = threading.Thread(target=lambda: seen.append(current_context()))
        t.start()
        t.join(10)
        assert seen == [None]  # a new thread starts with none
    assert current_context() is None


@pytest.mark.parametrize("world", ["trio", "asyncio"])
def test_current_context_in_tasks(world: str) -> None:
    async def body(ops: Ops) -> list[bool]:
        ctx = Context()
        async with ctx:
            inside = current_context() is ctx
        return [inside, current_context() is None]

    assert run(world, body) == [True, True]


# -- scopes in every world ----------------------------------------------------


def test_a_parked_recv_is_woken_by_a_cancel_from_another_thread(world: str) -> None:
    async def body(ops: Ops) -> tuple[Any, Any]:
        ctx = Context()
        ch: Chan[int] = Chan()
        cause = ValueError("enough")
        cancel_later(ctx, 0.05, cause)
        try:
            async with ops.scope(ctx):
                await ops.recv(ch)
        except Cancelled as exc:
            return exc.context is ctx, exc.cause is cause
        return "not cancelled", None

    assert run(world, body) == (True, True)


def test_a_parked_send_cancelled_leaves_the_channel_as_it_was(world: str) -> None:
    async def body(ops: Ops) -> str:
        ctx = Context()
        ch: Chan[int] = Chan()
        cancel_later(ctx, 0.05)
        try:
            async with ops.scope(ctx):
                await ops.send(ch, 1)
        except Cancelled:
            pass
        with pytest.raises(WouldBlock):
            ch.recv_nowait()  # the value was not left behind
        assert ch.statistics().waiting_senders == 0
        return "ok"

    assert run(world, body) == "ok"


def test_a_parked_select_is_woken_by_a_cancel(world: str) -> None:
    async def body(ops: Ops) -> bool:
        ctx = Context()
        a: Chan[int] = Chan()
        b: Chan[int] = Chan(1)
        b.send_nowait(0)  # full: the send case cannot fire
        cancel_later(ctx, 0.05)
        try:
            async with ops.scope(ctx):
                await ops.select(recv(a), send(b, 1))
        except Cancelled:
            return len(b) == 1 and b.recv_nowait() == 0
        return False

    assert run(world, body)


def test_cancellation_wins_over_readiness(world: str) -> None:
    async def body(ops: Ops) -> str:
        ctx = Context()
        ctx.cancel()
        full: Chan[int] = Chan(1)
        full.send_nowait(7)
        room: Chan[int] = Chan(1)
        for op in (
            lambda: ops.recv(full),
            lambda: ops.send(room, 1),
            lambda: ops.select(recv(full), send(room, 1)),
            lambda: ops.items(full),
        ):
            with pytest.raises(Cancelled):
                async with ops.scope(ctx):
                    await op()
        assert len(full) == 1
        assert len(room) == 0
        return "ok"

    assert run(world, body) == "ok"


def test_nowait_forms_ignore_cancellation() -> None:
    ctx = Context()
    ctx.cancel()
    ch: Chan[int] = Chan(2)
    with ctx:
        ch.send_nowait(1)
        assert chanpy.select(send(ch, 2), block=False).index == 0
        assert ch.recv_nowait() == 1
        assert chanpy.select(recv(ch), block=False).value == 2


def test_done_is_a_select_case_in_every_world(world: str) -> None:
    async def body(ops: Ops) -> tuple[int, bool]:
        ctx = Context()
        never: Chan[int] = Chan()
        cancel_later(ctx, 0.03)
        r = await ops.select(recv(never), recv(ctx.done), timeout=10)
        return r.index, r.ok

    assert run(world, body) == (1, False)


def test_a_deadline_cancels_a_parked_call(world: str) -> None:
    async def body(ops: Ops) -> bool:
        ctx = Context(timeout=0.05)
        start = time.monotonic()
        try:
            async with ops.scope(ctx):
                await ops.recv(Chan())
        except Cancelled as exc:
            return isinstance(exc.cause, TimeoutError) and waited_at_least(
                time.monotonic() - start, 0.05
            )
        return False

    assert run(world, body)


def test_a_completed_body_is_not_cancelled_afterwards(world: str) -> None:
    async def body(ops: Ops) -> str:
        ctx = Context()
        ch: Chan[int] = Chan(1)
        async with ops.scope(ctx):
            await ops.send(ch, 1)
        ctx.cancel()
        await ops.sleep(0.01)  # no cancellation may be left pending on the task
        return "ok"

    assert run(world, body) == "ok"


def test_cancel_of_an_ancestor_reaches_a_nested_scope(world: str) -> None:
    async def body(ops: Ops) -> bool:
        root = Context()
        inner = Context(Context(root))
        cancel_later(root, 0.03, KeyError("root"))
        try:
            async with ops.scope(inner):
                await ops.recv(Chan())
        except Cancelled as exc:
            return exc.context is inner and isinstance(exc.cause, KeyError)
        return False

    assert run(world, body)


def test_an_asyncio_cancellation_from_elsewhere_is_not_converted() -> None:
    async def main() -> str:
        ctx = Context()

        async def inner() -> None:
            async with ctx:
                await Chan[int]().arecv()

        task = asyncio.ensure_future(inner())
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return "ok"

    assert asyncio.run(main()) == "ok"


def test_a_trio_cancellation_from_elsewhere_is_not_converted() -> None:
    async def main() -> str:
        ctx = Context()
        with trio.move_on_after(0.02) as outer:
            async with ctx:
                await Chan[int]().arecv()
        assert outer.cancelled_caught
        assert not ctx.cancelled
        return "ok"

    assert trio.run(main) == "ok"


def test_async_with_outside_a_task_is_an_error() -> None:
    async def body() -> None:
        async with Context():
            pass

    coro = body()
    with pytest.raises(RuntimeError, match="trio or asyncio"):
        coro.send(None)


# -- counted storms -------------------------------------------------------------


def test_cancellation_storm_loses_and_duplicates_nothing(world: str) -> None:
    """A sender feeds an unbuffered channel while the receiver's scopes are
    cancelled at random from another thread: every value is received once
    or is still the sender's (it learns which from the send's outcome)."""
    rounds = 2000 if world == "thread" else 600
    ch: Chan[int] = Chan()
    delivered: list[int] = []
    stop = threading.Event()

    def sender() -> None:
        n = 0
        while not stop.is_set():
            try:
                ch.send(n, timeout=0.05)
            except TimeoutError:
                continue
            except Closed:
                return
            delivered.append(n)
            n += 1

    t = threading.Thread(target=sender)
    t.start()

    async def body(ops: Ops) -> list[int]:
        got: list[int] = []
        for i in range(rounds):
            ctx = Context()
            cancel_later(ctx, 0.0005 * (i % 3))
            try:
                async with ops.scope(ctx):
                    while True:
                        got.append(await ops.recv(ch))
            except Cancelled:
                pass
        return got

    try:
        got = run(world, body, timeout=90)
    finally:
        stop.set()
        ch.close()
        t.join(10)
    assert got == delivered  # each value once, in order: nothing lost to a cancel
    assert len(got) > 0


# -- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"parent": 5}, TypeError, "Context or None"),
        ({"timeout": 1, "deadline": 2}, ValueError, "not both"),
        ({"timeout": math.nan}, ValueError, "NaN"),
        ({"timeout": "1"}, TypeError, "number of seconds"),
        ({"deadline": True}, TypeError, "number of seconds"),
    ],
)
def test_bad_arguments_name_the_problem(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Context(**kwargs)


def test_cancel_takes_an_exception_or_none() -> None:
    ctx = Context()
    with pytest.raises(TypeError, match="exception instance"):
        ctx.cancel("no")  # type: ignore[arg-type]
    assert not ctx.cancelled


def test_scopes_must_nest() -> None:
    a, b = Context(), Context()
    a.__enter__()
    b.__enter__()
    with pytest.raises(RuntimeError, match="nest"):
        a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    a.__exit__(None, None, None)
    assert current_context() is None


def test_remaining_counts_down_to_zero() -> None:
    assert Context().remaining() is None
    ctx = Context(timeout=0.02)
    left = ctx.remaining()
    assert left is not None
    assert 0 < left <= 0.02
    wait_until(lambda: ctx.cancelled, timeout=5)
    assert ctx.remaining() == 0.0


def test_a_chanpy_await_in_cleanup_of_a_cancelled_asyncio_scope_raises_cancelled() -> None:
    async def main() -> str:
        ctx = Context()
        ch: Chan[int] = Chan(1)
        try:
            async with ctx:
                try:
                    asyncio.get_running_loop().call_later(0.01, ctx.cancel)
                    await Chan[int]().arecv()
                finally:
                    await ch.asend(1)  # cleanup: the scope is cancelled
        except Cancelled:
            return f"cancelled, buffered {len(ch)}"
        return "not cancelled"

    assert asyncio.run(main()) == "cancelled, buffered 0"


@pytest.mark.parametrize("world", ["trio", "asyncio"])
def test_a_child_task_that_inherited_the_scope_is_cancelled_too(world: str) -> None:
    async def body(ops: Ops) -> list[str]:
        ctx = Context()
        seen: list[str] = []

        async def child() -> None:
            try:
                await Chan[int]().arecv(timeout=10)
            except Cancelled:
                seen.append("child cancelled")

        async with ctx:
            if world == "trio":
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(child)
                    await trio.sleep(0.02)
                    ctx.cancel()
            else:
                task = asyncio.ensure_future(child())
                await asyncio.sleep(0.02)
                ctx.cancel()
                try:
                    await asyncio.shield(task)
                except asyncio.CancelledError:
                    await task
        return seen

    assert run(world, body) == ["child cancelled"]
