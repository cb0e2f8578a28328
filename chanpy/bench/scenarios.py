"""The benchmark scenarios: one definition each, shared by every front end.

A scenario names a workload (say "one producer thread, one consumer thread,
capacity 1024"), the chanpy implementation of it and the same workload
written with each peer (queue.Queue, trio memory channels, janus, ...). An
implementation is a callable ``run(n, stamped)`` that moves ``n`` messages
(or round trips, selects, tasks) and returns a :class:`Measurement`: the
elapsed time of the timed part, and, when ``stamped`` is true, one latency
sample per message (send→receive, or the round trip, or one select).

``python -m chanpy.bench`` (see ``runner`` and ``cli``) and the
pytest-benchmark suite in the repository's ``bench/`` both run these very
objects; neither has a copy of a workload.

Peers are imported only when they run (``importlib``), so a missing peer is
a skipped implementation, never an import error here.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

__all__ = [
    "SCENARIOS",
    "Impl",
    "Measurement",
    "Scenario",
    "Target",
    "by_name",
]


@dataclass(frozen=True)
class Measurement:
    """What one run of an implementation measured."""

    ops: int
    """Messages (round trips, selects, tasks) done in the timed part."""
    elapsed_ns: int
    """Wall time of the timed part."""
    latencies_ns: list[int] | None = None
    """One sample per op when the run was stamped, else None."""

    @property
    def ns_per_op(self) -> float:
        return self.elapsed_ns / self.ops


Run = Callable[[int, bool], Measurement]


def _chanpy_async_missing() -> str | None:
    import chanpy

    if not (hasattr(chanpy.Chan, "asend") and hasattr(chanpy.Chan, "arecv")):
        return "chanpy async API not available"
    return None


@dataclass(frozen=True)
class Impl:
    """One implementation of a scenario: chanpy's, or a peer's."""

    name: str
    """Shown in tables and charts, e.g. ``queue.Queue``."""
    run: Run
    requires: tuple[str, ...] = ()
    """Modules that must be importable (peers); missing ones mean skipped."""
    needs_async: bool = False
    """Needs chanpy's async API (``asend``/``arecv``)."""

    def unavailable(self) -> str | None:
        """Why this implementation cannot run here, or None if it can."""
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return f"{module} not installed"
        if self.needs_async:
            return _chanpy_async_missing()
        return None


@dataclass(frozen=True)
class Target:
    """A goal the project set for a ratio (a performance target)."""

    peer: str
    max_ratio: float
    """chanpy time / peer time must be at most this (plain variant)."""
    text: str
    p99: bool = True
    """Beside the busy thread, chanpy's p99 latency must not exceed the peer's."""


@dataclass(frozen=True)
class Scenario:
    """A workload, its chanpy implementation and its peers."""

    name: str
    title: str
    description: str
    unit: str
    """What one op is: "message", "round trip", "select", "task"."""
    chanpy: Impl
    peers: tuple[Impl, ...]
    messages: int
    """Ops per run in a full run without the busy thread."""
    busy_messages: int
    """Ops per run beside the busy thread in the pytest-benchmark suite (which
    runs fixed op counts; ``python -m chanpy.bench`` sizes those runs by time)."""
    go: str | None = None
    """The same workload's name in bench/go/chanbench.go, if it has one."""
    targets: tuple[Target, ...] = field(default_factory=tuple)
    multiple: int = 1
    """Op counts are rounded to a multiple of this (producers x consumers)."""
    min_messages: int = 2048
    """The fewest ops a run should do to be representative (twice a buffer of
    1024, so that senders do block); only an implementation too slow to do
    that within its time allowance does fewer."""
    latency: str | None = None
    """What a latency sample is here, when not send → receive (shown in tables)."""

    @property
    def impls(self) -> tuple[Impl, ...]:
        return (self.chanpy, *self.peers)

    def ops(self, *, busy: bool, scale: float) -> int:
        """The most ops one run does, scaled; at least one per party."""
        base = self.busy_messages if busy else self.messages
        return self.round(base * scale)

    def round(self, n: float) -> int:
        """``n`` as an op count: a positive multiple of ``multiple``."""
        k = max(self.multiple, int(n))
        return k - k % self.multiple


def _module(name: str) -> Any:
    return importlib.import_module(name)


# --------------------------------------------------------------------------
# Threads: producers and consumers over one queue-like object.
# --------------------------------------------------------------------------

Put = Callable[[Any], Any]
Get = Callable[[], Any]


def _run_parties(parties: Sequence[Callable[[], None]]) -> int:
    """Run each party in its own thread; time from a common start to the last."""
    start = threading.Event()
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def go() -> None:
            start.wait()
            try:
                fn()
            except BaseException as exc:  # reported in the caller's thread
                errors.append(exc)

        return go

    threads = [threading.Thread(target=wrap(p), daemon=True) for p in parties]
    for t in threads:
        t.start()
    t0 = perf_counter_ns()
    start.set()
    for t in threads:
        t.join()
    elapsed = perf_counter_ns() - t0
    if errors:
        raise errors[0]
    return elapsed


def _pipeline(make: Callable[[], tuple[Put, Get]], producers: int, consumers: int) -> Run:
    """``producers`` threads put, ``consumers`` threads get, n in total."""

    def run(n: int, stamped: bool) -> Measurement:
        put, get = make()
        per_p, per_c = n // producers, n // consumers
        lats: list[list[int]] = [[] for _ in range(consumers)]

        def produce() -> None:
            if stamped:
                for _ in range(per_p):
                    put(perf_counter_ns())
            else:
                for i in range(per_p):
                    put(i)

        def consume(k: int) -> Callable[[], None]:
            def go() -> None:
                if stamped:
                    append = lats[k].append
                    for _ in range(per_c):
                        v = get()
                        append(perf_counter_ns() - v)
                else:
                    for _ in range(per_c):
                        get()

            return go

        parties = [produce] * producers + [consume(k) for k in range(consumers)]
        elapsed = _run_parties(parties)
        return Measurement(n, elapsed, [x for lat in lats for x in lat] if stamped else None)

    return run


def _chanpy_pipe(capacity: int) -> tuple[Put, Get]:
    from chanpy import Chan

    ch: Chan[Any] = Chan(capacity)
    return ch.send, ch.recv


def _queue_pipe(capacity: int) -> tuple[Put, Get]:
    import queue

    q: queue.Queue[Any] = queue.Queue(capacity)
    return q.put, q.get


def _simplequeue_pipe() -> tuple[Put, Get]:
    import queue

    q: queue.SimpleQueue[Any] = queue.SimpleQueue()
    return q.put, q.get


def _pygolang_pipe(capacity: int) -> tuple[Put, Get]:
    ch = _module("golang").chan(capacity)
    return ch.send, ch.recv


