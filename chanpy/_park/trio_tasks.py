"""The trio parker: a blocked trio task sleeps in trio's scheduler.

The task arms a waiter whose wake-up callable reschedules it: directly when
the counterpart runs in the same trio run (same thread), otherwise through
the run's token (``run_sync_soon``), once per wake-up. Cancellation asks the
core to withdraw the waiter; if a counterpart claimed it first, the
operation already took effect, so the abort fails and the task resumes with
the result (trio keeps the cancellation pending for the next checkpoint).
"""

from __future__ import annotations

import contextlib
import threading
from threading import get_ident
from typing import Any

import trio

from chanpy._ffi import fast

__all__ = ["wait_select"]

_WOULDBLOCK = fast.WOULDBLOCK
_Abort = trio.lowlevel.Abort
_in_trio_run = trio.lowlevel.in_trio_run

# Entering a real cancel scope costs microseconds; without a timeout, a
# shared do-nothing context manager takes its place.
_NO_DEADLINE = contextlib.nullcontext()


class _Parking:
    """Which arming the task is parked on, so a late wake-up is ignored.

    ``arming`` counts the task's armings; a wake-up carries the arming it
    was claimed in and only reschedules the task if it is still parked on
    that one. Read and written in the run's thread only, except that the
    claimer reads ``arming`` while it holds the GIL right after the claim.
    """

    __slots__ = ("arming", "parked")

    def __init__(self) -> None:
        self.arming = 0
        self.parked = False


async def wait_select(cases: tuple[Any, ...], seconds: float) -> Any:
    """Wait in the current trio task until one case completes; its ``Selected``.

    ``seconds < 0`` waits without limit. Raises TimeoutError when time is up
    and nothing took effect, trio.Cancelled when cancelled before anything
    took effect; may raise Closed (a send case on a closed channel).
    """
    task = trio.lowlevel.current_task()
    token = trio.lowlevel.current_trio_token()
    run_thread = threading.get_ident()
    parking = _Parking()

    def resume(arming: int) -> None:
        # Runs in the run's thread.
        if parking.parked and parking.arming == arming:
            parking.parked = False
            trio.lowlevel.reschedule(task)

    def wake() -> None:
        # Called by whoever claimed the waiter, in its thread, GIL held.
        arming = parking.arming
        if get_ident() == run_thread and _in_trio_run():
            resume(arming)  # a task of the same run: no thread to cross
            return
        try:
            token.run_sync_soon(resume, arming)
        except trio.RunFinishedError:
            pass  # the run is over and the task with it

    waiter = fast.Waiter(wake)

    def abort(raise_cancel: Any) -> _Abort:
        if waiter.abort():
            parking.parked = False
            return _Abort.SUCCEEDED
        return _Abort.FAILED  # claimed: the wake-up will resume us

    scope = trio.move_on_after(seconds) if seconds >= 0 else _NO_DEADLINE
    with scope:
        while True:
            parking.arming += 1
            if waiter.arm(cases):
                parking.parked = True
                await trio.lowlevel.wait_task_rescheduled(abort)
            done = waiter.disarm()
            if done is not _WOULDBLOCK:
                return done
            done = fast.select_try(cases)
            if done is not _WOULDBLOCK:
                return done
    # Only our deadline's cancellation ends the loop without a result.
    raise TimeoutError(f"timed out after {seconds} s: no case was ready")
