"""Bad input: a clear error that names the problem, and no trace on any channel.

Each test sets channels up in a state where the call, had it been accepted,
would have changed them (a value ready to take, room to send into), makes
the bad call, checks the exception type and that its message names the
problem, and then checks the channels are exactly as before: same
``statistics()`` and the same contents, in order.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio

from chanpy import Chan, ChanStatistics, Closed, WouldBlock, recv, select, send

# --- helpers -------------------------------------------------------------------


def _contents(ch: Chan[Any]) -> list[Any]:
    """Drain ``ch`` without blocking (for the final comparison)."""
    out = []
    while True:
        try:
            out.append(ch.recv_nowait())
        except (WouldBlock, Closed):
            return out


@contextmanager
def _untouched(*chans: Chan[Any]) -> Iterator[None]:
    """The block must leave every channel's statistics unchanged."""
    before = [ch.statistics() for ch in chans]
    yield
    after = [ch.statistics() for ch in chans]
    assert after == before, "a rejected call changed a channel"


def _loaded(capacity: int, *values: Any) -> Chan[Any]:
    ch: Chan[Any] = Chan(capacity)
    for v in values:
        ch.send_nowait(v)
    return ch


# --- capacity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "capacity",
    [-1, -(2**70), 2**70, 1.0, 2.5, math.nan, "3", None, [4], True, False],
    ids=repr,
)
def test_bad_capacity_is_a_value_error_naming_capacity(capacity: Any) -> None:
    # bool is refused although it is an int subclass: Chan(True) is almost
    # certainly a mistake, not a request for one slot.
    with pytest.raises(ValueError, match="capacity") as info:
        Chan(capacity)
    assert repr(capacity)[:20] in str(info.value), "the message should show the bad value"


@pytest.mark.parametrize("capacity", [0, 1, 1024])
def test_good_capacity_is_accepted(capacity: int) -> None:
    ch: Chan[int] = Chan(capacity)
    assert ch.capacity == capacity
    assert Chan(capacity=capacity).capacity == capacity


# --- select arguments ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [42, "recv", None, recv, object()], ids=repr)
@pytest.mark.parametrize("position", [0, 1, 2])
def test_select_with_a_non_case_names_its_position(bad: Any, position: int) -> None:
    ready = _loaded(2, "v")  # a recv case on it would fire
    room = _loaded(2)  # a send case on it would fire
    cases: list[Any] = [recv(ready), send(room, "w")]
    cases.insert(position, bad)
    with _untouched(ready, room), pytest.raises(TypeError, match=f"case {position}\\b") as info:
        select(*cases)
    assert type(bad).__name__ in str(info.value)
    assert _contents(ready) == ["v"]
    assert _contents(room) == []


@pytest.mark.parametrize("bad", [42, "chan", object(), [Chan()]], ids=repr)
def test_case_constructors_refuse_a_non_channel(bad: Any) -> None:
    with pytest.raises(TypeError, match="Chan"):
        recv(bad)
    with pytest.raises(TypeError, match="Chan"):
        send(bad, 1)


def test_select_refuses_unknown_keywords() -> None:
    ready = _loaded(1, "v")
    with _untouched(ready), pytest.raises(TypeError, match="tiemout"):
        select(recv(ready), tiemout=1)  # type: ignore[call-arg]


# --- timeouts ---------------------------------------------------------------------------


def _send(ch: Chan[Any], timeout: Any) -> None:
    ch.send("new", timeout=timeout)


def _recv(ch: Chan[Any], timeout: Any) -> None:
    ch.recv(timeout=timeout)


def _select_recv(ch: Chan[Any], timeout: Any) -> None:
    select(recv(None), recv(ch), timeout=timeout)


def _select_send(ch: Chan[Any], timeout: Any) -> None:
    select(send(ch, "new"), recv(None), timeout=timeout)