def _culsans_sync_pipe(capacity: int) -> tuple[Put, Get]:
    q = _module("culsans").Queue(capacity)
    return q.sync_q.put, q.sync_q.get


# aiologic: green_* is its API for threads (and greenlets), async_* for tasks.
# Its bounded Queue is fair: a release hands the queue's single token straight
# to a parked waiter, so once one side has waited the two sides alternate,
# nearly every call parks, and the buffer stops helping (about 95% of calls in
# a 1024-buffer thread pipeline, every call but one between two asyncio tasks).
# That is aiologic's design, not the harness; its SimpleQueue (unbounded, put
# never waits) is measured beside it, as queue.SimpleQueue is beside
# queue.Queue.


def _aiologic_green_pipe(capacity: int) -> tuple[Put, Get]:
    q = _module("aiologic").Queue(maxsize=capacity)
    return q.green_put, q.green_get


def _aiologic_simple_pipe() -> tuple[Put, Get]:
    q = _module("aiologic").SimpleQueue()
    return q.put, q.green_get


def _thread_impls(cap: int, producers: int, consumers: int, *, extra: bool) -> tuple[Impl, ...]:
    def pipe(make: Callable[[], tuple[Put, Get]]) -> Run:
        return _pipeline(make, producers, consumers)

    impls = [
        Impl("queue.Queue", pipe(lambda: _queue_pipe(cap))),
        Impl("queue.SimpleQueue", pipe(_simplequeue_pipe)),
        Impl("pygolang", pipe(lambda: _pygolang_pipe(cap)), requires=("golang",)),
    ]
    if extra:
        impls += [
            Impl("culsans", pipe(lambda: _culsans_sync_pipe(cap)), requires=("culsans",)),
            Impl("aiologic", pipe(lambda: _aiologic_green_pipe(cap)), requires=("aiologic",)),
            Impl("aiologic.SimpleQueue", pipe(_aiologic_simple_pipe), requires=("aiologic",)),
        ]
    return tuple(impls)


# --------------------------------------------------------------------------
# Unbuffered ping-pong: a round trip between two threads.
# --------------------------------------------------------------------------


def _pingpong(make: Callable[[], tuple[Put, Get, Put, Get]]) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        ping_put, ping_get, pong_put, pong_get = make()
        lat: list[int] = []

        def echo() -> None:
            for _ in range(n):
                pong_put(ping_get())

        def pinger() -> None:
            if stamped:
                append = lat.append
                for i in range(n):
                    t = perf_counter_ns()
                    ping_put(i)
                    pong_get()
                    append(perf_counter_ns() - t)
            else:
                for i in range(n):
                    ping_put(i)
                    pong_get()

        elapsed = _run_parties([echo, pinger])
        return Measurement(n, elapsed, lat if stamped else None)

    return run


def _lock_pipe() -> tuple[Put, Get]:
    # The hand-off floor: a held threading.Lock as a binary semaphore. put
    # releases it, get acquires it; no value moves, only the wake-up, which is
    # all an unbuffered hand-off between two threads must cost.
    lock = threading.Lock()
    lock.acquire()
    return (lambda _v: lock.release()), lock.acquire


def _pair(make: Callable[[], tuple[Put, Get]]) -> Callable[[], tuple[Put, Get, Put, Get]]:
    def both() -> tuple[Put, Get, Put, Get]:
        return (*make(), *make())

    return both


# --------------------------------------------------------------------------
# Select over 4 channels, one of them ready (one thread, non-blocking).
# --------------------------------------------------------------------------


# Each loop is written out (no per-op helper call), as a program writes it.


def _chanpy_select4(n: int, stamped: bool) -> Measurement:
    from chanpy import Chan, recv, select

    a: Chan[int] = Chan(1)
    b: Chan[int] = Chan(1)
    c: Chan[int] = Chan(1)
    ready: Chan[int] = Chan(n)
    for i in range(n):
        ready.send_nowait(i)
    # The cases are built per select, as in `select(recv(a), recv(b), ...)`.
    if stamped:
        lat: list[int] = []
        append = lat.append
        t0 = perf_counter_ns()
        for _ in range(n):
            t = perf_counter_ns()
            select(recv(a), recv(b), recv(c), recv(ready))
            append(perf_counter_ns() - t)
        return Measurement(n, perf_counter_ns() - t0, lat)
    t0 = perf_counter_ns()
    for _ in range(n):
        select(recv(a), recv(b), recv(c), recv(ready))
    return Measurement(n, perf_counter_ns() - t0)


def _chanpy_recv_nowait(n: int, stamped: bool) -> Measurement:
    from chanpy import Chan

    ready: Chan[int] = Chan(n)
    for i in range(n):
        ready.send_nowait(i)
    recv_nowait = ready.recv_nowait
    if stamped:
        lat: list[int] = []
        append = lat.append
        t0 = perf_counter_ns()
        for _ in range(n):
            t = perf_counter_ns()
            recv_nowait()
            append(perf_counter_ns() - t)
        return Measurement(n, perf_counter_ns() - t0, lat)
    t0 = perf_counter_ns()
    for _ in range(n):
        recv_nowait()
    return Measurement(n, perf_counter_ns() - t0)


def _pygolang_select4(n: int, stamped: bool) -> Measurement:
    golang = _module("golang")
    a, b, c = golang.chan(1), golang.chan(1), golang.chan(1)
    ready = golang.chan(n)
    for i in range(n):
        ready.send(i)
    select = golang.select
    if stamped:
        lat: list[int] = []
        append = lat.append
        t0 = perf_counter_ns()
        for _ in range(n):
            t = perf_counter_ns()
            select(a.recv, b.recv, c.recv, ready.recv)
            append(perf_counter_ns() - t)
        return Measurement(n, perf_counter_ns() - t0, lat)
    t0 = perf_counter_ns()
    for _ in range(n):
        select(a.recv, b.recv, c.recv, ready.recv)
    return Measurement(n, perf_counter_ns() - t0)


# --------------------------------------------------------------------------
# Worker pool: one producer hands n trivial tasks to 4 worker threads.
# --------------------------------------------------------------------------

POOL_WORKERS = 4


def _task() -> None:
    pass


def _pool_chanpy(n: int, stamped: bool) -> Measurement:
    from chanpy import Chan

    jobs: Chan[Any] = Chan(1024)
    lats: list[list[int]] = [[] for _ in range(POOL_WORKERS)]

    def worker(k: int) -> Callable[[], None]:
        def go() -> None:
            if stamped:
                append = lats[k].append
                for v in jobs:
                    append(perf_counter_ns() - v)
            else:
                for fn in jobs:
                    fn()

        return go

    def producer() -> None:
        send = jobs.send
        if stamped:
            for _ in range(n):
                send(perf_counter_ns())
        else:
            for _ in range(n):
                send(_task)
        jobs.close()

    elapsed = _run_parties([producer, *(worker(k) for k in range(POOL_WORKERS))])
    return Measurement(n, elapsed, [x for lat in lats for x in lat] if stamped else None)


