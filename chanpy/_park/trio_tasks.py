"""The trio parker: a blocked trio task sleeps in trio's scheduler.

The task arms a waiter whose wake-up callable reschedules it: directly when
the counterpart runs in the same trio run (same thread), otherwise through
the run's token (``run_sync_soon``), once per wake-up. Cancellation asks the
core to withdraw the waiter (a notification it got is passed on); if a
counterpart already completed a case with it, the abort fails and the task
resumes with the result (trio keeps the cancellation pending for the next
checkpoint).
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable
from threading import get_ident
from typing import Any

import trio

from chanpy._ffi import fast

__all__ = ["wait_select"]

_WOULDBLOCK = fast.WOULDBLOCK
_select_try = fast.select_try
_Abort = trio.lowlevel.Abort
_current_task = trio.lowlevel.current_task
_reschedule = trio.lowlevel.reschedule
_wait_task_rescheduled = trio.lowlevel.wait_task_rescheduled


class _TaskParker:
    """One trio task's waiter, its wake-up, and which arming it waits on.

    Made once per task and kept in the task's context, so a task that
    parks again reuses it. ``arming`` counts the task's armings; a wake-up
    carries the arming it was claimed in and only reschedules the task if
    it is still parked on that one, so a late wake-up is ignored. All of it
    is read and written in the run's thread, except that a claimer in
    another thread reads ``arming`` while it holds the GIL right after the
    claim (the task cannot re-arm in between).
    """

    __slots__ = ("arming", "parked", "run_thread", "task", "token", "waiter")

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.token = trio.lowlevel.current_trio_token()
        self.run_thread = get_ident()
        self.arming = 0
        self.parked = False
        self.waiter = fast.Waiter(self.wake)

    # Both wake-up paths are KI-protected: trio defers Ctrl-C out of them, so
    # it cannot land between the reschedule and the flag and lose the wake-up.
    @trio.lowlevel.enable_ki_protection
    def resume(self, arming: int) -> None:
        # Runs in the run's thread.
        if self.parked and self.arming == arming:
            _reschedule(self.task)
            self.parked = False

    @trio.lowlevel.enable_ki_protection
    def wake(self) -> None:
        # Called by whoever claimed the waiter, in its thread, GIL held.
        arming = self.arming
        if get_ident() == self.run_thread:
            # A task of the same run, or the host loop of a guest run (trio
            # schedules a guest tick itself): no thread to cross. Trio's
            # reschedule raises RuntimeError when no run is active in this
            # thread any more; the token then says whether it is finished.
            if not self.parked:
                return
            try:
                _reschedule(self.task)
            except RuntimeError:
                pass
            else:
                self.parked = False
                return
        try:
            self.token.run_sync_soon(self.resume, arming)
        except trio.RunFinishedError:
            pass  # the run is over and the task with it

    def abort(self, raise_cancel: Any) -> _Abort:
        if self.waiter.abort():
            self.parked = False
            return _Abort.SUCCEEDED
        return _Abort.FAILED  # claimed: the wake-up will resume us


_parker: contextvars.ContextVar[_TaskParker] = contextvars.ContextVar("chanpy_trio_parker")


def _task_parker() -> _TaskParker:
    # A child task starts with a copy of its parent's context: check the owner.
    task = _current_task()
    parker = _parker.get(None)
    if parker is None or parker.task is not task or parker.waiter.armed:
        parker = _TaskParker(task)
        _parker.set(parker)
    return parker


def wait_select(cases: tuple[Any, ...], seconds: float) -> Awaitable[Any]:
    """Wait in the current trio task until one case completes; its ``Selected``.

    Returns the awaitable to await at once, in the same task. ``seconds < 0``
    waits without limit. Raises TimeoutError when time is up and nothing
    took effect, trio.Cancelled when cancelled before anything took effect;
    may raise Closed (a send case on a closed channel).
    """
    parker = _task_parker()
    if seconds < 0:
        return _wait(parker, cases)  # no coroutine layer, no cancel scope
    return _wait_until(parker, cases, seconds)


async def _wait_until(parker: _TaskParker, cases: tuple[Any, ...], seconds: float) -> Any:
    with trio.move_on_after(seconds):
        return await _wait(parker, cases)
    # Only our deadline's cancellation ends the wait without a result.
    raise TimeoutError(f"timed out after {seconds} s: no case was ready")


async def _wait(parker: _TaskParker, cases: tuple[Any, ...]) -> Any:
    waiter = parker.waiter
    while True:
        parker.arming += 1
        if waiter.arm(cases):
            parker.parked = True
            await _wait_task_rescheduled(parker.abort)
            parker.parked = False  # whatever resumed us, we are not parked
        done = waiter.disarm()  # after_wait, inlined: this is the hot path
        if done is _WOULDBLOCK:
            done = _select_try(cases)
            if done is _WOULDBLOCK:
                continue
        return done
