"""The async operations: ``asend``, ``arecv`` and ``aselect`` for trio and asyncio.

Each call tries the operation at once (a C call, GIL held) and only parks
when it must wait, on the parker of the library running the calling task,
told apart at call time by sniffio's rules. A call made outside both
libraries raises RuntimeError when it would have to wait. Under trio every call is a
checkpoint, as trio's own channels are: it raises Cancelled if the task is
already cancelled, and yields to the scheduler even when it completes at
once. Under asyncio a call that completes at once does not yield, as with
asyncio.Queue.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import sniffio

from chanpy._errors import Cancelled, Closed
from chanpy._ffi import fast, lib
from chanpy._park import asyncio_tasks
from chanpy._scope import Scope, current_scope

if TYPE_CHECKING:
    from chanpy._channel import Chan
    from chanpy._context import Context
    from chanpy._select import Case, Selected

__all__ = ["arecv", "aselect", "asend", "current_world"]

_OK = lib.CHP_OK
_CLOSED = lib.CHP_CLOSED
_WOULDBLOCK = fast.WOULDBLOCK
_CLOSED_DRAINED = fast.CLOSED
_timeout_seconds = fast.timeout_seconds
_thread_local = sniffio.thread_local
_library_cvar = sniffio.current_async_library_cvar
_running_asyncio_loop = asyncio._get_running_loop
_owed_cancel = asyncio_tasks.owed_cancel
_current_scope = current_scope


def _seconds(timeout: float) -> float:
    """A checked timeout in seconds; -1.0 (no limit) beyond ~31 years."""
    seconds: float = _timeout_seconds(timeout)
    return -1.0 if seconds > 1e9 else seconds


def current_world() -> str:
    """``"trio"`` or ``"asyncio"``: the library running the calling task.

    sniffio's rules, with its slow general fallback replaced by one check
    for a running asyncio loop (what sniffio's fallback finds too). Raises
    RuntimeError outside of both.
    """
    name = _thread_local.name or _library_cvar.get()
    if name is None and _running_asyncio_loop() is not None:
        return "asyncio"
    if name not in ("trio", "asyncio"):
        raise RuntimeError(
            "asend/arecv/aselect must be awaited in a trio or asyncio task "
            f"(found {name or 'no async library'}); from a thread use "
            "send/recv/select"
        )
    return name


_trio_parker: Any = None  # chanpy._park.trio_tasks, imported by the first trio wait


def _parker(trio_ll: Any) -> Any:
    """The parker module for the calling task (``wait_select(cases, seconds)``)."""
    global _trio_parker
    if trio_ll is None and current_world() != "trio":
        return asyncio_tasks
    if _trio_parker is None:
        from chanpy._park import trio_tasks  # here: trio may not be installed

        _trio_parker = trio_tasks
    return _trio_parker


_trio_lowlevel: Any = None  # trio.lowlevel, looked up by the first trio call


def _begin_call() -> Any:
    """Start an async call: ``trio.lowlevel`` if the task runs under trio, else None.

    Only trio's own marks are read here (cheap); telling asyncio from "no
    library at all" waits until a call has to park. Also delivers the
    cancellation of a Context scope that is already cancelled and, outside
    trio, an asyncio cancellation that an earlier completed operation
    absorbed (only an asyncio task ever owes one, so a trio call skips it).
    """
    global _trio_lowlevel
    trio = (_thread_local.name or _library_cvar.get()) == "trio"
    if not trio:
        owed = _owed_cancel.get()
        if owed is not None:
            asyncio_tasks.settle_owed_cancel(owed)
    scope = _current_scope.get()
    if scope is not None and scope.context._cancelled:
        return _cancelled_scope(scope)
    if not trio:
        return None
    if _trio_lowlevel is None:
        _trio_lowlevel = sys.modules["trio"].lowlevel
    return _trio_lowlevel


class _DeliverCancel:
    """Stands in for ``trio.lowlevel`` when the calling task's own scope is
    already cancelled (cancellation wins over readiness): its checkpoint
    raises the task's native cancellation, which the scope turns into
    Cancelled as it leaves."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    async def checkpoint_if_cancelled(self) -> None:
        if (_thread_local.name or _library_cvar.get()) == "trio":
            await sys.modules["trio"].lowlevel.checkpoint_if_cancelled()
            context = self._scope.context  # shielded: cancelled all the same
            raise Cancelled(context, context._cause)
        # A request not yet delivered (just made, or made by the scope's
        # callback and still pending) raises here; one delivered before and
        # caught (e.g. in a finally) will not come again, so raise anew.
        await asyncio.sleep(0)
        raise asyncio.CancelledError("its chanpy Context was cancelled")


def _cancelled_scope(scope: Scope) -> Any:
    """A cancelled scope: raise Cancelled, or cancel the owning task now."""
    task = scope.task
    if task is None or not task.owned_by_current():
        # A thread scope, or a task that inherited its parent's scope.
        raise Cancelled(scope.context, scope.context._cause)
    task.deliver()
    return _DeliverCancel(scope)


def _park(trio_ll: Any, cases: tuple[Any, ...], seconds: float) -> Awaitable[Any]:
    """Wait on the calling task's parker: an awaitable of the ``Selected``.

    Most often that is the parker's own coroutine, awaited by the caller
    directly (one coroutine layer fewer on every resume). A task inside a
    scope it does not own (it inherited it, or the scope is a thread's)
    also waits on the scope's done channel, and raises Cancelled when that
    fires.
    """
    parker = _parker(trio_ll)
    scope = _current_scope.get()
    if scope is None or (scope.task is not None and scope.task.owned_by_current()):
        return parker.wait_select(cases, seconds)  # type: ignore[no-any-return]
    return _park_in_scope(parker, scope.context, cases, seconds)


async def _park_in_scope(
    parker: Any, context: Context, cases: tuple[Any, ...], seconds: float
) -> Any:
    done = await parker.wait_select((*cases, fast.recv(context._done)), seconds)
    if done.index == len(cases):
        raise Cancelled(context, context._cause)
    return done


# Chan.asend, Chan.arecv and Chan.__anext__ are these functions, bound as
# methods (one coroutine per call, not two).


async def asend(chan: Chan[Any], value: Any, timeout: float | None = None) -> None:
    """Send from a trio or asyncio task, waiting without blocking the loop.

    Raises Closed if the channel is closed, TimeoutError once ``timeout``
    seconds pass (``timeout=0`` polls), ValueError / TypeError for a bad
    timeout, RuntimeError if it has to wait outside a trio or asyncio task.
    If the task is cancelled, either the value was not sent at all, or it
    was and the call returns normally. Under trio this is always a
    checkpoint; under asyncio it yields only when it waits.
    """
    seconds = -1.0 if timeout is None else _seconds(timeout)
    trio_ll = _begin_call()
    if trio_ll is not None:
        await trio_ll.checkpoint_if_cancelled()
    r = chan._try_send(value)
    if r == _OK:
        if trio_ll is not None:
            await trio_ll.cancel_shielded_checkpoint()
        return
    if r == _CLOSED:
        raise Closed("send on a closed channel")
    if seconds == 0:
        raise TimeoutError("send timed out: the channel was not ready")
    await _park(trio_ll, (fast.send(chan, value),), seconds)


async def arecv(chan: Chan[Any], timeout: float | None = None) -> Any:
    """Receive from a trio or asyncio task, waiting without blocking the loop.

    Raises Closed once the channel is closed and drained, TimeoutError once
    ``timeout`` seconds pass (``timeout=0`` polls), ValueError / TypeError
    for a bad timeout, RuntimeError if it has to wait outside a trio or
    asyncio task. If the task is cancelled, either no value was taken, or
    one was and it is returned. Under trio this is always a checkpoint;
    under asyncio it yields only when it waits.
    """
    seconds = -1.0 if timeout is None else _seconds(timeout)
    trio_ll = _begin_call()
    if trio_ll is not None:
        await trio_ll.checkpoint_if_cancelled()
    v = chan._try_recv()
    if v is _CLOSED_DRAINED:
        raise Closed("receive on a closed, drained channel")
    if v is not _WOULDBLOCK:
        if trio_ll is not None:
            await trio_ll.cancel_shielded_checkpoint()
        return v
    if seconds == 0:
        raise TimeoutError("recv timed out: no value was available")
    done = await _park(trio_ll, (fast.recv(chan),), seconds)
    if not done.ok:
        raise Closed("receive on a closed, drained channel")
    return done.value


async def arecv_many(chan: Chan[Any], max_items: int, timeout: float | None = None) -> list[Any]:
    """Receive a batch from a trio or asyncio task: wait (without blocking the
    loop) for one value, then take up to ``max_items - 1`` more that are ready.

    One checkpoint per batch under trio, as ``arecv``. Raises as
    ``Chan.recv_many`` does. If the task is cancelled while waiting for the
    first value, either nothing was taken, or it was and the batch is returned.
    """
    from chanpy._channel import _check_max_items, _take_ready

    limit = _check_max_items("arecv_many", max_items)
    values = [await arecv(chan, timeout)]
    _take_ready(chan, values, limit)
    return values


async def anext_value(chan: Chan[Any]) -> Any:
    """``async for``'s step: the next value; StopAsyncIteration once drained."""
    try:
        return await arecv(chan)
    except Closed:
        raise StopAsyncIteration from None


async def aselect(*cases: Case[Any], timeout: float | None = None) -> Selected:
    """Complete exactly one case from a trio or asyncio task; say which.

    The async form of ``select``: the same uniformly random choice among
    ready cases and the same results and errors, waiting without blocking
    the event loop. Raises TimeoutError once ``timeout`` seconds pass
    (``timeout=0`` polls), Closed for a send case on a closed channel,
    TypeError / ValueError for bad arguments (before touching any channel),
    and RuntimeError if it has to wait outside a trio or asyncio task.
    Cancellation either happens before any case took effect, or the call
    returns that case.
    """
    seconds = -1.0 if timeout is None else _seconds(timeout)
    trio_ll = _begin_call()
    if trio_ll is not None:
        await trio_ll.checkpoint_if_cancelled()
    done = fast.select_try(cases)
    if done is not _WOULDBLOCK:
        if trio_ll is not None:
            await trio_ll.cancel_shielded_checkpoint()
        return done  # type: ignore[no-any-return]
    if seconds == 0:
        raise TimeoutError("select timed out: no case was ready")
    return await _park(trio_ll, cases, seconds)  # type: ignore[no-any-return]