def _pool_queue(n: int, stamped: bool) -> Measurement:
    import queue

    jobs: queue.Queue[Any] = queue.Queue(1024)
    lats: list[list[int]] = [[] for _ in range(POOL_WORKERS)]

    def worker(k: int) -> Callable[[], None]:
        def go() -> None:
            get = jobs.get
            if stamped:
                append = lats[k].append
                while (v := get()) is not None:
                    append(perf_counter_ns() - v)
            else:
                while (fn := get()) is not None:
                    fn()

        return go

    def producer() -> None:
        put = jobs.put
        if stamped:
            for _ in range(n):
                put(perf_counter_ns())
        else:
            for _ in range(n):
                put(_task)
        for _ in range(POOL_WORKERS):
            put(None)

    elapsed = _run_parties([producer, *(worker(k) for k in range(POOL_WORKERS))])
    return Measurement(n, elapsed, [x for lat in lats for x in lat] if stamped else None)


def _pool_pygolang(n: int, stamped: bool) -> Measurement:
    jobs = _module("golang").chan(1024)
    lats: list[list[int]] = [[] for _ in range(POOL_WORKERS)]

    def worker(k: int) -> Callable[[], None]:
        def go() -> None:
            recv_ = jobs.recv_
            if stamped:
                append = lats[k].append
                while True:
                    v, ok = recv_()
                    if not ok:
                        break
                    append(perf_counter_ns() - v)
            else:
                while True:
                    fn, ok = recv_()
                    if not ok:
                        break
                    fn()

        return go

    def producer() -> None:
        send = jobs.send
        if stamped:
            for _ in range(n):
                send(perf_counter_ns())
        else:
            for _ in range(n):
                send(_task)
        jobs.close()

    elapsed = _run_parties([producer, *(worker(k) for k in range(POOL_WORKERS))])
    return Measurement(n, elapsed, [x for lat in lats for x in lat] if stamped else None)


def _pool_executor(n: int, stamped: bool) -> Measurement:
    from concurrent.futures import ThreadPoolExecutor

    lat: list[int] = []
    ex = ThreadPoolExecutor(POOL_WORKERS)
    # Start all workers before timing (the executor starts them lazily).
    barrier = threading.Barrier(POOL_WORKERS)
    for f in [ex.submit(barrier.wait) for _ in range(POOL_WORKERS)]:
        f.result()

    def record(stamp: int) -> None:
        lat.append(perf_counter_ns() - stamp)

    submit = ex.submit
    t0 = perf_counter_ns()
    if stamped:
        for _ in range(n):
            submit(record, perf_counter_ns())
    else:
        for _ in range(n):
            submit(_task)
    ex.shutdown(wait=True)
    return Measurement(n, perf_counter_ns() - t0, lat if stamped else None)


# --------------------------------------------------------------------------
# Tasks: trio and asyncio, task→task and thread→task.
# --------------------------------------------------------------------------

AsyncPut = Callable[[Any], Any]
AsyncGet = Callable[[], Any]


@dataclass
class _Ends:
    """The two ends of an async-capable queue, made inside the event loop."""

    put: Callable[[Any], Any]
    get: AsyncGet
    aclose: Callable[[], Any] | None = None
    get_many: Callable[[], Awaitable[list[Any]]] | None = None
    """A batch receive (chanpy's arecv_many): the consumer takes batches instead."""


async def _consume(get: AsyncGet, n: int, stamped: bool, lat: list[int]) -> None:
    if stamped:
        append = lat.append
        for _ in range(n):
            v = await get()
            append(perf_counter_ns() - v)
    else:
        for _ in range(n):
            await get()


async def _consume_ends(ends: _Ends, n: int, stamped: bool, lat: list[int]) -> None:
    if ends.get_many is None:
        await _consume(ends.get, n, stamped, lat)
        return
    get_many = ends.get_many
    got = 0
    while got < n:
        batch = await get_many()
        if stamped:
            now = perf_counter_ns()
            lat.extend(now - v for v in batch)
        got += len(batch)


async def _produce(put: AsyncPut, n: int, stamped: bool) -> None:
    if stamped:
        for _ in range(n):
            await put(perf_counter_ns())
    else:
        for i in range(n):
            await put(i)


def _sync_produce(put: Put, n: int, stamped: bool, start: threading.Event) -> None:
    start.wait()
    if stamped:
        for _ in range(n):
            put(perf_counter_ns())
    else:
        for i in range(n):
            put(i)


def _trio_tasks(make: Callable[[], _Ends]) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        trio = _module("trio")
        lat: list[int] = []

        async def main() -> int:
            ends = make()
            t0 = perf_counter_ns()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_produce, ends.put, n, stamped)
                await _consume(ends.get, n, stamped, lat)
            elapsed = perf_counter_ns() - t0
            if ends.aclose is not None:
                await ends.aclose()
            return elapsed

        elapsed = trio.run(main)
        return Measurement(n, elapsed, lat if stamped else None)

    return run


def _asyncio_tasks(make: Callable[[], _Ends]) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        import asyncio

        lat: list[int] = []

        async def main() -> int:
            ends = make()
            t0 = perf_counter_ns()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_produce(ends.put, n, stamped))
                await _consume(ends.get, n, stamped, lat)
            elapsed = perf_counter_ns() - t0
            if ends.aclose is not None:
                await ends.aclose()
            return elapsed

        elapsed = asyncio.run(main())
        return Measurement(n, elapsed, lat if stamped else None)

    return run


def _thread_to_trio(make: Callable[[], _Ends]) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        trio = _module("trio")
        lat: list[int] = []

        async def main() -> int:
            ends = make()
            start = threading.Event()
            thread = threading.Thread(
                target=_sync_produce, args=(ends.put, n, stamped, start), daemon=True
            )
            thread.start()
            t0 = perf_counter_ns()
            start.set()
            await _consume_ends(ends, n, stamped, lat)
            elapsed = perf_counter_ns() - t0
            await trio.to_thread.run_sync(thread.join)
            if ends.aclose is not None:
                await ends.aclose()
            return elapsed

        elapsed = trio.run(main)
        return Measurement(n, elapsed, lat if stamped else None)

    return run


def _thread_to_asyncio(make: Callable[[], _Ends]) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        import asyncio

        lat: list[int] = []

        async def main() -> int:
            ends = make()
            start = threading.Event()
            thread = threading.Thread(
                target=_sync_produce, args=(ends.put, n, stamped, start), daemon=True
            )
            thread.start()
            t0 = perf_counter_ns()
            start.set()
            await _consume_ends(ends, n, stamped, lat)
            elapsed = perf_counter_ns() - t0
            await asyncio.to_thread(thread.join)
            if ends.aclose is not None:
                await ends.aclose()
            return elapsed

        elapsed = asyncio.run(main())
        return Measurement(n, elapsed, lat if stamped else None)

    return run


