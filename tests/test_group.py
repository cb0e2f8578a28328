"""Group: errgroup + nursery + worker pool, in every world (DESIGN.md, Layer 2).

Thread-world bodies use ``with Group()`` and plain workers; trio and asyncio
bodies use ``async with Group()`` and async workers (``ops.worker`` makes a
worker of the body's world). Mixed groups put thread workers and tasks in one
group. Every count is checked; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from typing import Any

import pytest
import trio

from chanpy import Cancelled, Chan, Closed, Context, Group
from tests.worlds import Ops, run, wait_until


class Gauge:
    """Counts workers running at once; remembers the most seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.total = 0

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1


def test_go_runs_every_worker_and_exit_waits_for_all(world: str) -> None:
    async def body(ops: Ops) -> list[int]:
        done: list[int] = []
        lock = threading.Lock()

        async def work(i: int) -> None:
            await ops.sleep(0.001 * (i % 3))
            with lock:
                done.append(i)

        async with ops.scope(Group()) as g:
            for i in range(200):
                g.go(ops.worker(work), i)
        return sorted(done)  # read after the exit: every worker has finished

    assert run(world, body) == list(range(200))


def test_limit_bounds_the_workers_running_at_once(world: str) -> None:
    async def body(ops: Ops) -> tuple[int, int]:
        gauge = Gauge()

        async def work() -> None:
            gauge.enter()
            await ops.sleep(0.003)
            gauge.leave()

        async with ops.scope(Group(limit=3)) as g:
            for _ in range(40):
                if ops.world == "thread":
                    g.go(ops.worker(work))
                else:
                    await g.ago(ops.worker(work))
        return gauge.most, gauge.total

    most, total = run(world, body)
    assert total == 40
    assert most == 3  # reached, never exceeded


def test_limit_is_shared_by_threads_and_tasks_in_one_group() -> None:
    gauge = Gauge()

    def blocking() -> None:
        gauge.enter()
        time.sleep(0.003)
        gauge.leave()

    async def task() -> None:
        gauge.enter()
        await trio.sleep(0.003)
        gauge.leave()

    async def main() -> None:
        async with Group(limit=2) as g:
            for i in range(30):
                await g.ago(blocking if i % 2 else task)

    trio.run(main)
    assert gauge.total == 30
    assert gauge.most <= 2


def test_try_go_returns_false_instead_of_waiting() -> None:
    async def main() -> list[bool]:
        release: Chan[None] = Chan()
        results = []
        async with Group(limit=2) as g:

            async def hold() -> None:
                async for _ in release:
                    pass

            results.append(g.try_go(hold))
            results.append(g.try_go(hold))
            results.append(g.try_go(hold))  # both slots taken
            release.close()
        return results

    assert asyncio.run(main()) == [True, True, False]


def test_thread_go_blocks_when_the_start_queue_is_full_and_a_cancel_ends_the_wait() -> None:
    from chanpy._group import START_QUEUE

    release: Chan[None] = Chan()
    started: list[int] = []
    outcome: list[str] = []
    with pytest.raises(ExceptionGroup) as info, Group(limit=1) as g:  # noqa: PT012

        def hold(i: int) -> None:
            started.append(i)
            release.recv()

        for i in range(1 + START_QUEUE):  # one runs, the rest wait to start
            g.go(hold, i)
        assert g.try_go(hold, -1) is False
        threading.Timer(0.05, g.cancel).start()
        try:
            g.go(hold, -2)  # blocks until the cancel
        except Cancelled:
            outcome.append("cancelled")
        raise KeyError("after")
    assert outcome == ["cancelled"]
    assert -2 not in started
    assert -1 not in started
    assert [type(e) for e in info.value.exceptions] == [KeyError]