OPERATIONS: list[Callable[[Chan[Any], Any], None]] = [_send, _recv, _select_recv, _select_send]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("timeout", [-1, -0.001, -1e-300, -math.inf, math.nan, -math.nan], ids=repr)
def test_negative_or_nan_timeout_is_a_value_error(
    operation: Callable[[Chan[Any], Any], None], timeout: float
) -> None:
    # One value in, one slot free: both a send and a receive would succeed.
    ch = _loaded(2, "old")
    with _untouched(ch), pytest.raises(ValueError, match="timeout") as info:
        operation(ch, timeout)
    assert repr(timeout) in str(info.value) or "nan" in str(info.value)
    assert _contents(ch) == ["old"]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("timeout", ["1", b"1", object(), [1], 1j], ids=repr)
def test_non_number_timeout_is_a_type_error(
    operation: Callable[[Chan[Any], Any], None], timeout: object
) -> None:
    ch = _loaded(2, "old")
    with _untouched(ch), pytest.raises(TypeError, match="timeout"):
        operation(ch, timeout)
    assert _contents(ch) == ["old"]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("zero", [0, 0.0, -0.0], ids=repr)
def test_zero_timeout_polls(operation: Callable[[Chan[Any], Any], None], zero: float) -> None:
    """The boundary: 0 (-0.0 included) is valid and means poll."""
    ready = _loaded(2, "old")
    operation(ready, zero)
    sends = operation in (_send, _select_send)
    assert _contents(ready) == (["old", "new"] if sends else [])
    blocked: Chan[Any] = Chan()
    with _untouched(blocked), pytest.raises(TimeoutError):
        operation(blocked, zero)


# --- closed channels ------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [0, 3])
def test_send_on_closed_raises_closed_and_keeps_the_buffer(capacity: int) -> None:
    ch = _loaded(capacity, *range(min(capacity, 2)))
    ch.close()
    kept = list(range(min(capacity, 2)))
    with _untouched(ch):
        with pytest.raises(Closed, match="closed"):
            ch.send("x")
        with pytest.raises(Closed, match="closed"):
            ch.send("x", timeout=1)
        with pytest.raises(Closed, match="closed"):
            ch.send_nowait("x")
        with pytest.raises(Closed, match="closed"):
            select(send(ch, "x"))
        with pytest.raises(Closed, match="case 1"):
            select(recv(None), send(ch, "x"), timeout=0)
    assert _contents(ch) == kept
    assert ch.statistics() == ChanStatistics(0, capacity, 0, 0, True)


# --- blocking calls inside a running event loop ------------------------------------------


def _in_asyncio(body: Callable[[], Any]) -> Any:
    async def main() -> Any:
        return body()

    return asyncio.run(main())


def _in_trio(body: Callable[[], Any]) -> Any:
    async def main() -> Any:
        return body()

    return trio.run(main)


LOOPS = [
    pytest.param(_in_asyncio, "asyncio", id="asyncio"),
    pytest.param(_in_trio, "trio", id="trio"),
]


def _refused(run: Callable[[Callable[[], Any]], Any], call: Callable[[], Any]) -> RuntimeError:
    def body() -> RuntimeError:
        with pytest.raises(RuntimeError) as info:
            call()
        return info.value

    result = run(body)
    assert isinstance(result, RuntimeError)
    return result


@pytest.mark.parametrize(("run", "world"), LOOPS)
@pytest.mark.parametrize("timeout", [None, 5.0])
def test_blocking_recv_in_a_running_loop_points_to_arecv(
    run: Callable[[Callable[[], Any]], Any], world: str, timeout: float | None
) -> None:
    ch: Chan[Any] = Chan()
    with _untouched(ch):
        exc = _refused(run, lambda: ch.recv(timeout=timeout))
    assert "arecv" in str(exc)
    assert world in str(exc)
    # No receiver was left registered: a send still finds nobody.
    with pytest.raises(WouldBlock):
        ch.send_nowait("x")


@pytest.mark.parametrize(("run", "world"), LOOPS)
@pytest.mark.parametrize("capacity", [0, 1])
def test_blocking_send_in_a_running_loop_points_to_asend(
    run: Callable[[Callable[[], Any]], Any], world: str, capacity: int
) -> None:
    ch = _loaded(capacity, *(["full"] * capacity))
    with _untouched(ch):
        exc = _refused(run, lambda: ch.send("x"))
    assert "asend" in str(exc)
    assert world in str(exc)
    # The value was not left behind for a later receiver.
    assert _contents(ch) == ["full"] * capacity
    with pytest.raises(WouldBlock):
        ch.recv_nowait()


