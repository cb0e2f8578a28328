"""Pipeline stages on a Group: map, filter, flat_map, merge, broadcast.

Every stage is a few workers of the group connected by channels, and its
output is a ``Chan`` closed once those workers are done, however they end.
Because they are group workers, an exception in any stage fails the group,
which cancels every other worker, so a broken pipeline stops instead of
hanging; and because every channel is bounded, a consumer that stops
reading stops the pipeline pulling from its source.

Each role (feeder, worker, emitter, forwarder) is written once as a
coroutine over an ``_IO``: as a task it awaits ``asend``/``arecv``; as a
thread it makes the blocking calls and never suspends, driven by
``_drive``. A stage's roles are threads in a thread group; in an async
group they are tasks, except that a plain (non-async) function runs in
thread workers so that it may block.

Stage workers are not counted against the group's ``limit``: they are the
pipeline's plumbing, and a limit smaller than the pipeline would deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from chanpy._channel import Chan
from chanpy._errors import Closed, WouldBlock
from chanpy._group import check_count, is_async_callable

if TYPE_CHECKING:
    from chanpy._group import Group

__all__ = ["Broadcast", "broadcast_stage", "map_stage", "merge_stage"]

_OVERFLOW = ("block", "drop_newest", "drop_oldest")
_SKIP = object()  # a filtered-out value, in the ordered emitter
END = object()  # what a source's next() returns once it is exhausted


class _IO:
    """Channel operations for a role running as a thread (blocking calls)."""

    is_task = False

    async def send(self, ch: Chan[Any], value: Any) -> None:
        ch.send(value)

    async def recv(self, ch: Chan[Any]) -> Any:
        return ch.recv()

    async def call(self, fn: Callable[[Any], Any], value: Any) -> Any:
        return fn(value)

    def source(self, src: Any) -> Callable[[], Coroutine[Any, Any, Any]]:
        """A ``next()`` coroutine over ``src``: each value, then ``END``.

        A Chan is received until closed and drained, an async iterable
        awaited, an iterable iterated. (Plain coroutines, not an async
        generator: nothing is left for a finalizer when a role is cancelled.)
        """
        if isinstance(src, Chan):
            recv = self.recv

            async def next_from_chan() -> Any:
                try:
                    return await recv(src)
                except Closed:
                    return END

            return next_from_chan
        if hasattr(src, "__aiter__"):
            anext_ = aiter(src).__anext__

            async def next_from_aiter() -> Any:
                try:
                    return await anext_()
                except StopAsyncIteration:
                    return END

            return next_from_aiter
        step = iter(src).__next__

        async def next_from_iter() -> Any:
            try:
                return step()
            except StopIteration:
                return END

        return next_from_iter


class _TaskIO(_IO):
    """The same operations for a role running as a trio or asyncio task."""

    is_task = True

    def __init__(self, fn_is_async: bool) -> None:
        self._fn_is_async = fn_is_async

    async def send(self, ch: Chan[Any], value: Any) -> None:
        await ch.asend(value)

    async def recv(self, ch: Chan[Any]) -> Any:
        return await ch.arecv()

    async def call(self, fn: Callable[[Any], Any], value: Any) -> Any:
        if self._fn_is_async:
            return await fn(value)
        return fn(value)


_THREAD_IO = _IO()


async def _close_source(io: _IO, src: Any) -> None:
    """Close an async generator source we stopped early (its finally runs now)."""
    if io.is_task and hasattr(src, "aclose") and hasattr(src, "__aiter__"):
        await src.aclose()


def _drive(role: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a thread role's coroutine: it blocks, it must never suspend."""
    coro = role()
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("a thread stage suspended: an async source needs `async with Group()`")