def test_ago_waits_without_blocking_the_loop_and_a_cancel_ends_the_wait() -> None:
    async def main() -> list[str]:
        ticks: list[str] = []
        async with Group(limit=1) as g:

            async def hold() -> None:
                await Chan[None]().arecv()

            g.go(hold)

            async def ticker() -> None:
                for _ in range(3):
                    await asyncio.sleep(0.005)
                    ticks.append("tick")
                g.cancel()

            ticker_task = asyncio.ensure_future(ticker())
            await g.ago(hold)  # the body is in g's scope: the cancel stops it here
            ticks.append("started")
        await ticker_task
        return ticks

    # The loop kept ticking while ago waited; the group's own cancel ended
    # the wait (and the body) without starting the job, and raised nothing.
    assert asyncio.run(main()) == ["tick", "tick", "tick"]


def test_go_in_an_async_group_never_blocks_the_loop() -> None:
    async def main() -> None:
        async with Group(limit=1) as g:
            gate: Chan[None] = Chan()

            async def hold() -> None:
                async for _ in gate:
                    pass

            g.go(hold)
            with pytest.raises(RuntimeError, match="ago"):
                g.go(hold)
            gate.close()

    asyncio.run(main())


def test_first_failure_cancels_the_others_and_exit_raises_only_real_errors(world: str) -> None:
    async def body(ops: Ops) -> tuple[list[type[BaseException]], int]:
        stuck: Chan[int] = Chan()
        cancelled = []

        async def wait_forever() -> None:
            # Only a cancellation can end this wait (native inside a task).
            try:
                await ops.recv(stuck)
            finally:
                cancelled.append(1)

        async def fail() -> None:
            await ops.sleep(0.01)
            raise ValueError("boom")

        try:
            async with ops.scope(Group()) as g:
                for _ in range(5):
                    g.go(ops.worker(wait_forever))
                g.go(ops.worker(fail))
        except ExceptionGroup as eg:
            return [type(e) for e in eg.exceptions], len(cancelled)
        return [], len(cancelled)

    assert run(world, body) == ([ValueError], 5)


def test_errors_come_in_the_order_raised_with_their_tracebacks() -> None:
    def first() -> None:
        time.sleep(0.01)  # after every go() below: a cancelled group starts nothing
        raise KeyError("first")

    def second() -> None:
        time.sleep(0.03)
        raise OSError("second")

    def ignores_cancel() -> None:
        time.sleep(0.06)  # not a chanpy call: finishes, then fails
        raise LookupError("third")

    with pytest.raises(ExceptionGroup) as info, Group() as g:  # noqa: PT012
        g.go(first)
        g.go(second)
        g.go(ignores_cancel)
    errors = info.value.exceptions
    assert [type(e) for e in errors] == [KeyError, OSError, LookupError]
    frames = [f.name for f in traceback.extract_tb(errors[1].__traceback__)]
    assert "second" in frames


def test_keyboard_interrupt_and_system_exit_propagate_as_themselves() -> None:
    """As from asyncio.TaskGroup: Ctrl-C in the body and sys.exit() in a worker
    end the program as themselves (after every worker ended), not wrapped in
    a group that `except KeyboardInterrupt` would miss; a note names the
    other errors."""
    finished: list[str] = []

    def worker() -> None:
        time.sleep(0.05)
        finished.append("worker")
        raise OSError("meanwhile")

    with pytest.raises(KeyboardInterrupt) as ki, Group() as g:  # noqa: PT012
        g.go(worker)
        time.sleep(0.1)  # the worker failed first
        raise KeyboardInterrupt
    assert finished == ["worker"]
    assert "OSError" in "".join(ki.value.__notes__)

    def leaves() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit) as info, Group() as g:
        g.go(leaves)
    assert info.value.code == 3


def test_nothing_failed_nothing_raised_and_own_cancel_is_not_an_error(world: str) -> None:
    async def body(ops: Ops) -> str:
        async def wait_forever() -> None:
            await ops.recv(Chan())

        async with ops.scope(Group()) as g:
            g.go(ops.worker(wait_forever))
            await ops.sleep(0.01)
            assert g.cancel() is True
        async with ops.scope(Group()) as g2:
            g2.go(ops.worker(ops.sleep), 0.001)
        return "clean"

    assert run(world, body) == "clean"


