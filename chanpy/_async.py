"""The async operations: ``asend``, ``arecv`` and ``aselect`` for trio and asyncio.

Each call tries the operation at once (a C call, GIL held) and only parks
when it must wait, on the parker of the library running the calling task,
told apart at call time through sniffio. Under trio every call is a
checkpoint, as trio's own channels are: it raises Cancelled if the task is
already cancelled, and yields to the scheduler even when it completes at
once. Under asyncio a call that completes at once does not yield, as with
asyncio.Queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sniffio

from chanpy._errors import Closed
from chanpy._ffi import fast, lib

if TYPE_CHECKING:
    from chanpy._channel import Chan
    from chanpy._select import Case, Selected

__all__ = ["arecv", "aselect", "asend", "current_world"]

_OK = lib.CHP_OK
_CLOSED = lib.CHP_CLOSED
_WOULDBLOCK = fast.WOULDBLOCK
_CLOSED_DRAINED = fast.CLOSED
_timeout_seconds = fast.timeout_seconds
_thread_local = sniffio.thread_local
_library_cvar = sniffio.current_async_library_cvar


def current_world() -> str:
    """``"trio"`` or ``"asyncio"``: the library running the calling task.

    Raises RuntimeError outside of both.
    """
    name = _thread_local.name or _library_cvar.get()
    if name is None:
        try:
            name = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            name = None
    if name not in ("trio", "asyncio"):
        raise RuntimeError(
            "asend/arecv/aselect must be awaited in a trio or asyncio task "
            f"(found {name or 'no async library'}); from a thread use "
            "send/recv/select"
        )
    return name


async def _park(world: str, cases: tuple[Any, ...], seconds: float) -> Any:
    if world == "trio":
        from chanpy._park import trio_tasks

        return await trio_tasks.wait_select(cases, seconds)
    from chanpy._park import asyncio_tasks

    return await asyncio_tasks.wait_select(cases, seconds)


async def _trio_enter() -> None:
    import trio

    await trio.lowlevel.checkpoint_if_cancelled()


async def _trio_leave() -> None:
    import trio

    await trio.lowlevel.cancel_shielded_checkpoint()


async def asend(chan: Chan[Any], value: Any, timeout: float | None) -> None:
    seconds = _timeout_seconds(timeout)
    world = current_world()
    if world == "trio":
        await _trio_enter()
    r = chan._try_send(value)
    if r == _OK:
        if world == "trio":
            await _trio_leave()
        return
    if r == _CLOSED:
        raise Closed("send on a closed channel")
    if seconds == 0:
        raise TimeoutError("send timed out: the channel was not ready")
    await _park(world, (fast.send(chan, value),), seconds)


async def arecv(chan: Chan[Any], timeout: float | None) -> Any:
    seconds = _timeout_seconds(timeout)
    world = current_world()
    if world == "trio":
        await _trio_enter()
    v = chan._try_recv()
    if v is _CLOSED_DRAINED:
        raise Closed("receive on a closed, drained channel")
    if v is not _WOULDBLOCK:
        if world == "trio":
            await _trio_leave()
        return v
    if seconds == 0:
        raise TimeoutError("recv timed out: no value was available")
    done = await _park(world, (fast.recv(chan),), seconds)
    if not done.ok:
        raise Closed("receive on a closed, drained channel")
    return done.value


async def aselect(*cases: Case[Any], timeout: float | None = None) -> Selected:
    """Complete exactly one case from a trio or asyncio task; say which.

    The async form of ``select``: the same uniformly random choice among
    ready cases and the same results and errors, waiting without blocking
    the event loop. Raises TimeoutError once ``timeout`` seconds pass
    (``timeout=0`` polls), Closed for a send case on a closed channel,
    TypeError / ValueError for bad arguments (before touching any channel),
    and RuntimeError outside a trio or asyncio task. Cancellation either
    happens before any case took effect, or the call returns that case.
    """
    seconds = _timeout_seconds(timeout)
    world = current_world()
    if world == "trio":
        await _trio_enter()
    done = fast.select_try(cases)
    if done is not _WOULDBLOCK:
        if world == "trio":
            await _trio_leave()
        return done  # type: ignore[no-any-return]
    if seconds == 0:
        raise TimeoutError("select timed out: no case was ready")
    return await _park(world, cases, seconds)  # type: ignore[no-any-return]