ASYNC_CAPACITY = 1024


def _chanpy_async_ends(capacity: int = ASYNC_CAPACITY) -> _Ends:
    from chanpy import Chan

    ch: Any = Chan(capacity)
    return _Ends(ch.asend, ch.arecv)


def _chanpy_thread_ends() -> _Ends:
    from chanpy import Chan

    ch: Any = Chan(ASYNC_CAPACITY)
    return _Ends(ch.send, ch.arecv)


BATCH = 256  # the largest batch a recv_many consumer takes


def _chanpy_thread_batch_ends() -> _Ends:
    from chanpy import Chan

    ch: Any = Chan(ASYNC_CAPACITY)
    return _Ends(ch.send, ch.arecv, get_many=lambda: ch.arecv_many(BATCH))


def _trio_memory_ends(capacity: int = ASYNC_CAPACITY) -> _Ends:
    send, receive = _module("trio").open_memory_channel(capacity)
    return _Ends(send.send, receive.receive)


# --------------------------------------------------------------------------
# aselect over 4 channels, one ready (one asyncio task, never waits).
# --------------------------------------------------------------------------


def _in_asyncio(body: Callable[[int, bool], Any]) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        import asyncio

        result: Measurement = asyncio.run(body(n, stamped))
        return result

    return run


async def _chanpy_aselect4(n: int, stamped: bool) -> Measurement:
    from chanpy import Chan, aselect, recv

    a: Chan[int] = Chan(1)
    b: Chan[int] = Chan(1)
    c: Chan[int] = Chan(1)
    ready: Chan[int] = Chan(n)
    for i in range(n):
        ready.send_nowait(i)
    # The cases are built per call, as in `await aselect(recv(a), ...)`.
    if stamped:
        lat: list[int] = []
        append = lat.append
        t0 = perf_counter_ns()
        for _ in range(n):
            t = perf_counter_ns()
            await aselect(recv(a), recv(b), recv(c), recv(ready))
            append(perf_counter_ns() - t)
        return Measurement(n, perf_counter_ns() - t0, lat)
    t0 = perf_counter_ns()
    for _ in range(n):
        await aselect(recv(a), recv(b), recv(c), recv(ready))
    return Measurement(n, perf_counter_ns() - t0)


async def _chanpy_arecv1(n: int, stamped: bool) -> Measurement:
    from chanpy import Chan

    ready: Chan[int] = Chan(n)
    for i in range(n):
        ready.send_nowait(i)
    arecv = ready.arecv
    if stamped:
        lat: list[int] = []
        append = lat.append
        t0 = perf_counter_ns()
        for _ in range(n):
            t = perf_counter_ns()
            await arecv()
            append(perf_counter_ns() - t)
        return Measurement(n, perf_counter_ns() - t0, lat)
    t0 = perf_counter_ns()
    for _ in range(n):
        await arecv()
    return Measurement(n, perf_counter_ns() - t0)


def _trio_from_thread_ends() -> _Ends:
    trio = _module("trio")
    send, receive = trio.open_memory_channel(ASYNC_CAPACITY)
    token = trio.lowlevel.current_trio_token()
    from_thread_run = trio.from_thread.run
    send_async = send.send

    def put(v: Any) -> None:
        from_thread_run(send_async, v, trio_token=token)

    return _Ends(put, receive.receive)


def _asyncio_queue_ends() -> _Ends:
    import asyncio

    q: asyncio.Queue[Any] = asyncio.Queue(ASYNC_CAPACITY)
    return _Ends(q.put, q.get)


def _culsans_async_ends() -> _Ends:
    q = _module("culsans").Queue(ASYNC_CAPACITY)
    return _Ends(q.async_q.put, q.async_q.get)


def _culsans_thread_ends() -> _Ends:
    q = _module("culsans").Queue(ASYNC_CAPACITY)
    return _Ends(q.sync_q.put, q.async_q.get)


def _aiologic_async_ends() -> _Ends:
    q = _module("aiologic").Queue(maxsize=ASYNC_CAPACITY)
    return _Ends(q.async_put, q.async_get)


def _aiologic_thread_ends() -> _Ends:
    q = _module("aiologic").Queue(maxsize=ASYNC_CAPACITY)
    return _Ends(q.green_put, q.async_get)


def _aiologic_simple_thread_ends() -> _Ends:
    q = _module("aiologic").SimpleQueue()
    return _Ends(q.put, q.async_get)


def _janus_async_ends() -> _Ends:
    q = _module("janus").Queue(ASYNC_CAPACITY)
    return _Ends(q.async_q.put, q.async_q.get, q.aclose)


def _janus_thread_ends() -> _Ends:
    q = _module("janus").Queue(ASYNC_CAPACITY)
    return _Ends(q.sync_q.put, q.async_q.get, q.aclose)


# --------------------------------------------------------------------------
# Layer 2: Group, pipeline stages and Context cancellation.
# --------------------------------------------------------------------------

GROUP_LIMIT = 4
GROUP_POOL_QUEUE = 256
"""The hand-written pool's job queue: as deep as a limited Group's start queue."""


def _recorder(lat: list[int]) -> Callable[[int], None]:
    """A job that records how long ago ``stamp`` was taken."""
    append = lat.append

    def record(stamp: int) -> None:
        append(perf_counter_ns() - stamp)

    return record


# The three pools below are timed whole, from before their first thread
# starts to after the last one stopped, as a program pays for them.


def _group_pool_chanpy(n: int, stamped: bool) -> Measurement:
    from chanpy import Group

    lat: list[int] = []
    record = _recorder(lat)
    t0 = perf_counter_ns()
    with Group(limit=GROUP_LIMIT) as g:
        go = g.go
        if stamped:
            for _ in range(n):
                go(record, perf_counter_ns())
        else:
            for _ in range(n):
                go(_task)
    return Measurement(n, perf_counter_ns() - t0, lat if stamped else None)


def _group_pool_executor(n: int, stamped: bool) -> Measurement:
    from concurrent.futures import ThreadPoolExecutor

    lat: list[int] = []
    record = _recorder(lat)
    t0 = perf_counter_ns()
    with ThreadPoolExecutor(GROUP_LIMIT) as ex:  # the exit is shutdown(wait=True)
        submit = ex.submit
        if stamped:
            for _ in range(n):
                submit(record, perf_counter_ns())
        else:
            for _ in range(n):
                submit(_task)
    return Measurement(n, perf_counter_ns() - t0, lat if stamped else None)