def test_the_body_runs_in_the_group_scope_and_its_error_counts(world: str) -> None:
    async def body(ops: Ops) -> tuple[list[type[BaseException]], bool]:
        async def fail() -> None:
            raise ValueError("worker")

        stuck_body = False
        try:
            async with ops.scope(Group()) as g:
                g.go(ops.worker(fail))
                try:
                    await ops.recv(Chan())  # only the failure's cancel ends this
                finally:
                    stuck_body = True
        except ExceptionGroup as eg:
            return [type(e) for e in eg.exceptions], stuck_body
        return [], stuck_body

    assert run(world, body) == ([ValueError], True)


def test_a_body_error_cancels_the_workers(world: str) -> None:
    async def body(ops: Ops) -> list[type[BaseException]]:
        async def wait_forever() -> None:
            await ops.recv(Chan())

        try:
            async with ops.scope(Group()) as g:
                g.go(ops.worker(wait_forever))
                raise ZeroDivisionError
        except ExceptionGroup as eg:
            return [type(e) for e in eg.exceptions]
        return []

    assert run(world, body) == [ZeroDivisionError]


def test_an_outer_cancel_propagates_unchanged(world: str) -> None:
    async def body(ops: Ops) -> tuple[bool, bool]:
        outer = Context()
        threading.Timer(0.03, outer.cancel, args=(KeyError("outer"),)).start()

        async def wait_forever() -> None:
            await ops.recv(Chan())

        try:
            async with ops.scope(outer), ops.scope(Group()) as g:
                g.go(ops.worker(wait_forever))
                await ops.recv(Chan())
        except Cancelled as exc:
            return isinstance(exc.cause, KeyError), True
        return False, False

    assert run(world, body) == (True, True)


def test_group_context_is_a_child_of_the_current_context() -> None:
    outer = Context()
    with outer, Group() as g:
        assert g.context.parent is outer
        assert not g.context.cancelled
    with Group() as g2:
        assert g2.context.parent is None


@pytest.mark.parametrize("host", ["trio", "asyncio"])
def test_mixed_group_threads_and_tasks_count_every_value(host: str) -> None:
    n = 2000
    ch: Chan[int] = Chan(16)
    got: list[int] = []
    lock = threading.Lock()

    def thread_consumer() -> None:
        for v in ch:
            with lock:
                got.append(v)

    async def task_consumer() -> None:
        async for v in ch:
            with lock:
                got.append(v)

    async def producer() -> None:
        for i in range(n):
            await ch.asend(i)
        ch.close()

    async def main() -> None:
        async with Group() as g:
            for _ in range(2):
                g.go(thread_consumer)
                g.go(task_consumer)
            g.go(producer)

    if host == "trio":
        trio.run(main)
    else:
        asyncio.run(main())
    assert sorted(got) == list(range(n))


