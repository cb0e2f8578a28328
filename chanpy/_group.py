"""``Group``: errgroup, nursery and worker pool in one, for threads and tasks.

A group owns its workers: it is a ``with`` (thread workers) or an ``async
with`` block (under trio or asyncio: tasks for async functions, thread
workers for plain ones), and its exit waits for every worker it started.
Every worker, and the block's body, runs inside ``g.context``'s scope, so
the first failure, which cancels ``g.context``, reaches all of them.

Thread workers are pooled: a worker thread that finished its job takes the
next one from the group's job channel, so a group of 100 000 short jobs
starts at most ``limit`` threads (or, without a limit, as many as were busy
at once). ``limit`` is a buffered channel of ``limit`` tokens: a running
worker (task, or thread running a job) holds one, so at most ``limit`` run
at once, threads and tasks together. Thread jobs wait for a runner in a
bounded start queue, so that a fast producer pays no thread wake-up per
job; ``go`` blocks when that queue is full.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from types import FunctionType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from chanpy._async import current_world
from chanpy._channel import Chan
from chanpy._context import Context, _leave, current_context
from chanpy._errors import Cancelled, WouldBlock
from chanpy._scope import Scope, current_scope
from chanpy._select import recv, select, send

if TYPE_CHECKING:
    from chanpy._stages import Broadcast

__all__ = ["Group"]

T = TypeVar("T")

_NEW, _OPEN, _EXITING, _EXITED = range(4)
# Pooled threads: a runner of a limited group's jobs (holds a slot per job),
# a pooled thread of an unlimited group, a stage role of a limited group.
_RUNNER, _POOLED, _ONCE = range(3)

# With a limit, how many thread jobs may wait to start. A bounded queue keeps
# backpressure; a deep one lets a fast producer run ahead instead of paying a
# thread wake-up per job (measured: 16 places cost ~2.5x, 128 ~1.3x the time
# per trivial job of 1024 places).
START_QUEUE = 256

_CO_COROUTINE = inspect.CO_COROUTINE
_Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def check_count(api: str, name: str, value: object, minimum: int) -> int:
    """``value`` if it is an int >= ``minimum``; else a ValueError naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{api}: {name} must be an int >= {minimum}, got {value!r}")
    return value


def is_async_callable(fn: object) -> bool:
    """True for an async function (also behind functools.partial or ``__call__``)."""
    if type(fn) is FunctionType:  # the common case, cheaply
        return bool(fn.__code__.co_flags & _CO_COROUTINE)
    while hasattr(fn, "func") and not inspect.isfunction(fn):  # functools.partial
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isroutine(fn) or isinstance(fn, type):
        return False
    # An instance whose class defines an async __call__.
    return inspect.iscoroutinefunction(type(fn).__call__)


