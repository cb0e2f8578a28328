"""The thread parker: a blocked thread sleeps in C (futex) with the GIL released."""

from __future__ import annotations

import asyncio
import threading
from time import monotonic
from typing import Any

import sniffio

from chanpy._errors import Cancelled
from chanpy._ffi import fast, ffi, lib
from chanpy._scope import current_scope as _current_scope

__all__ = ["wait_select"]

_WOULDBLOCK = fast.WOULDBLOCK
_sniffio_local = sniffio.thread_local
_running_loop = asyncio._get_running_loop
_FOREVER = 1e9  # seconds
_WAITING = fast.W_WAITING
_park = lib.chp_waiter_park


class _ThreadState(threading.local):
    """One reusable waiter per thread (a nested wait gets a fresh one)."""

    def __init__(self) -> None:
        self.waiter = fast.Waiter()
        self.ptr = ffi.cast("chp_waiter_t *", self.waiter.address)


_state = _ThreadState()


_ASYNC_FORM = {
    "send": "await chan.asend(value)",
    "recv": "await chan.arecv()",
    "select": "await chanpy.aselect(...)",
}


def _refuse_in_event_loop(api: str) -> None:
    """Waiting here would freeze the event loop running in this thread.

    Both checks are cheap (this runs between waking a peer and sleeping):
    trio marks its thread in sniffio for the whole run, and asyncio's
    running-loop lookup is a C call.
    """
    world = None
    if _sniffio_local.name == "trio":
        world = "trio"
    elif _running_loop() is not None:
        world = "asyncio"
    if world is not None:
        raise RuntimeError(
            f"a blocking channel operation would wait inside a running {world} "
            f"event loop and freeze it; use {_ASYNC_FORM[api]} instead"
        )


def wait_select(cases: tuple[Any, ...], timeout: float | None, api: str = "select") -> Any:
    """Block this thread until one case completes; return its ``Selected``.

    The caller (the public call ``api``: send, recv or select) has polled
    the cases once, unless it found the current Context scope cancelled:
    then this raises Cancelled before any case is tried. Inside a scope the
    wait includes the scope's ``done`` channel as one more case, so a
    cancel wakes it and it raises Cancelled having taken nothing. Raises
    TimeoutError when ``timeout`` seconds pass first; may raise Closed
    (send on closed); RuntimeError inside a running event loop.
    """
    scope = _current_scope.get()
    if scope is not None:
        context = scope.context
        if context._cancelled:
            raise Cancelled(context, context._cause)
        done = fast.select_try(cases)
        if done is not _WOULDBLOCK:
            return done
        if timeout == 0:
            raise TimeoutError(f"{api} timed out: no case was ready")
        n = len(cases)
        done = _wait((*cases, fast.recv(context._done)), timeout, api)
        if done.index == n:
            raise Cancelled(context, context._cause)
        return done
    return _wait(cases, timeout, api)


def _wait(cases: tuple[Any, ...], timeout: float | None, api: str) -> Any:
    _refuse_in_event_loop(api)
    # Beyond ~31 years a deadline means nothing (and would overflow ns).
    deadline = None if timeout is None or timeout > _FOREVER else monotonic() + timeout
    state = _state
    waiter, ptr = state.waiter, state.ptr
    if waiter.armed:
        # Re-entered (a signal handler blocking while this thread waits).
        waiter = fast.Waiter()
        ptr = ffi.cast("chp_waiter_t *", waiter.address)
    while True:
        try:
            if waiter.arm(cases):
                while True:
                    if deadline is None:
                        ns = -1
                    else:
                        left = deadline - monotonic()
                        if left <= 0:
                            break
                        ns = int(left * 1e9) + 1
                    if _park(ptr, ns) != _WAITING:
                        break
        except BaseException:
            # Interrupted while armed (an exception from a signal handler,
            # KeyboardInterrupt). Leave without taking anything more; a
            # notification we got is passed on. Only if a counterpart had
            # already handed a value over (unbuffered) is it lost with the
            # interruption, as a value queue.Queue.get had taken would be.
            if not waiter.abort():
                waiter.disarm()
            raise
        done = waiter.disarm()
        if done is not _WOULDBLOCK:
            return done
        if deadline is not None and monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s: no case was ready")
        done = fast.select_try(cases)
        if done is not _WOULDBLOCK:
            return done