@pytest.mark.parametrize("host", ["trio", "asyncio"])
def test_mixed_group_failure_cancels_threads_and_tasks(host: str) -> None:
    stopped: list[str] = []

    def thread_worker() -> None:
        try:
            Chan[int]().recv()
        except Cancelled:
            stopped.append("thread")
            raise

    async def task_worker() -> None:
        try:
            await Chan[int]().arecv()
        finally:  # a native cancellation inside the task
            stopped.append("task")

    def failing() -> None:
        time.sleep(0.02)
        raise RuntimeError("thread failed")

    async def main() -> list[type[BaseException]]:
        try:
            async with Group() as g:
                g.go(thread_worker)
                g.go(task_worker)
                g.go(failing)
        except ExceptionGroup as eg:
            return [type(e) for e in eg.exceptions]
        return []

    result = trio.run(main) if host == "trio" else asyncio.run(main())
    assert result == [RuntimeError]
    assert sorted(stopped) == ["task", "thread"]


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "2"])
def test_limit_must_be_a_positive_int_or_none(limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        Group(limit=limit)


def test_an_async_function_in_a_thread_group_is_a_type_error() -> None:
    async def job() -> None:
        pass

    with Group() as g, pytest.raises(TypeError, match="async with Group"):
        g.go(job)


def test_go_outside_the_groups_life_is_a_runtime_error() -> None:
    g = Group()
    with pytest.raises(RuntimeError, match="enter"):
        g.go(print)
    with g:
        pass
    with pytest.raises(RuntimeError, match="exited"):
        g.go(print)
    with pytest.raises(RuntimeError, match="once"), g:
        pass


def test_go_on_a_cancelled_group_raises_cancelled_and_starts_nothing() -> None:
    ran: list[int] = []
    with Group() as g:
        g.cancel()
        with pytest.raises(Cancelled):
            g.go(ran.append, 1)
        assert g.try_go is not None
        with pytest.raises(Cancelled):
            g.try_go(ran.append, 2)
    assert ran == []


def test_go_takes_a_callable() -> None:
    with Group() as g, pytest.raises(TypeError, match="callable"):
        g.go(42)  # type: ignore[arg-type]


def test_many_groups_leave_no_children_behind() -> None:
    root = Context()
    with root:
        for _ in range(100):
            with Group() as g:
                g.go(time.sleep, 0)
    assert len(root._children) == 0


def test_closed_results_channel_still_readable_after_exit() -> None:
    out: Chan[int] = Chan(3)
    with Group() as g:
        for i in range(3):
            g.go(out.send, i)
    out.close()
    assert sorted(out) == [0, 1, 2]
    with pytest.raises(Closed):
        out.recv()


def test_wait_until_all_pooled_threads_are_gone() -> None:
    before = threading.active_count()
    with Group(limit=4) as g:
        for _ in range(100):
            g.go(time.sleep, 0)
    wait_until(lambda: threading.active_count() <= before, timeout=10)


# -- regressions found in review ----------------------------------------------


def test_a_cancelled_ago_of_a_thread_job_does_not_hang_the_exit() -> None:
    gate: Chan[None] = Chan()

    async def main() -> str:
        async with Group(limit=1) as g:
            while g.try_go(gate.recv):  # one runs, the start queue fills
                pass
            threading.Timer(0.05, g.cancel).start()
            await g.ago(gate.recv)  # waits for a place; the cancel ends it
        return "exited"

    assert run_bounded(lambda: asyncio.run(main())) == "exited"


def test_asyncio_exit_waits_for_workers_through_repeated_cancels() -> None:
    finished: list[bool] = []

    def slow() -> None:
        time.sleep(0.3)
        finished.append(True)

    async def body() -> None:
        async with Group() as g:
            g.go(slow)
            await asyncio.sleep(10)

    async def main() -> list[bool]:
        task = asyncio.ensure_future(body())
        for _ in range(3):
            await asyncio.sleep(0.05)
            task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(finished)  # read the moment the exit returned

    assert asyncio.run(main()) == [True]


def test_g_cancel_after_an_outer_cancel_still_propagates_it() -> None:
    ctx = Context()
    after_group: list[str] = []
    with pytest.raises(Cancelled), ctx:  # noqa: PT012
        with Group() as g:
            ctx.cancel()
            assert g.cancel() is False
            Chan[int]().recv()
        after_group.append("ran")
    assert after_group == []


def test_a_bodys_inner_context_cancel_is_an_error_of_the_group() -> None:
    # A BaseExceptionGroup: Cancelled is a BaseException.
    with pytest.raises(BaseExceptionGroup) as info, Group(), Context(timeout=0.01):
        Chan[int]().recv()
    [exc] = info.value.exceptions
    assert isinstance(exc, Cancelled)
    assert isinstance(exc.cause, TimeoutError)


def run_bounded(fn: Any, seconds: float = 20) -> Any:
    """Run ``fn`` in a thread; fail instead of hanging."""
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "hung"
    return out[0]
