"""The asyncio parker: a blocked asyncio task awaits a future of its loop.

Each arming gets a fresh future. The waiter's wake-up callable resolves the
future of the arming it was claimed in: directly when the counterpart runs
on the same loop, otherwise through ``call_soon_threadsafe``, once per
wake-up. A late wake-up can only touch a future nobody awaits any more.

Cancellation: the task withdraws its waiter (``Waiter.abort``), and the
cancellation propagates, unless a counterpart already completed a case
with it: a value was handed over on an unbuffered channel, which cannot be
undone. The call then returns that result and the cancellation is owed:
the task's next chanpy call raises CancelledError if the task is still
being cancelled then (``task.cancelling()``). ``asyncio.timeout`` and
``wait_for`` see a body that finished normally and settle their own
cancellation, so nothing is owed after them.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from chanpy._ffi import fast
from chanpy._park import after_wait

__all__ = ["OwedCancel", "owed_cancel", "settle_owed_cancel", "wait_select"]


class OwedCancel:
    """A task's cancellation that a completed operation had to absorb.

    ``count`` is the task's ``cancelling()`` when it was absorbed. If that
    drops before the task's next chanpy call (``asyncio.timeout`` and
    ``uncancel()`` settle their own cancellation, usually in the same
    step), nothing is owed any more.
    """

    __slots__ = ("count", "settled", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.count = task.cancelling()
        self.settled = False

    def check(self) -> None:
        if self.task.cancelling() < self.count:
            self.settled = True


owed_cancel: contextvars.ContextVar[OwedCancel | None] = contextvars.ContextVar(
    "chanpy_owed_cancel", default=None
)


def _absorb_cancel(loop: asyncio.AbstractEventLoop) -> None:
    task = asyncio.current_task(loop)
    if task is None:
        return
    owed = OwedCancel(task)
    owed_cancel.set(owed)
    loop.call_soon(owed.check)  # after this step: did a timeout settle it?


def settle_owed_cancel(owed: OwedCancel) -> None:
    """Raise the cancellation a completed operation absorbed, if still due."""
    owed_cancel.set(None)
    owed.check()
    task = owed.task
    if not owed.settled and asyncio.current_task() is task and task.cancelling() >= owed.count:
        raise asyncio.CancelledError("cancelled while a channel operation completed")


_WOULDBLOCK = fast.WOULDBLOCK
_running_loop = asyncio._get_running_loop


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def wait_select(cases: tuple[Any, ...], seconds: float) -> Any:
    """Wait in the current asyncio task until one case completes; its ``Selected``.

    ``seconds < 0`` waits without limit. Raises TimeoutError when time is up
    and nothing took effect, CancelledError when cancelled before anything
    took effect; may raise Closed (a send case on a closed channel).
    """
    loop = asyncio.get_running_loop()
    current: list[asyncio.Future[None] | None] = [None]

    def wake() -> None:
        # Called by whoever claimed the waiter, in its thread, GIL held:
        # `current` still names the future of the arming that was claimed.
        fut = current[0]
        if fut is None:
            return
        if _running_loop() is loop:
            _resolve(fut)
            return
        try:
            loop.call_soon_threadsafe(_resolve, fut)
        except RuntimeError:
            pass  # the loop is closed and the task with it

    waiter = fast.Waiter(wake)
    deadline = None if seconds < 0 else loop.time() + seconds
    try:
        while True:
            fut = loop.create_future()
            current[0] = fut
            if waiter.arm(cases):
                timer = None if deadline is None else loop.call_at(deadline, _resolve, fut)
                try:
                    await fut
                except asyncio.CancelledError:
                    if waiter.abort():
                        raise  # nothing took effect
                    # A value moved and cannot go back: return it, owe the cancel.
                    _absorb_cancel(loop)
                    return waiter.disarm()
                finally:
                    if timer is not None:
                        timer.cancel()
            done = after_wait(waiter, cases)
            if done is not _WOULDBLOCK:
                return done
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"timed out after {seconds} s: no case was ready")
    finally:
        current[0] = None