def _group_pool_queue(n: int, stamped: bool) -> Measurement:
    import queue

    jobs: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(
        GROUP_POOL_QUEUE
    )
    lat: list[int] = []
    record = _recorder(lat)

    def worker() -> None:
        get = jobs.get
        while (job := get()) is not None:
            fn, args = job
            fn(*args)

    t0 = perf_counter_ns()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(GROUP_LIMIT)]
    for t in threads:
        t.start()
    put = jobs.put
    if stamped:
        for _ in range(n):
            put((record, (perf_counter_ns(),)))
    else:
        no_args = ()
        for _ in range(n):
            put((_task, no_args))
    for _ in threads:
        put(None)  # one sentinel per worker
    for t in threads:
        t.join()
    return Measurement(n, perf_counter_ns() - t0, lat if stamped else None)


# A 3-stage pipeline, 4 workers a stage: x+1, then x*2, then x-3, so item x
# comes out as 2x-1; a stamped run feeds perf_counter_ns() values and gets
# each stamp back as (v+1)//2 (latency: source pulled → consumer received).

PIPE_WORKERS = 4
PIPE_BOUND = 64
"""Each stage's bound: the peers' queue maxsize, chanpy's ``buffer``. A small
bound makes every thread pipeline pay a thread wake-up per item."""


def _inc(x: int) -> int:
    return x + 1


def _dbl(x: int) -> int:
    return x * 2


def _dec3(x: int) -> int:
    return x - 3


def _stamps(n: int) -> Iterator[int]:
    for _ in range(n):
        yield perf_counter_ns()


def _source(n: int, stamped: bool) -> Iterable[int]:
    return _stamps(n) if stamped else range(n)


def _drain(values: Iterable[int], stamped: bool, unstamp: Callable[[int], int]) -> _Drained:
    count = total = 0
    lat: list[int] = []
    if stamped:
        append = lat.append
        for v in values:
            append(perf_counter_ns() - unstamp(v))
            count += 1
    else:
        for v in values:
            count += 1
            total += v
    return _Drained(count, total, lat)


async def _adrain(values: Any, stamped: bool, unstamp: Callable[[int], int]) -> _Drained:
    count = total = 0
    lat: list[int] = []
    if stamped:
        append = lat.append
        async for v in values:
            append(perf_counter_ns() - unstamp(v))
            count += 1
    else:
        async for v in values:
            count += 1
            total += v
    return _Drained(count, total, lat)


@dataclass(frozen=True)
class _Drained:
    count: int
    total: int
    lat: list[int]

    def check(self, n: int, stamped: bool, expected_total: int) -> None:
        """Every item came out, and (unstamped) the right values."""
        if self.count != n:
            raise RuntimeError(f"{self.count} items came out of {n}")
        if not stamped and self.total != expected_total:
            raise RuntimeError(f"the items summed to {self.total}, not {expected_total}")


def _pipe_unstamp(v: int) -> int:
    return (v + 1) >> 1


def _pipe_total(n: int) -> int:
    return n * (n - 1) - n  # the sum of 2x-1 over range(n)


def _pipeline3_chanpy(ordered: bool) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        from chanpy import Group

        t0 = perf_counter_ns()
        with Group() as g:
            s = g.map(
                _inc, _source(n, stamped), workers=PIPE_WORKERS, ordered=ordered, buffer=PIPE_BOUND
            )
            s = g.map(_dbl, s, workers=PIPE_WORKERS, ordered=ordered, buffer=PIPE_BOUND)
            s = g.map(_dec3, s, workers=PIPE_WORKERS, ordered=ordered, buffer=PIPE_BOUND)
            got = _drain(s, stamped, _pipe_unstamp)
        elapsed = perf_counter_ns() - t0
        got.check(n, stamped, _pipe_total(n))
        return Measurement(n, elapsed, got.lat if stamped else None)

    return run


def _pipeline3_queue(n: int, stamped: bool) -> Measurement:
    """Threads and bounded queue.Queues; each worker passes one sentinel on."""
    import queue

    qs: list[queue.Queue[int | None]] = [queue.Queue(PIPE_BOUND) for _ in range(4)]
    src = _source(n, stamped)

    def feed() -> None:
        put = qs[0].put
        for v in src:
            put(v)
        for _ in range(PIPE_WORKERS):
            put(None)

    def stage(
        fn: Callable[[int], int], inq: queue.Queue[int | None], outq: queue.Queue[int | None]
    ) -> None:
        get, put = inq.get, outq.put
        while (v := get()) is not None:
            put(fn(v))
        put(None)  # after this worker's last item

    def results() -> Iterator[int]:
        get = qs[3].get
        left = PIPE_WORKERS
        while True:
            v = get()
            if v is None:
                left -= 1
                if not left:
                    return
            else:
                yield v

    t0 = perf_counter_ns()
    threads = [threading.Thread(target=feed, daemon=True)]
    for k, fn in enumerate((_inc, _dbl, _dec3)):
        threads += [
            threading.Thread(target=stage, args=(fn, qs[k], qs[k + 1]), daemon=True)
            for _ in range(PIPE_WORKERS)
        ]
    for t in threads:
        t.start()
    got = _drain(results(), stamped, _pipe_unstamp)
    for t in threads:
        t.join()
    elapsed = perf_counter_ns() - t0
    got.check(n, stamped, _pipe_total(n))
    return Measurement(n, elapsed, got.lat if stamped else None)


def _pipeline3_pypeln(n: int, stamped: bool) -> Measurement:
    """pypeln's thread stages, chained as its docs show (``maxsize`` bounds each)."""
    pl = _module("pypeln")

    t0 = perf_counter_ns()
    s = pl.thread.map(_inc, _source(n, stamped), workers=PIPE_WORKERS, maxsize=PIPE_BOUND)
    s = pl.thread.map(_dbl, s, workers=PIPE_WORKERS, maxsize=PIPE_BOUND)
    s = pl.thread.map(_dec3, s, workers=PIPE_WORKERS, maxsize=PIPE_BOUND)
    got = _drain(s, stamped, _pipe_unstamp)
    elapsed = perf_counter_ns() - t0
    got.check(n, stamped, _pipe_total(n))
    return Measurement(n, elapsed, got.lat if stamped else None)


# An async map under asyncio, at most 4 calls in flight; the function
# suspends once (asyncio.sleep(0)), so that the limit is exercised.

AMAP_WORKERS = 4


