"""``async with ctx``: tie a trio or asyncio task to a Context.

When the context is cancelled, from whichever thread, the task is
cancelled the way its library cancels tasks: a trio cancel scope around
the block, or ``Task.cancel()`` under asyncio (as ``asyncio.timeout``
does). Leaving the block turns that native cancellation, and only that
one, into ``chanpy.Cancelled``; any other cancellation passes through.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

from chanpy._async import current_world
from chanpy._context import Context
from chanpy._errors import Cancelled
from chanpy._scope import Scope, current_scope

__all__ = ["enter_task_scope"]


def enter_task_scope(context: Context) -> None:
    """Make ``context`` the calling task's current scope (see the module doc).

    Raises RuntimeError outside a trio or asyncio task.
    """
    task: _TrioScope | _AsyncioScope
    task = _TrioScope(context) if current_world() == "trio" else _AsyncioScope(context)
    scope = Scope(context, task)
    scope.token = current_scope.set(scope)
    task.start()


class _TrioScope:
    """A trio cancel scope that the context cancels."""

    def __init__(self, context: Context) -> None:
        self._trio: Any = sys.modules["trio"]
        self.context = context
        self._cancel_scope = self._trio.CancelScope()
        self._token = self._trio.lowlevel.current_trio_token()
        self._owner = self._trio.lowlevel.current_task()

    def owned_by_current(self) -> bool:
        """Is the calling task the one this scope cancels (not a child that
        inherited the contextvar)?"""
        try:
            return bool(self._trio.lowlevel.current_task() is self._owner)
        except RuntimeError:
            return False

    def start(self) -> None:
        self._cancel_scope.__enter__()
        if not self.context._on_cancel(id(self), self._cancel_from_anywhere):
            self._cancel_scope.cancel()

    def deliver(self) -> None:
        """Cancel now; called from the task itself."""
        self._cancel_scope.cancel()

    def _cancel_from_anywhere(self) -> None:
        try:
            here = self._trio.lowlevel.current_trio_token()
        except RuntimeError:
            here = None
        if here is self._token:
            self._cancel_scope.cancel()
            return
        try:
            self._token.run_sync_soon(self._cancel_scope.cancel)
        except self._trio.RunFinishedError:
            pass  # the run is over: nothing left to cancel

    async def exit(self, exc: BaseException | None) -> None:
        self.context._off_cancel(id(self))
        tb = None if exc is None else exc.__traceback__
        absorbed = self._cancel_scope.__exit__(type(exc) if exc else None, exc, tb)
        if absorbed and exc is not None:
            # trio absorbed the Cancelled this scope caused (it also says
            # True when there was nothing to absorb).
            raise Cancelled(self.context, self.context.cause)


_ENTERED, _CANCELLING, _EXITED = range(3)


class _AsyncioScope:
    """``Task.cancel()`` when the context is cancelled, undone on exit."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("`async with ctx` must run inside an asyncio task")
        self._task = task
        self._thread = threading.get_ident()
        self._cancelling = task.cancelling()
        self._state = _ENTERED

    def owned_by_current(self) -> bool:
        """Is the calling task the one this scope cancels?"""
        try:
            return asyncio.current_task() is self._task
        except RuntimeError:
            return False

    def start(self) -> None:
        if not self.context._on_cancel(id(self), self._cancel_from_anywhere):
            self.deliver()

    def deliver(self) -> bool:
        """Cancel the task; runs in the loop's thread. True if this call did."""
        if self._state != _ENTERED:
            return False
        self._state = _CANCELLING
        self._task.cancel("its chanpy Context was cancelled")
        return True

    def _deliver_later(self) -> None:
        self.deliver()

    def _cancel_from_anywhere(self) -> None:
        if threading.get_ident() == self._thread:
            self.deliver()
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver_later)
        except RuntimeError:
            pass  # the loop is closed: nothing left to cancel

    async def exit(self, exc: BaseException | None) -> None:
        self.context._off_cancel(id(self))
        state, self._state = self._state, _EXITED
        if state != _CANCELLING:
            return
        others = self._task.uncancel() > self._cancelling  # someone else cancels too
        if isinstance(exc, asyncio.CancelledError):
            if others:
                return  # theirs: let it propagate
            raise Cancelled(self.context, self.context.cause) from None
        if not others:
            # Requested but not delivered (the block ended first): on 3.11
            # the request would still hit the next await, so take it here.
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                if self._task.cancelling() > self._cancelling:
                    raise