@pytest.mark.parametrize(("run", "world"), LOOPS)
def test_blocking_select_in_a_running_loop_points_to_aselect(
    run: Callable[[Callable[[], Any]], Any], world: str
) -> None:
    a: Chan[Any] = Chan()
    b = _loaded(1, "full")
    with _untouched(a, b):
        exc = _refused(run, lambda: select(recv(a), send(b, "x"), recv(None), timeout=3))
    assert "aselect" in str(exc)
    assert world in str(exc)
    assert _contents(b) == ["full"]


@pytest.mark.parametrize(("run", "world"), LOOPS)
@pytest.mark.parametrize("case", ["recv", "send"])
def test_blocking_one_case_select_in_a_running_loop_points_to_aselect(
    run: Callable[[Callable[[], Any]], Any], world: str, case: str
) -> None:
    """``select`` with a single case is still a select: its async form is aselect."""
    a: Chan[Any] = Chan()
    with _untouched(a):
        exc = _refused(run, lambda: select(recv(a) if case == "recv" else send(a, 1)))
    assert world in str(exc)
    assert "aselect" in str(exc), f"select() refused with advice for another call: {exc}"


@pytest.mark.parametrize(("run", "world"), LOOPS)
def test_calls_that_do_not_wait_are_allowed_in_a_running_loop(
    run: Callable[[Callable[[], Any]], Any], world: str
) -> None:
    ch = _loaded(2, "a")
    closed = _loaded(1, "last")
    closed.close()
    empty: Chan[Any] = Chan()

    def body() -> list[Any]:
        seen: list[Any] = []
        ch.send("b")  # room in the buffer
        seen.append(ch.recv())  # a value is there
        seen.append(select(recv(empty), recv(ch)).value)  # a case is ready
        seen.append(closed.recv())  # drains the last value
        with pytest.raises(Closed):
            closed.recv()  # closed and drained: no wait
        with pytest.raises(Closed):
            closed.send(1)
        with pytest.raises(TimeoutError):
            empty.recv(timeout=0)  # a poll never waits
        with pytest.raises(TimeoutError):
            select(recv(empty), timeout=0)
        return seen

    assert run(body) == ["a", "b", "last"]
    assert len(ch) == 0


async def _until(check: Callable[[], bool], sleep: Callable[[float], Awaitable[Any]]) -> None:
    for _ in range(2000):
        if check():
            return
        await sleep(0.005)
    raise AssertionError("condition never became true")


@pytest.mark.parametrize("world", ["asyncio", "trio"])
def test_other_threads_may_block_while_a_loop_runs(world: str) -> None:
    """The refusal is about the loop's own thread only."""
    ch: Chan[Any] = Chan()
    got: list[Any] = []
    worker = threading.Thread(target=lambda: got.append(ch.recv(timeout=20)), daemon=True)

    async def main() -> None:
        worker.start()
        sleep = asyncio.sleep if world == "asyncio" else trio.sleep
        await _until(lambda: ch.statistics().waiting_receivers == 1, sleep)
        ch.send_nowait("hello")

    if world == "asyncio":
        asyncio.run(main())
    else:
        trio.run(main)
    worker.join(20)
    assert not worker.is_alive()
    assert got == ["hello"]


@pytest.mark.parametrize("bad", [True, False])
def test_a_bool_timeout_is_a_type_error(bad: bool) -> None:
    # True would otherwise mean one second: almost surely a mistake.
    ch: Chan[int] = Chan(1)
    ch.send_nowait(1)
    with pytest.raises(TypeError, match="timeout"):
        ch.recv(timeout=bad)
    with pytest.raises(TypeError, match="timeout"):
        ch.send(2, timeout=bad)
    with pytest.raises(TypeError, match="timeout"):
        select(recv(ch), timeout=bad)
    assert ch.recv_nowait() == 1


def test_send_refuses_a_timeout_given_twice() -> None:
    ch: Chan[int] = Chan(1)
    with pytest.raises(TypeError, match="multiple values for argument 'timeout'"):
        ch.send(1, 5, timeout=0)  # type: ignore[misc]
    assert len(ch) == 0
