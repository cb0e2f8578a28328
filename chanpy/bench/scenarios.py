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

import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
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
    """A goal the project set for a ratio (issue 2's performance targets)."""

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
    """Ops per run beside the busy thread (blocking there costs ~5 ms)."""
    go: str | None = None
    """The same workload's name in bench/go/chanbench.go, if it has one."""
    targets: tuple[Target, ...] = field(default_factory=tuple)
    multiple: int = 1
    """Op counts are rounded to a multiple of this (producers x consumers)."""
    min_messages: int = 2048
    """The fewest ops a run should do to be representative (twice a buffer of
    1024, so that senders do block); only an implementation too slow to do
    that within its time allowance does fewer."""

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


def _aiologic_green_pipe(capacity: int) -> tuple[Put, Get]:
    q = _module("aiologic").Queue(maxsize=capacity)
    return q.green_put, q.green_get


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


async def _consume(get: AsyncGet, n: int, stamped: bool, lat: list[int]) -> None:
    if stamped:
        append = lat.append
        for _ in range(n):
            v = await get()
            append(perf_counter_ns() - v)
    else:
        for _ in range(n):
            await get()


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
            await _consume(ends.get, n, stamped, lat)
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
            await _consume(ends.get, n, stamped, lat)
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


def _janus_async_ends() -> _Ends:
    q = _module("janus").Queue(ASYNC_CAPACITY)
    return _Ends(q.async_q.put, q.async_q.get, q.aclose)


def _janus_thread_ends() -> _Ends:
    q = _module("janus").Queue(ASYNC_CAPACITY)
    return _Ends(q.sync_q.put, q.async_q.get, q.aclose)


# --------------------------------------------------------------------------
# The scenarios.
# --------------------------------------------------------------------------

_CAP = 1024

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="threads-1to1",
        title="thread→thread, 1 producer / 1 consumer, buffer 1024",
        description="One thread sends n values, another receives them, through "
        "a buffer of 1024 (Chan(1024) vs queue.Queue(1024), ...).",
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
        "sends it back on another; one op is a round trip (vs two queue.Queue(1)).",
        unit="round trip",
        chanpy=Impl("chanpy", _pingpong(_pair(lambda: _chanpy_pipe(0)))),
        peers=(
            Impl("queue.Queue(1) pair", _pingpong(_pair(lambda: _queue_pipe(1)))),
            Impl("pygolang", _pingpong(_pair(lambda: _pygolang_pipe(0))), requires=("golang",)),
        ),
        messages=20_000,
        busy_messages=5_000,
        min_messages=50,
        go="pingpong",
        targets=(Target("queue.Queue(1) pair", 0.5, "≤ 0.5x the queue pair's round trip"),),
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
        description="A plain thread sends n values (blocking send); a trio task receives.",
        unit="message",
        chanpy=Impl("chanpy", _thread_to_trio(_chanpy_thread_ends), ("trio",), needs_async=True),
        peers=(
            Impl("culsans", _thread_to_trio(_culsans_thread_ends), ("trio", "culsans")),
            Impl("aiologic", _thread_to_trio(_aiologic_thread_ends), ("trio", "aiologic")),
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
        description="A plain thread sends n values (blocking send); an asyncio task receives.",
        unit="message",
        chanpy=Impl("chanpy", _thread_to_asyncio(_chanpy_thread_ends), needs_async=True),
        peers=(
            Impl("culsans", _thread_to_asyncio(_culsans_thread_ends), ("culsans",)),
            Impl("janus", _thread_to_asyncio(_janus_thread_ends), ("janus",)),
            Impl("aiologic", _thread_to_asyncio(_aiologic_thread_ends), ("aiologic",)),
        ),
        messages=50_000,
        busy_messages=10_000,
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
)


def by_name(name: str) -> Scenario:
    """The scenario called ``name``; KeyError naming the known ones otherwise."""
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(f"unknown scenario {name!r}; known: {', '.join(s.name for s in SCENARIOS)}")