async def _ainc(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


def _amap_unstamp(v: int) -> int:
    return v - 1


def _amap_total(n: int) -> int:
    return n * (n + 1) // 2


def _in_loop(main: Callable[[int, bool], Coroutine[Any, Any, tuple[int, _Drained]]]) -> Run:
    def run(n: int, stamped: bool) -> Measurement:
        elapsed, got = asyncio.run(main(n, stamped))
        got.check(n, stamped, _amap_total(n))
        return Measurement(n, elapsed, got.lat if stamped else None)

    return run


async def _amap_chanpy(n: int, stamped: bool) -> tuple[int, _Drained]:
    from chanpy import Group

    t0 = perf_counter_ns()
    async with Group() as g:
        out = g.map(_ainc, _source(n, stamped), workers=AMAP_WORKERS)
        got = await _adrain(out, stamped, _amap_unstamp)
    return perf_counter_ns() - t0, got


async def _amap_taskgroup(n: int, stamped: bool) -> tuple[int, _Drained]:
    """One task per item, the semaphore lets 4 call at once (unordered)."""
    sem = asyncio.Semaphore(AMAP_WORKERS)
    acc = [0, 0]
    lat: list[int] = []
    append = lat.append

    async def one(x: int) -> None:
        async with sem:
            v = await _ainc(x)
        if stamped:
            append(perf_counter_ns() - _amap_unstamp(v))
        acc[0] += 1
        acc[1] += v

    t0 = perf_counter_ns()
    async with asyncio.TaskGroup() as tg:
        for x in _source(n, stamped):
            tg.create_task(one(x))
    return perf_counter_ns() - t0, _Drained(acc[0], acc[1], lat)


async def _amap_aiostream(n: int, stamped: bool) -> tuple[int, _Drained]:
    """aiostream's ``stream.map(xs, f, task_limit=4)`` (ordered, its default)."""
    stream = _module("aiostream").stream

    t0 = perf_counter_ns()
    xs = stream.iterate(_source(n, stamped))
    async with stream.map(xs, _ainc, task_limit=AMAP_WORKERS).stream() as results:
        got = await _adrain(results, stamped, _amap_unstamp)
    return perf_counter_ns() - t0, got


# n workers park (a thread each) until they are told to stop; the time is
# from that call (cancel, set, the sentinels) until every thread has ended.
# A stamped run records, per worker, when it woke up after the call.

PARK_TIMEOUT_S = 60.0
SETTLE_S = 0.02
"""After the last worker said it is about to park, give it time to park."""


class _Arrivals:
    """Counts the workers about to park; ``wait`` until all n are (and settled)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self._lock = threading.Lock()
        self._all = threading.Event()

    def arrive(self) -> None:
        with self._lock:
            self.count += 1
            if self.count == self.n:
                self._all.set()

    def wait(self) -> None:
        if not self._all.wait(PARK_TIMEOUT_S):
            raise RuntimeError(f"only {self.count} of {self.n} workers started")
        time.sleep(SETTLE_S)


def _check_parked(ch: Any, n: int) -> None:
    waiting = ch.statistics().waiting_receivers
    if waiting != n:
        raise RuntimeError(f"{waiting} of {n} workers are parked in recv")


def _cancel_group(n: int, stamped: bool) -> Measurement:
    from chanpy import Cancelled, Chan, Group

    never: Chan[None] = Chan()
    arrivals = _Arrivals(n)
    woke: list[int] = []

    def worker() -> None:
        arrivals.arrive()
        try:
            never.recv()
        except Cancelled:
            if stamped:
                woke.append(perf_counter_ns())
            raise

    with Group() as g:
        for _ in range(n):
            g.go(worker)
        arrivals.wait()
        _check_parked(never, n)
        t0 = perf_counter_ns()
        g.cancel()
    elapsed = perf_counter_ns() - t0
    return Measurement(n, elapsed, [t - t0 for t in woke] if stamped else None)


def _parked_threads(
    n: int,
    stamped: bool,
    park: Callable[[], object],
    ready: Callable[[], None],
    stop: Callable[[], None],
) -> Measurement:
    """n threads that each ``park()``; ``stop()`` is timed until all have ended."""
    arrivals = _Arrivals(n)
    woke: list[int] = []

    def worker() -> None:
        arrivals.arrive()
        park()
        if stamped:
            woke.append(perf_counter_ns())

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    arrivals.wait()
    ready()
    t0 = perf_counter_ns()
    stop()
    for t in threads:
        t.join()
    elapsed = perf_counter_ns() - t0
    return Measurement(n, elapsed, [t - t0 for t in woke] if stamped else None)


def _cancel_context(n: int, stamped: bool) -> Measurement:
    """Plain threads, each in ``with ctx:`` blocked in recv; ``ctx.cancel()``."""
    from chanpy import Cancelled, Chan, Context

    never: Chan[None] = Chan()
    ctx = Context()

    def park() -> None:
        with ctx:
            try:
                never.recv()
            except Cancelled:
                pass

    def stop() -> None:
        ctx.cancel()

    return _parked_threads(n, stamped, park, lambda: _check_parked(never, n), stop)


def _cancel_event(n: int, stamped: bool) -> Measurement:
    event = threading.Event()
    return _parked_threads(n, stamped, event.wait, lambda: None, event.set)


def _cancel_queue(n: int, stamped: bool) -> Measurement:
    """Threads blocked in ``Queue.get()``, stopped by one sentinel each."""
    import queue

    q: queue.Queue[None] = queue.Queue()

    def stop() -> None:
        for _ in range(n):
            q.put(None)

    return _parked_threads(n, stamped, q.get, lambda: None, stop)


# --------------------------------------------------------------------------
# The scenarios.
# --------------------------------------------------------------------------

_CAP = 1024

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="threads-1to1",
        title="thread→thread, 1 producer / 1 consumer, buffer 1024",
        description="One thread sends n values, another receives them, through "
        "a buffer of 1024 (Chan(1024) vs queue.Queue(1024), ...; the SimpleQueues are "
        "unbounded: their put never waits).",
        unit="message",
        chanpy=Impl("chanpy", _pipeline(lambda: _chanpy_pipe(_CAP), 1, 1)),
        peers=_thread_impls(_CAP, 1, 1, extra=True),
        messages=200_000,
        busy_messages=100_000,
        go="threads-1to1",
        targets=(Target("queue.Queue", 1 / 3, "≥ 3x queue.Queue's throughput"),),
    ),
    Scenario(
        name="threads-4to4",
        title="thread→thread, 4 producers / 4 consumers, buffer 1024",
        description="Four threads send, four threads receive, through one buffer of 1024.",
        unit="message",
        chanpy=Impl("chanpy", _pipeline(lambda: _chanpy_pipe(_CAP), 4, 4)),
        peers=_thread_impls(_CAP, 4, 4, extra=False),
        messages=200_000,
        busy_messages=100_000,
        go="threads-4to4",
        multiple=4,
    ),
    Scenario(
        name="fanin-8",
        title="fan-in, 8 producer threads → 1 consumer, buffer 1024",
        description="Eight threads send into one buffer of 1024; one thread receives all.",
        unit="message",
        chanpy=Impl("chanpy", _pipeline(lambda: _chanpy_pipe(_CAP), 8, 1)),
        peers=_thread_impls(_CAP, 8, 1, extra=False),
        messages=200_000,
        busy_messages=100_000,
        go="fanin-8",
        multiple=8,
    ),
    Scenario(
        name="pingpong",
        title="unbuffered ping-pong between two threads, per round trip",
        description="Thread A sends on an unbuffered channel, thread B receives and "
        "sends it back on another; one op is a round trip (vs two queue.Queue(1), and "
        "two bare threading.Lock hand-offs: the floor).",
        unit="round trip",
        chanpy=Impl("chanpy", _pingpong(_pair(lambda: _chanpy_pipe(0)))),
        peers=(
            Impl("queue.Queue(1) pair", _pingpong(_pair(lambda: _queue_pipe(1)))),
            Impl("threading.Lock floor", _pingpong(_pair(_lock_pipe))),
            Impl("pygolang", _pingpong(_pair(lambda: _pygolang_pipe(0))), requires=("golang",)),
        ),
        messages=20_000,
        busy_messages=5_000,
        min_messages=50,
        go="pingpong",
        targets=(
            Target("queue.Queue(1) pair", 0.5, "≤ 0.5x the queue pair's round trip"),
            Target(
                "threading.Lock floor",
                1.1,
                "≤ 1.1x two bare threading.Lock hand-offs (the OS floor)",
                p99=False,
            ),
        ),
    ),
    Scenario(
        name="select-4",
        title="select over 4 channels, one ready",
        description="One thread selects over 4 receive cases of which one channel "
        "holds values (cases built per call); compared with one recv_nowait.",
        unit="select",
        chanpy=Impl("chanpy", _chanpy_select4),
        peers=(
            Impl("chanpy recv_nowait", _chanpy_recv_nowait),
            Impl("pygolang", _pygolang_select4, requires=("golang",)),
        ),
        messages=200_000,
        busy_messages=200_000,
        min_messages=1000,
        go="select-4",
        targets=(Target("chanpy recv_nowait", 3.0, "≤ 3x a single recv_nowait", p99=False),),
    ),
    Scenario(
        name="trio-trio",
        title="trio task→task, buffer 1024",
        description="Two trio tasks in one run: one sends n values, the other receives.",
        unit="message",
        chanpy=Impl("chanpy", _trio_tasks(_chanpy_async_ends), ("trio",), needs_async=True),
        peers=(
            Impl("trio memory channel", _trio_tasks(_trio_memory_ends), ("trio",)),
            Impl("culsans", _trio_tasks(_culsans_async_ends), ("trio", "culsans")),
            Impl("aiologic", _trio_tasks(_aiologic_async_ends), ("trio", "aiologic")),
        ),
        messages=100_000,
        busy_messages=50_000,
    ),
    Scenario(
        name="trio-trio-0",
        title="trio task→task, unbuffered",
        description="Two trio tasks in one run hand n values over an unbuffered "
        "channel (Chan() vs trio.open_memory_channel(0)).",
        unit="message",
        chanpy=Impl(
            "chanpy", _trio_tasks(lambda: _chanpy_async_ends(0)), ("trio",), needs_async=True
        ),
        peers=(Impl("trio memory channel", _trio_tasks(lambda: _trio_memory_ends(0)), ("trio",)),),
        messages=50_000,
        busy_messages=5_000,
        min_messages=200,
    ),
    Scenario(
        name="asyncio-asyncio",
        title="asyncio task→task, buffer 1024",
        description="Two asyncio tasks in one loop: one sends n values, the other receives.",
        unit="message",
        chanpy=Impl("chanpy", _asyncio_tasks(_chanpy_async_ends), needs_async=True),
        peers=(
            Impl("asyncio.Queue", _asyncio_tasks(_asyncio_queue_ends)),
            Impl("culsans", _asyncio_tasks(_culsans_async_ends), ("culsans",)),
            Impl("janus", _asyncio_tasks(_janus_async_ends), ("janus",)),
            Impl("aiologic", _asyncio_tasks(_aiologic_async_ends), ("aiologic",)),
        ),
        messages=100_000,
        busy_messages=50_000,
    ),
    Scenario(
        name="aselect-4",
        title="aselect over 4 channels, one ready (asyncio)",
        description="One asyncio task awaits aselect over 4 receive cases of which "
        "one channel holds values (cases built per call); compared with one arecv.",
        unit="select",
        chanpy=Impl("chanpy", _in_asyncio(_chanpy_aselect4), needs_async=True),
        peers=(Impl("chanpy arecv", _in_asyncio(_chanpy_arecv1), needs_async=True),),
        messages=200_000,
        busy_messages=200_000,
        min_messages=1000,
    ),
    Scenario(
        name="thread-trio",
        title="thread→trio task, buffer 1024",
        description="A plain thread sends n values (blocking send); a trio task receives "
        "(aiologic.SimpleQueue is unbounded: its put never waits).",
        unit="message",
        chanpy=Impl("chanpy", _thread_to_trio(_chanpy_thread_ends), ("trio",), needs_async=True),
        peers=(
            Impl("culsans", _thread_to_trio(_culsans_thread_ends), ("trio", "culsans")),
            Impl("aiologic", _thread_to_trio(_aiologic_thread_ends), ("trio", "aiologic")),
            Impl(
                "aiologic.SimpleQueue",
                _thread_to_trio(_aiologic_simple_thread_ends),
                ("trio", "aiologic"),
            ),
            Impl(
                "trio.from_thread + memory channel",
                _thread_to_trio(_trio_from_thread_ends),
                ("trio",),
            ),
        ),
        messages=50_000,
        busy_messages=10_000,
    ),
    Scenario(
        name="thread-asyncio",
        title="thread→asyncio task, buffer 1024",
        description="A plain thread sends n values (blocking send); an asyncio task receives "
        "(aiologic.SimpleQueue is unbounded: its put never waits).",
        unit="message",
        chanpy=Impl("chanpy", _thread_to_asyncio(_chanpy_thread_ends), needs_async=True),
        peers=(
            Impl("culsans", _thread_to_asyncio(_culsans_thread_ends), ("culsans",)),
            Impl("janus", _thread_to_asyncio(_janus_thread_ends), ("janus",)),
            Impl("aiologic", _thread_to_asyncio(_aiologic_thread_ends), ("aiologic",)),
            Impl(
                "aiologic.SimpleQueue",
                _thread_to_asyncio(_aiologic_simple_thread_ends),
                ("aiologic",),
            ),
        ),
        messages=50_000,
        busy_messages=10_000,
    ),
    Scenario(
        name="thread-trio-batch",
        title="thread→trio task, batched receive (arecv_many), buffer 1024",
        description="A plain thread sends n values; a trio task takes them in batches "
        f"of up to {BATCH} with arecv_many, one checkpoint per batch (vs culsans' "
        "per-item get, and chanpy's own arecv).",
        unit="message",
        chanpy=Impl(
            "chanpy arecv_many",
            _thread_to_trio(_chanpy_thread_batch_ends),
            ("trio",),
            needs_async=True,
        ),
        peers=(
            Impl("culsans", _thread_to_trio(_culsans_thread_ends), ("trio", "culsans")),
            Impl("chanpy arecv", _thread_to_trio(_chanpy_thread_ends), ("trio",), needs_async=True),
        ),
        messages=100_000,
        busy_messages=20_000,
        targets=(Target("culsans", 0.2, "≥ 5x culsans' per-item throughput", p99=False),),
    ),
    Scenario(
        name="thread-asyncio-batch",
        title="thread→asyncio task, batched receive (arecv_many), buffer 1024",
        description="A plain thread sends n values; an asyncio task takes them in "
        f"batches of up to {BATCH} with arecv_many (vs culsans' per-item get, and "
        "chanpy's own arecv).",
        unit="message",
        chanpy=Impl(
            "chanpy arecv_many", _thread_to_asyncio(_chanpy_thread_batch_ends), needs_async=True
        ),
        peers=(
            Impl("culsans", _thread_to_asyncio(_culsans_thread_ends), ("culsans",)),
            Impl("chanpy arecv", _thread_to_asyncio(_chanpy_thread_ends), needs_async=True),
        ),
        messages=100_000,
        busy_messages=20_000,
        targets=(Target("culsans", 0.2, "≥ 5x culsans' per-item throughput", p99=False),),
    ),
    Scenario(
        name="pool-4",
        title="worker pool: 1 producer → 4 worker threads, per trivial task",
        description="One thread hands n trivial tasks to 4 worker threads through a "
        "buffer of 1024 (vs concurrent.futures.ThreadPoolExecutor(4), ...).",
        unit="task",
        chanpy=Impl("chanpy", _pool_chanpy),
        peers=(
            Impl("ThreadPoolExecutor", _pool_executor),
            Impl("queue.Queue", _pool_queue),
            Impl("pygolang", _pool_pygolang, requires=("golang",)),
        ),
        messages=100_000,
        busy_messages=30_000,
        go="pool-4",
    ),
    Scenario(
        name="group-pool",
        title="Group(limit=4): 100 000 trivial g.go() jobs, per task",
        description="`with Group(limit=4) as g:` runs n trivial jobs with g.go(fn), timed "
        "from entry to exit (threads started and joined), vs a ThreadPoolExecutor(4) "
        "(submit each, then shutdown) and a hand-written 4-thread pool on a bounded "
        "queue.Queue with sentinels.",
        unit="task",
        chanpy=Impl("chanpy Group", _group_pool_chanpy),
        peers=(
            Impl("ThreadPoolExecutor", _group_pool_executor),
            Impl("queue.Queue pool", _group_pool_queue),
        ),
        messages=100_000,
        busy_messages=30_000,
        latency="from the g.go() / submit() / put() call until the job starts",
        targets=(
            Target("ThreadPoolExecutor", 0.2, "≥ 5x ThreadPoolExecutor's throughput", p99=False),
        ),
    ),
    Scenario(
        name="pipeline-3x4",
        title="3-stage g.map pipeline, 4 worker threads a stage, per item",
        description="x+1, x*2, x-3 as three g.map stages of 4 workers each (ordered, "
        "the default; buffer=64) over n items, the consumer counting and summing them; "
        "vs the same on threads and bounded queue.Queue(64)s, and on pypeln's thread "
        "stages (workers=4, maxsize=64). Both peers are unordered; so is the second "
        "chanpy row.",
        unit="item",
        chanpy=Impl("chanpy g.map", _pipeline3_chanpy(True)),
        peers=(
            Impl("chanpy g.map ordered=False", _pipeline3_chanpy(False)),
            Impl("queue.Queue threads", _pipeline3_queue),
            Impl("pypeln.thread", _pipeline3_pypeln, requires=("pypeln",)),
        ),
        messages=20_000,
        busy_messages=5_000,
        latency="from the source yielding an item until the consumer has it",
        targets=(
            Target("queue.Queue threads", 0.5, "≥ 2x the queue.Queue pipeline", p99=False),
            Target("pypeln.thread", 0.5, "≥ 2x pypeln's thread stages", p99=False),
        ),
    ),
    Scenario(
        name="amap-asyncio",
        title="g.map of an async function under asyncio, 4 at a time, per item",
        description="`async with Group() as g: g.map(f, range(n), workers=4)` with "
        "`async def f(x): await asyncio.sleep(0); return x + 1`, consumed with async for; "
        "vs asyncio.TaskGroup with one task per item behind an asyncio.Semaphore(4), and "
        "aiostream's stream.map(xs, f, task_limit=4).",
        unit="item",
        chanpy=Impl("chanpy g.map", _in_loop(_amap_chanpy), needs_async=True),
        peers=(
            Impl("TaskGroup + Semaphore(4)", _in_loop(_amap_taskgroup)),
            Impl("aiostream", _in_loop(_amap_aiostream), requires=("aiostream",)),
        ),
        messages=20_000,
        busy_messages=10_000,
        latency="from the source yielding an item until the consumer has its result "
        "(TaskGroup: all tasks are created first, so items wait behind the semaphore)",
        targets=(
            Target("TaskGroup + Semaphore(4)", 1.0, "not slower than TaskGroup", p99=False),
            Target("aiostream", 1.0, "not slower than aiostream", p99=False),
        ),
    ),
    Scenario(
        name="cancel-latency",
        title="stop n parked worker threads: from the call until all ended, per worker",
        description="A Group of n (1000) workers blocked in recv on a channel; the time "
        "from g.cancel() until the group's exit returns (every thread ended). Vs n plain "
        "threads each in `with ctx:` blocked in recv (ctx.cancel(), then join), n threads "
        "in threading.Event.wait() (set(), join) and n threads in Queue.get() (one "
        "sentinel each, join). Latency: from the call until each worker woke.",
        unit="worker",
        chanpy=Impl("chanpy Group.cancel", _cancel_group),
        peers=(
            Impl("chanpy Context.cancel, threads", _cancel_context),
            Impl("threading.Event", _cancel_event),
            Impl("queue.Queue sentinels", _cancel_queue),
        ),
        messages=1_000,
        busy_messages=100,
        min_messages=100,
        latency="from the cancel() / set() call until each worker woke",
    ),
)


def by_name(name: str) -> Scenario:
    """The scenario called ``name``; KeyError naming the known ones otherwise."""
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(f"unknown scenario {name!r}; known: {', '.join(s.name for s in SCENARIOS)}")