def _spawn(group: Group, io: _IO, role: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start ``role`` as a worker of ``group`` (no slot of its limit taken)."""
    if io.is_task:
        group._start_plumbing(True, (role, (), {}))
    else:
        group._start_plumbing(False, (_drive, (role,), {}))


class _Closer:
    """Closes ``chans`` when the last of ``n`` roles is done, however it ended."""

    def __init__(self, n: int, *chans: Chan[Any]) -> None:
        self._left = n
        self._lock = threading.Lock()
        self._chans = chans

    def done(self) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            for ch in self._chans:
                ch.close()


def _check_source(api: str, group: Group, src: object) -> None:
    if isinstance(src, Chan) or hasattr(src, "__iter__"):
        return
    if hasattr(src, "__aiter__"):
        if group._async_world is None:
            raise TypeError(
                f"{api}: src is an async iterable; a thread group cannot iterate it "
                "(use `async with Group()`, or pass a Chan or an iterable)"
            )
        return
    raise TypeError(
        f"{api}: src must be a Chan, an iterable or an async iterable, got {type(src).__name__}"
    )


def _check_fn(api: str, group: Group, name: str, fn: object) -> bool:
    if not callable(fn):
        raise TypeError(f"{api}: {name} must be a callable, got {fn!r}")
    is_async = is_async_callable(fn)
    if is_async and group._async_world is None:
        raise TypeError(
            f"{api}: {name} is an async function; a thread group runs plain functions "
            "(use `async with Group()` for async ones)"
        )
    return is_async


def _roles_io(group: Group, fn_is_async: bool | None = None) -> tuple[_IO, _IO]:
    """(plumbing io, worker io) for a stage of ``group``."""
    if group._async_world is None:
        return _THREAD_IO, _THREAD_IO
    plumbing = _TaskIO(False)
    if fn_is_async is False:
        return plumbing, _THREAD_IO  # a plain function may block: thread workers
    return plumbing, _TaskIO(True)


def map_stage(
    group: Group,
    kind: str,
    fn: Callable[[Any], Any],
    src: Any,
    workers: int,
    ordered: bool,
    buffer: int,
) -> Chan[Any]:
    """The stage behind ``g.map``, ``g.filter`` and ``g.flat_map``.

    ``workers`` workers apply ``fn`` to the values of ``src`` (a Chan,
    received until closed and drained; an iterable; or, in an async group,
    an async iterable). ``ordered=True`` emits in source order and takes a
    value from the source only while fewer than ``workers + buffer`` are
    taken and not yet emitted; ``ordered=False`` emits each result as it
    is ready, and holds at most ``workers`` values of a Chan source
    (``2 * workers + buffer + 1`` of an iterable, which a feeder hands over
    through a ``workers + buffer``-place channel). In both, the output is
    buffered by ``buffer``. ``flat_map``'s ``fn`` returns an iterable;
    ordered, each one is listed by its worker. A buffer is what makes thread
    pipelines fast: a small hand-off costs a thread wake-up per value.

    Never blocks. Raises ValueError for ``workers`` (an int >= 1) or
    ``buffer`` (an int >= 0), TypeError for ``fn``, ``ordered`` or ``src``,
    Cancelled on a cancelled group, RuntimeError outside the group's life;
    all before anything starts.
    """
    api = f"g.{kind}()"
    name = "pred" if kind == "filter" else "fn"
    fn_is_async = _check_fn(api, group, name, fn)
    check_count(api, "workers", workers, 1)
    check_count(api, "buffer", buffer, 0)
    if not isinstance(ordered, bool):
        raise TypeError(f"{api}: ordered must be True or False, got {ordered!r}")
    _check_source(api, group, src)
    group._check_can_start(api, fn)
    plumbing, work_io = _roles_io(group, fn_is_async)
    if ordered:
        return _ordered(group, kind, fn, src, workers, buffer, plumbing, work_io)
    return _unordered(group, kind, fn, src, workers, buffer, plumbing, work_io)


async def _emit(io: _IO, kind: str, out: Chan[Any], value: Any, result: Any) -> None:
    if kind == "map":
        await io.send(out, result)
    elif kind == "filter":
        if result:
            await io.send(out, value)
    else:
        for item in result:
            await io.send(out, item)


def _feeder(group: Group, io: _IO, src: Any, inbox: Chan[Any]) -> None:
    """Start the role that moves ``src`` into ``inbox`` (then closes it)."""

    async def feed() -> None:
        next_value = io.source(src)
        try:
            while (v := await next_value()) is not END:
                await io.send(inbox, v)
        finally:
            inbox.close()
            await _close_source(io, src)

    _spawn(group, io, feed)


def _unordered(
    group: Group,
    kind: str,
    fn: Callable[[Any], Any],
    src: Any,
    workers: int,
    buffer: int,
    plumbing: _IO,
    work_io: _IO,
) -> Chan[Any]:
    out: Chan[Any] = Chan(buffer)
    if isinstance(src, Chan):
        inbox = src
    else:
        inbox = Chan(workers + buffer)  # hand-offs that do not wake a thread per value
        _feeder(group, plumbing, src, inbox)
    closer = _Closer(workers, out)

    async def work() -> None:
        try:
            while True:
                try:
                    v = await work_io.recv(inbox)
                except Closed:
                    return
                await _emit(work_io, kind, out, v, await work_io.call(fn, v))
        finally:
            closer.done()

    for _ in range(workers):
        _spawn(group, work_io, work)
    return out


def _ordered(
    group: Group,
    kind: str,
    fn: Callable[[Any], Any],
    src: Any,
    workers: int,
    buffer: int,
    plumbing: _IO,
    work_io: _IO,
) -> Chan[Any]:
    # window: one token per value taken from src and not yet emitted into
    # out, so the stage holds at most workers + buffer (and out's buffer
    # holds up to `buffer` more).
    # A worker files its result under the value's index; whichever worker
    # files the next index due emits it and every due one after it, one
    # emitter at a time, so results leave in source order with no thread
    # of their own and no wake-up per value.
    out: Chan[Any] = Chan(buffer)
    window: Chan[None] = Chan(workers + buffer)
    inbox: Chan[tuple[int, Any]] = Chan(workers + buffer)
    workers_done = _Closer(workers, out)
    lock = threading.Lock()
    pending: dict[int, Any] = {}
    due = [0, False]  # [next index to emit, a worker is emitting]

    async def feed() -> None:
        next_value = plumbing.source(src)
        i = 0
        try:
            while True:
                await plumbing.send(window, None)  # a token before taking a value
                v = await next_value()
                if v is END:
                    return
                inbox.send_nowait((i, v))  # never full: the window bounds it
                i += 1
        finally:
            inbox.close()
            await _close_source(plumbing, src)

    async def emit_due() -> None:
        try:
            while True:
                with lock:
                    if due[0] not in pending:
                        due[1] = False
                        return
                    result = pending.pop(due[0])
                    due[0] += 1
                if kind == "flat_map":
                    for item in result:
                        await work_io.send(out, item)
                elif result is not _SKIP:
                    await work_io.send(out, result)
                window.recv_nowait()
        except BaseException:
            with lock:
                due[1] = False
            raise

    async def work() -> None:
        try:
            while True:
                try:
                    i, v = await work_io.recv(inbox)
                except Closed:
                    return
                result = await work_io.call(fn, v)
                if kind == "filter":
                    result = v if result else _SKIP
                elif kind == "flat_map":
                    result = list(result)
                with lock:
                    pending[i] = result
                    if due[1] or i != due[0]:
                        continue
                    due[1] = True
                await emit_due()
        finally:
            workers_done.done()

    _spawn(group, plumbing, feed)
    for _ in range(workers):
        _spawn(group, work_io, work)
    return out


def merge_stage(group: Group, srcs: tuple[Any, ...], buffer: int) -> Chan[Any]:
    """The stage behind ``g.merge``: one forwarder per source into one output.

    The output (buffered by ``buffer``) gets every value of every source,
    each source's values in their order, and closes once every source is
    exhausted. Never blocks. Raises ValueError for ``buffer`` or no
    sources, TypeError for a source that is not a Chan or an iterable.
    """
    check_count("g.merge()", "buffer", buffer, 0)
    if not srcs:
        raise ValueError("g.merge() needs at least one source")
    for src in srcs:
        _check_source("g.merge()", group, src)
    group._check_can_start("g.merge()", merge_stage)
    io, _ = _roles_io(group)
    out: Chan[Any] = Chan(buffer)
    closer = _Closer(len(srcs), out)

    def forwarder(src: Any) -> Callable[[], Coroutine[Any, Any, None]]:
        async def forward() -> None:
            next_value = io.source(src)
            try:
                while (v := await next_value()) is not END:
                    await io.send(out, v)
            finally:
                closer.done()
                await _close_source(io, src)

        return forward

    for src in srcs:
        _spawn(group, io, forwarder(src))
    return out


class Broadcast(tuple[Chan[Any], ...]):
    """The outputs of ``g.broadcast``: a tuple of channels, plus what each dropped."""

    _drops: list[int]

    @property
    def dropped(self) -> tuple[int, ...]:
        """How many values each output lost to overflow so far (all 0 with "block")."""
        return tuple(self._drops)


def broadcast_stage(group: Group, src: Any, n: int, buffer: int, overflow: str) -> Broadcast:
    """The stage behind ``g.broadcast``: ``n`` outputs that each get every value.

    ``overflow="block"``: a full output makes the distributor wait, so the
    slowest output paces the source. ``"drop_newest"``: a full output loses
    the value being sent; ``"drop_oldest"``: it loses its oldest buffered
    value to make room. Both need ``buffer >= 1``; drops are counted in
    the result's ``dropped``. Every output closes when the source is done.
    Never blocks. Raises ValueError for ``n``, ``buffer`` or ``overflow``,
    TypeError for ``src``.
    """
    check_count("g.broadcast()", "n", n, 1)
    check_count("g.broadcast()", "buffer", buffer, 0)
    if overflow not in _OVERFLOW:
        raise ValueError(
            f"g.broadcast(): overflow must be one of {', '.join(map(repr, _OVERFLOW))}, "
            f"got {overflow!r}"
        )
    if overflow != "block" and buffer < 1:
        raise ValueError(
            f"g.broadcast(): overflow={overflow!r} needs buffer >= 1 (a value to drop), "
            f"got buffer={buffer}"
        )
    _check_source("g.broadcast()", group, src)
    group._check_can_start("g.broadcast()", broadcast_stage)
    io, _ = _roles_io(group)
    outs = Broadcast(Chan(buffer) for _ in range(n))
    drops = [0] * n
    outs._drops = drops

    def put(i: int, out: Chan[Any], v: Any) -> None:
        while True:
            try:
                out.send_nowait(v)
                return
            except WouldBlock:
                pass
            if overflow == "drop_newest":
                drops[i] += 1
                return
            try:
                out.recv_nowait()
                drops[i] += 1
            except WouldBlock:
                pass  # a receiver emptied it meanwhile: try again

    async def distribute() -> None:
        next_value = io.source(src)
        try:
            while (v := await next_value()) is not END:
                for i, out in enumerate(outs):
                    if overflow == "block":
                        await io.send(out, v)
                    else:
                        put(i, out, v)
        finally:
            for out in outs:
                out.close()
            await _close_source(io, src)

    _spawn(group, io, distribute)
    return outs
