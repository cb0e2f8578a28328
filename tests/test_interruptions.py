"""Leaving a wait early: cancellation, exceptions from signal handlers, dropped tasks.

Whatever ends a wait, nothing is taken that is not returned: a waiter told
about a buffered value (NOTIFIED) that leaves passes the notice on, so the
value stays for another receiver; a cancellation that found nothing done
propagates.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from chanpy import Chan, Closed
from chanpy._ffi import fast
from chanpy._select import recv
from tests.worlds import wait_until


@pytest.fixture
def slow_switching() -> Iterator[None]:
    """Let a thread run several calls before the GIL moves on."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_cancelled_notified_asyncio_receiver_passes_the_value_on() -> None:
    async def main() -> tuple[bool, int]:
        ch: Chan[int] = Chan(1)
        first = asyncio.create_task(ch.arecv())
        await asyncio.sleep(0.01)
        second = asyncio.create_task(ch.arecv())
        await asyncio.sleep(0.01)
        assert ch.statistics().waiting_receivers == 2
        ch.send_nowait(7)  # notifies `first`, the oldest waiter
        first.cancel()  # ...which is cancelled before it can look
        try:
            await first
            first_cancelled = False
        except asyncio.CancelledError:
            first_cancelled = True
        got = await asyncio.wait_for(second, 5)
        return first_cancelled, got

    assert asyncio.run(main()) == (True, 7)


def test_asyncio_cancel_racing_close_propagates() -> None:
    """Close wakes the task (NOTIFIED), then it is cancelled: nothing moved."""

    async def main() -> list[str]:
        ch: Chan[int] = Chan()
        seen: list[str] = []

        async def loop_over() -> None:
            async for _ in ch:
                seen.append("value")
            seen.append("loop ended")

        task = asyncio.create_task(loop_over())
        await asyncio.sleep(0.01)
        ch.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert asyncio.run(main()) == []


def test_asyncio_cancel_absorbed_by_a_handoff_is_raised_at_the_next_call() -> None:
    """An unbuffered value already handed over wins; the cancel comes next."""

    async def main() -> tuple[int, bool]:
        ch: Chan[int] = Chan()
        got: list[int] = []

        async def consumer() -> None:
            while True:
                got.append(await ch.arecv())

        task = asyncio.create_task(consumer())
        await asyncio.sleep(0.01)
        ch.send_nowait(1)  # hands the value over (DONE) and wakes the task
        task.cancel()  # the task resumes with CancelledError at its await
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        return got[0], ch.statistics().waiting_receivers == 0

    assert asyncio.run(main()) == (1, True)


def test_asyncio_timeout_absorbed_by_a_handoff_does_not_leak() -> None:
    """Under asyncio.timeout the owed cancel is settled by the timeout itself."""

    async def main() -> list[str]:
        ch: Chan[int] = Chan()
        events: list[str] = []

        async def consumer() -> None:
            async with asyncio.timeout(10):
                v = await ch.arecv()
                events.append(f"got {v}")
            await ch.asend(2)  # must not raise: no cancellation is owed
            events.append("sent")

        task = asyncio.create_task(consumer())
        await asyncio.sleep(0.01)
        ch.send_nowait(1)
        assert await ch.arecv() == 2
        await task
        return events

    assert asyncio.run(main()) == ["got 1", "sent"]


def test_dropped_parked_task_leaves_the_buffered_value() -> None:
    ch: Chan[int] = Chan(1)
    loop = asyncio.new_event_loop()
    coro = ch.arecv()
    task = loop.create_task(coro)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert ch.statistics().waiting_receivers == 1
    ch.send_nowait(5)  # notifies the parked task, whose loop never runs again
    task._log_destroy_pending = False  # type: ignore[attr-defined]
    loop.close()
    coro.close()
    del task, coro
    gc.collect()
    assert ch.statistics().waiting_receivers == 0
    assert ch.recv_nowait() == 5


class Interrupted(Exception):
    pass


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
def test_exception_from_a_signal_handler_leaves_the_value(slow_switching: None) -> None:
    """A thread waiting in recv is told about a value, then interrupted."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run in the main thread")

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted

    old = signal.signal(signal.SIGUSR1, handler)
    main = threading.get_ident()
    ch: Chan[int] = Chan(1)

    def notify_then_interrupt() -> None:
        wait_until(lambda: ch.statistics().waiting_receivers == 1)
        ch.send_nowait(9)  # NOTIFIED: the receiver would take it...
        signal.pthread_kill(main, signal.SIGUSR1)  # ...but is interrupted first

    try:
        t = threading.Thread(target=notify_then_interrupt)
        t.start()
        with pytest.raises(Interrupted):
            ch.recv(timeout=10)
        t.join(10)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert ch.statistics().waiting_receivers == 0
    assert ch.recv_nowait() == 9  # still there


def test_a_failing_wake_callable_is_called_again() -> None:
    """An exception in a task's wake-up (a signal handler's) must not lose it."""
    calls: list[str] = []
    reported: list[Any] = []

    def flaky_wake() -> None:
        calls.append("call")
        if len(calls) == 1:
            raise Interrupted

    old_hook = sys.unraisablehook
    sys.unraisablehook = reported.append
    try:
        ch: Chan[int] = Chan()
        waiter = fast.Waiter(flaky_wake)
        assert waiter.arm((recv(ch),))
        ch.send_nowait(3)  # hands over, calls the wake-up, which fails once
        result = waiter.disarm()
    finally:
        sys.unraisablehook = old_hook
    assert calls == ["call", "call"]
    assert [type(r.exc_value) for r in reported] == [Interrupted]
    assert (result.index, result.value, result.ok) == (0, 3, True)


@pytest.mark.trio
async def test_trio_cancel_racing_close_raises_cancelled_or_closed() -> None:
    """A trio task never ends an `async for` normally because of a cancel."""
    for _ in range(200):
        ch: Chan[int] = Chan()
        outcome: list[str] = []

        async def loop_over(ch: Chan[int] = ch, outcome: list[str] = outcome) -> None:
            try:
                async for _ in ch:
                    outcome.append("value")
            except trio.Cancelled:
                outcome.append("cancelled")
                raise
            outcome.append("closed")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(loop_over)
            await trio.testing.wait_all_tasks_blocked()
            ch.close()
            nursery.cancel_scope.cancel()
        assert outcome in (["closed"], ["cancelled"])
        with pytest.raises(Closed):
            ch.recv_nowait()


def test_a_settled_absorbed_cancel_does_not_fire_for_a_later_one() -> None:
    """asyncio.timeout settles what a hand-off absorbed; a later cancel is its own."""

    async def main() -> list[str]:
        ch: Chan[int] = Chan()
        out: Chan[str] = Chan(1)
        events: list[str] = []
        scopes: list[asyncio.Timeout] = []

        async def worker() -> None:
            async with asyncio.timeout(None) as scope:
                scopes.append(scope)
                events.append(f"got {await ch.arecv()}")  # absorbs the timeout's cancel
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await out.asend("bye")  # room in the buffer: must just work
                events.append("bye sent")
                raise

        task = asyncio.create_task(worker())
        await asyncio.sleep(0.01)
        # The deadline fires (queued first) as the value is handed over: the
        # worker resumes cancelled, with the value already taken.
        scopes[0].reschedule(asyncio.get_running_loop().time() - 1)
        ch.send_nowait(1)
        await asyncio.sleep(0.01)
        task.cancel()  # a later, unrelated cancellation
        with pytest.raises(asyncio.CancelledError):
            await task
        events.append(out.recv_nowait())
        return events

    assert asyncio.run(main()) == ["got 1", "bye sent", "bye"]