class Group:
    """A set of workers that live and fail together (see the module doc).

    ``with Group(limit=None) as g`` starts thread workers; ``async with
    Group() as g`` under trio or asyncio also starts tasks. ``limit`` (an int
    >= 1, or None for no limit) bounds how many workers run at once; else
    ValueError, raised before anything starts.

    The first exception raised by a worker or by the body cancels
    ``g.context`` (with that exception as the cause). The exit waits for
    every worker, then raises an ExceptionGroup (BaseExceptionGroup if one
    is not an Exception) of every exception in the order raised, leaving out
    the Cancelled that the group's own cancellation caused; but a
    KeyboardInterrupt or SystemExit (the first one raised) propagates as
    itself, as from asyncio.TaskGroup, with a note naming the other errors,
    so that Ctrl-C and ``sys.exit`` still end the program. A cancellation
    from outside (a cancelled enclosing Context, or a trio/asyncio
    cancellation of the task) is passed on to the workers and then
    propagates out unchanged. The exit may block (``async with``: waits
    without blocking the loop).
    """

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None:
            check_count("Group()", "limit", limit, 1)
        self._limit = limit
        self._lock = threading.Lock()
        self._state = _NEW
        self._async_world: str | None = None
        self._context: Context | None = None
        self._errors: list[BaseException] = []
        self._own_cancel = False
        self._active = 0
        self._finished: Chan[None] = Chan()
        # A token per job in flight (None: no limit).
        self._slots: Chan[None] | None = None if limit is None else Chan(limit)
        # Thread jobs for the pooled threads. With a limit: the start queue
        # (bounded: go() waits when it is full). Without: a job goes there
        # only if it reserved an idle thread (`_idle`), else it gets a new
        # thread, so every job starts at once either way.
        self._jobs: Chan[_Job] = Chan(START_QUEUE)
        self._threads: list[threading.Thread] = []
        self._runners = 0  # with a limit: the threads that run go()'s jobs
        self._idle = 0  # without: pooled threads waiting for a job, not yet promised one
        self._nursery: Any = None
        self._nursery_cm: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- public state -----------------------------------------------------

    @property
    def context(self) -> Context:
        """The group's context: a child of the context current at entry.

        Cancelled by the first failure or by ``cancel()``. Raises
        RuntimeError before the group is entered.
        """
        if self._context is None:
            raise RuntimeError("a Group has a context once entered (`with Group() as g`)")
        return self._context

    @property
    def limit(self) -> int | None:
        """How many workers may run at once (None: no limit)."""
        return self._limit

    def cancel(self, cause: BaseException | None = None) -> bool:
        """Cancel the group's context (idempotent); True if this call cancelled it.

        Every worker's chanpy blocking call then raises Cancelled, and the
        Cancelled this causes is left out of the exit's ExceptionGroup.
        Never blocks; safe from any thread or task.
        """
        cancelled = self.context.cancel(cause)
        if cancelled:
            self._own_cancel = True
        return cancelled

    # -- entering and leaving ---------------------------------------------

    def _open(self, world: str | None) -> Context:
        if self._state != _NEW:
            raise RuntimeError("a Group can be entered only once; make a new one")
        self._state = _OPEN
        self._async_world = world
        self._context = Context(current_context())
        return self._context

    def __enter__(self) -> Group:
        """Open the group for thread workers; the body runs in ``g.context``'s scope."""
        context = self._open(None)
        context.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        _leave(self.context)
        if exc is not None:
            self._body_failed(exc)
        interrupted: BaseException | None = None
        token = current_scope.set(None)  # the wait must outlive any cancel
        try:
            while True:
                try:
                    self._finish_wait_thread()
                    break
                except BaseException as e:  # KeyboardInterrupt: stop the workers, still wait
                    interrupted = interrupted or e
                    self.cancel(e)
        finally:
            current_scope.reset(token)
        self._stop_threads()
        if interrupted is not None:
            raise interrupted
        return self._outcome(exc)

    async def __aenter__(self) -> Group:
        """Open the group under trio or asyncio; never waits.

        Raises RuntimeError outside a trio or asyncio task.
        """
        world = current_world()
        if world == "trio":
            trio = sys.modules["trio"]
            self._nursery_cm = trio.open_nursery()
            self._nursery = await self._nursery_cm.__aenter__()
        else:
            self._loop = asyncio.get_running_loop()
        context = self._open(world)
        await context.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        body = exc
        try:
            await self.context.__aexit__(exc_type, exc, tb)
        except Cancelled as converted:
            body = converted  # the native cancellation g.context caused, converted
        if body is not None:
            self._body_failed(body)
        token = current_scope.set(None)
        try:
            native = await self._finish_wait_async()
        finally:
            current_scope.reset(token)
        if self._nursery_cm is not None:
            await self._nursery_cm.__aexit__(None, None, None)
        self._stop_threads()
        if native is not None and body is None:
            self._raise_errors()
            raise native
        swallow = self._outcome(body)
        if body is exc:
            return swallow
        if swallow:
            return True
        assert body is not None
        raise body

    def _body_failed(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled) and self._is_own_cancel(exc):
            return
        if self._is_native_cancel(exc) or (
            isinstance(exc, Cancelled) and self._is_lineage(exc.context)
        ):
            # From outside: pass it on to the workers, then let it propagate.
            self._context_cancel(None)
            return
        self._fail(exc)  # a real error (a Cancelled of an inner context too)

    def _is_lineage(self, context: Context) -> bool:
        """Is ``context`` the group's context or one of its ancestors?"""
        node: Context | None = self.context
        while node is not None:
            if node is context:
                return True
            node = node.parent
        return False

    def _is_native_cancel(self, exc: BaseException) -> bool:
        if isinstance(exc, asyncio.CancelledError):
            return True
        trio = sys.modules.get("trio")
        return trio is not None and isinstance(exc, trio.Cancelled)

    def _finish_wait_thread(self) -> None:
        self._begin_exit()
        for _ in self._finished:  # never sent on: ends once closed
            pass
        self._state = _EXITED

    async def _finish_wait_async(self) -> BaseException | None:
        """Wait for every worker; a native cancellation meanwhile cancels the
        workers and is returned (to re-raise) once they are done."""
        self._begin_exit()
        native: BaseException | None = None
        while True:
            try:
                if self._async_world == "trio" and native is not None:
                    with sys.modules["trio"].CancelScope(shield=True):
                        async for _ in self._finished:
                            pass
                else:
                    async for _ in self._finished:
                        pass
                break
            except Cancelled:
                raise AssertionError("the exit's wait runs outside every scope") from None
            except BaseException as e:
                if self._is_native_cancel(e):
                    # Pass it on to the workers, keep waiting (as often as
                    # it comes), and re-raise the first once they are done.
                    native = native or e
                    self._context_cancel(None)
                    continue
                raise
        self._state = _EXITED
        return native

    def _begin_exit(self) -> None:
        with self._lock:
            self._state = _EXITING
            if self._active == 0:
                self._finished.close()

    def _raise_errors(self) -> None:
        errors = [e for e in self._errors if not self._is_own_cancel(e)]
        if not errors:
            return
        for e in errors:
            if isinstance(e, KeyboardInterrupt | SystemExit):
                others = [repr(o) for o in errors if o is not e]
                if others:
                    e.add_note("the chanpy Group also had: " + "; ".join(others))
                raise e
        raise BaseExceptionGroup(f"{len(errors)} error(s) in a chanpy Group", errors)

    def _outcome(self, body_exc: BaseException | None) -> bool:
        """Raise what the exit must raise; else True to swallow ``body_exc``
        (the group's own Cancelled), False to let it propagate."""
        self._raise_errors()
        context = self.context
        parent = context.parent
        outer = (
            context.cancelled and not self._own_cancel and parent is not None and parent.cancelled
        )
        if outer:
            if body_exc is None:
                assert parent is not None
                raise Cancelled(parent, parent.cause)
            return False
        return isinstance(body_exc, Cancelled) and self._is_own_cancel(body_exc)

    def _is_own_cancel(self, exc: BaseException) -> bool:
        """Is ``exc`` a Cancelled that this group's context (or its cancel) caused?"""
        if not isinstance(exc, Cancelled):
            return False
        context = self.context
        if not context.cancelled or exc.cause is not context.cause:
            return False
        node: Context | None = exc.context
        while node is not None:
            if node is context:
                return True
            node = node.parent
        return False

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)
            first = len(self._errors) == 1
        if first:
            self._context_cancel(exc)

    def _context_cancel(self, cause: BaseException | None) -> None:
        if self._context is not None and self._context.cancel(cause) and cause is not None:
            self._own_cancel = True

    # -- starting workers ---------------------------------------------------

    def _check_can_start(self, api: str, fn: object) -> bool:
        """Validate a start; True if ``fn`` is async (a task)."""
        if not callable(fn):
            raise TypeError(f"{api} takes a callable, got {fn!r}")
        if self._state == _NEW:
            raise RuntimeError(f"{api}: enter the group first (`with Group() as g`)")
        if self._state == _EXITED:
            raise RuntimeError(f"{api}: this group has exited; start workers in a new Group")
        is_async = is_async_callable(fn)
        if is_async and self._async_world is None:
            raise TypeError(
                f"{api}: {fn!r} is an async function, and this group's workers are "
                "threads; use `async with Group()` to run it as a task"
            )
        context = self.context
        if context.cancelled:
            raise Cancelled(context, context.cause)
        return is_async

    def go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Start ``fn(*args, **kwargs)`` as a worker of this group.

        In a thread group, and for a plain function in an async group, the
        worker runs on one of the group's pooled threads; an async function
        in an async group is a task of the group's loop. With a ``limit``,
        at most ``limit`` workers run at once: a task waits for a free slot,
        and a thread job for a place in the group's bounded start queue
        (``START_QUEUE`` jobs waiting for one of the ``limit`` threads).
        ``go`` blocks for that in a thread group; in an async group it never
        blocks the loop and raises RuntimeError instead (use ``await g.ago``).

        Raises Cancelled (starting nothing) if the group is cancelled, also
        while waiting; TypeError for an async function in a thread group or
        a non-callable; RuntimeError before entry or after the exit.
        """
        is_async = self._check_can_start("go()", fn)
        if not self._start(is_async, (fn, args, kwargs)):
            if self._async_world is not None:
                raise RuntimeError(
                    f"go() would block the event loop waiting for a free slot "
                    f"(limit={self._limit}); use `await g.ago(...)`"
                )
            self._start_waiting(is_async, (fn, args, kwargs))

    def try_go(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Start a worker like ``go`` if that needs no wait; False instead of waiting.

        Never blocks. Raises like ``go``.
        """
        is_async = self._check_can_start("try_go()", fn)
        return self._start(is_async, (fn, args, kwargs))

    async def ago(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Start a worker like ``go``, waiting for a free slot without blocking the loop.

        The wait ends with Cancelled (starting nothing) when the group is
        cancelled. Only in an ``async with`` group (else RuntimeError).
        """
        is_async = self._check_can_start("ago()", fn)
        if self._async_world is None:
            raise RuntimeError("ago() is for `async with Group()`; use go() in a thread group")
        job = (fn, args, kwargs)
        if self._start(is_async, job):
            return
        from chanpy._async import aselect

        context = self.context
        case = self._wait_case(is_async, job)  # counts a thread job in
        try:
            r = await aselect(case, recv(context.done))
        except BaseException:
            if not is_async:
                self._job_done(False)
            raise
        if r.index == 1:
            if not is_async:
                self._job_done(False)
            raise Cancelled(context, context.cause)
        self._started_after_wait(is_async, job)

    # A job waits for: a slot token (a task) or a place in the start queue
    # (a thread job). Once it has one, it is started, and counted until done.

    def _wait_case(self, is_async: bool, job: _Job) -> Any:
        assert self._slots is not None
        if is_async:
            return send(self._slots, None)
        self._count_in()
        return send(self._jobs, job)

    def _started_after_wait(self, is_async: bool, job: _Job) -> bool:
        if is_async:
            self._count_in()
            self._start_task(*job, True)
        return True

    def _start_waiting(self, is_async: bool, job: _Job) -> None:
        context = self.context
        case = self._wait_case(is_async, job)
        token = current_scope.set(None)  # the select below watches g.context itself
        try:
            r = select(case, recv(context.done))
        except BaseException:
            if not is_async:
                self._job_done(False)
            raise
        finally:
            current_scope.reset(token)
        if r.index == 1:
            if not is_async:
                self._job_done(False)
            raise Cancelled(context, context.cause)
        self._started_after_wait(is_async, job)

    def _start(self, is_async: bool, job: _Job) -> bool:
        """Start ``job`` if that needs no wait; False if it must wait."""
        if is_async:
            if self._slots is not None:
                try:
                    self._slots.send_nowait(None)
                except WouldBlock:
                    return False
            self._count_in()
            self._start_task(*job, self._slots is not None)
            return True
        return self._start_thread(job)

    def _start_plumbing(self, is_async: bool, job: _Job) -> None:
        """Start a stage's role: never waits, takes no slot, may add a thread."""
        self._count_in()
        if is_async:
            self._start_task(*job, False)
        elif self._limit is not None:
            self._new_thread(job, _ONCE)  # never a runner of go()'s jobs
        elif not self._hand_to_idle(job):
            self._new_thread(job, _POOLED)

    def _count_in(self) -> None:
        with self._lock:
            if self._state == _EXITED:  # pragma: no cover - the exit waited for us
                raise RuntimeError("this group has exited")
            self._active += 1

    def _job_done(self, slotted: bool) -> None:
        if slotted and self._slots is not None:
            self._slots.recv_nowait()
        with self._lock:
            self._active -= 1
            last = self._active == 0 and self._state == _EXITING
        if last:
            self._finished.close()

    # -- thread workers ----------------------------------------------------

    def _start_thread(self, job: _Job) -> bool:
        # Limited: a new pooled thread while fewer than `limit` run jobs,
        # else the start queue. Unlimited: an idle thread, else a new one.
        self._count_in()
        if self._limit is not None and self._reserve_runner():
            self._new_thread(job, _RUNNER)
            return True
        if self._hand_to_idle(job):
            return True
        if self._limit is None:
            self._new_thread(job, _POOLED)
            return True
        self._job_done(False)
        return False

    def _hand_to_idle(self, job: _Job) -> bool:
        """Queue ``job`` if that starts it: room in a limited group's start
        queue, or an idle thread reserved for it in an unlimited group."""
        if self._limit is None:
            with self._lock:
                if self._idle == 0:
                    return False
                self._idle -= 1
        try:
            self._jobs.send_nowait(job)
            return True
        except WouldBlock:
            if self._limit is None:
                with self._lock:
                    self._idle += 1
            return False

    def _reserve_runner(self) -> bool:
        assert self._limit is not None
        with self._lock:
            if self._runners < self._limit:
                self._runners += 1
                return True
            return False

    def _new_thread(self, job: _Job, kind: int) -> None:
        thread = threading.Thread(
            target=self._thread_main,
            args=(job, kind),
            name="chanpy-group-worker",
            daemon=True,
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _thread_main(self, job: _Job | None, kind: int) -> None:
        scope = Scope(self.context)
        jobs = self._jobs
        slots = self._slots if kind == _RUNNER else None
        while True:
            if job is None:
                if kind == _ONCE:
                    return
                if kind == _POOLED:
                    with self._lock:
                        self._idle += 1  # a job may now be promised to us
                try:
                    job = jobs.recv()
                except Exception:  # Closed: the group has exited
                    return
            fn, args, kwargs = job
            job = None
            if slots is not None:
                # A running slot, shared with the group's tasks (always free
                # at once in a group of threads only).
                try:
                    slots.send_nowait(None)
                except WouldBlock:
                    slots.send(None)
            token = current_scope.set(scope)
            try:
                fn(*args, **kwargs)
            except BaseException as exc:
                self._fail(exc)
            finally:
                current_scope.reset(token)
                del fn, args, kwargs
                self._job_done(slots is not None)

    def _stop_threads(self) -> None:
        self.context._detach()
        self._jobs.close()
        with self._lock:
            threads, self._threads = self._threads, []
        me = threading.current_thread()
        for thread in threads:
            if thread is not me:
                thread.join()

    # -- task workers -------------------------------------------------------

    def _start_task(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        slotted: bool,
    ) -> None:
        if self._async_world == "trio":
            self._nursery.start_soon(self._task_main, fn, args, kw, slotted)
            return
        assert self._loop is not None
        task = self._loop.create_task(self._task_main(fn, args, kw, slotted))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _task_main(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        slotted: bool,
    ) -> None:
        try:
            async with self.context:
                await fn(*args, **kw)
        except BaseException as exc:
            if self._is_native_cancel(exc):
                raise  # from outside the group: the library's own business
            self._fail(exc)
        finally:
            self._job_done(slotted)

    # -- stages (chanpy._stages) ----------------------------------------------

    def map(
        self,
        fn: Callable[[Any], Any],
        src: Chan[Any] | Iterable[Any] | Any,
        workers: int = 1,
        ordered: bool = True,
        buffer: int = 0,
    ) -> Chan[Any]:
        """Apply ``fn`` to every value of ``src``; see ``chanpy._stages.map_stage``."""
        from chanpy._stages import map_stage

        return map_stage(self, "map", fn, src, workers, ordered, buffer)

    def filter(
        self,
        pred: Callable[[Any], Any],
        src: Chan[Any] | Iterable[Any] | Any,
        workers: int = 1,
        ordered: bool = True,
        buffer: int = 0,
    ) -> Chan[Any]:
        """Keep the values of ``src`` for which ``pred`` is true; see ``map``."""
        from chanpy._stages import map_stage

        return map_stage(self, "filter", pred, src, workers, ordered, buffer)

    def flat_map(
        self,
        fn: Callable[[Any], Iterable[Any]],
        src: Chan[Any] | Iterable[Any] | Any,
        workers: int = 1,
        ordered: bool = True,
        buffer: int = 0,
    ) -> Chan[Any]:
        """Emit every value of the iterable ``fn`` returns for each value; see ``map``."""
        from chanpy._stages import map_stage

        return map_stage(self, "flat_map", fn, src, workers, ordered, buffer)

    def merge(self, *srcs: Chan[Any] | Iterable[Any] | Any, buffer: int = 0) -> Chan[Any]:
        """Fan in: one channel with every value of every source; see ``chanpy._stages``."""
        from chanpy._stages import merge_stage

        return merge_stage(self, srcs, buffer)

    def broadcast(
        self,
        src: Chan[Any] | Iterable[Any] | Any,
        n: int,
        buffer: int = 0,
        overflow: str = "block",
    ) -> Broadcast:
        """Fan out: ``n`` channels that each get every value (a tuple, with
        ``.dropped`` counts); see ``chanpy._stages``."""
        from chanpy._stages import broadcast_stage

        return broadcast_stage(self, src, n, buffer, overflow)
