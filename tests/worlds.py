"""The three worlds a channel is used from, behind one interface.

A contract test is written once as an ``async def body(ops)`` and run in
each world: in a plain thread (``ops`` calls the blocking API; the
coroutine never suspends), in a trio run, or in an asyncio loop — each
party in a thread of its own, so that parties of any worlds can meet on
one channel. Every wait is bounded: a party that does not finish in time
fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

import trio

import chanpy
from chanpy import Case, Chan, Selected

T = TypeVar("T")

PARTY_TIMEOUT = 20.0


class Ops:
    """Channel operations as seen from one world (thread: blocking calls)."""

    world = "thread"

    async def send(self, ch: Chan[Any], value: Any, timeout: float | None = None) -> None:
        ch.send(value, timeout=timeout)

    async def recv(self, ch: Chan[Any], timeout: float | None = None) -> Any:
        return ch.recv(timeout=timeout)

    async def select(self, *cases: Case[Any], timeout: float | None = None) -> Selected:
        return chanpy.select(*cases, timeout=timeout)

    async def recv_many(self, ch: Chan[Any], n: int, timeout: float | None = None) -> list[Any]:
        return ch.recv_many(n, timeout=timeout)

    async def items(self, ch: Chan[Any]) -> list[Any]:
        return list(ch)

    async def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def scope(self, cm: Any) -> Any:
        """``cm`` (a Context or a Group) as this world enters it: ``with`` here."""
        return _Blocking(cm)

    def worker(self, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        """A group worker running the ops-coroutine ``fn`` in this world."""

        def run(*args: Any) -> Any:
            return _drive(fn(*args))

        return run


class _Blocking:
    """An async context manager over a plain one, for thread-world bodies."""

    def __init__(self, cm: Any) -> None:
        self._cm = cm

    async def __aenter__(self) -> Any:
        return self._cm.__enter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return self._cm.__exit__(*exc)


class AsyncOps(Ops):
    """The same operations through the async API (trio or asyncio)."""

    def __init__(self, world: str) -> None:
        self.world = world

    async def send(self, ch: Chan[Any], value: Any, timeout: float | None = None) -> None:
        await ch.asend(value, timeout=timeout)

    async def recv(self, ch: Chan[Any], timeout: float | None = None) -> Any:
        return await ch.arecv(timeout=timeout)

    async def select(self, *cases: Case[Any], timeout: float | None = None) -> Selected:
        return await chanpy.aselect(*cases, timeout=timeout)

    async def recv_many(self, ch: Chan[Any], n: int, timeout: float | None = None) -> list[Any]:
        return await ch.arecv_many(n, timeout=timeout)

    async def items(self, ch: Chan[Any]) -> list[Any]:
        return [v async for v in ch]

    async def sleep(self, seconds: float) -> None:
        if self.world == "trio":
            await trio.sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    def scope(self, cm: Any) -> Any:
        return cm  # ``async with`` it

    def worker(self, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        return fn  # an async function: a task of the group


Body = Callable[[Ops], Coroutine[Any, Any, T]]


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a thread-world coroutine: it must finish without suspending."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("a thread-world body suspended; it must only block")


class Party(Generic[T]):
    """One body running in a thread of its own, in some world."""

    def __init__(self, world: str, body: Body[T]) -> None:
        self.world = world
        self._body = body
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True, name=f"party-{world}")
        self._thread.start()

    def _main(self) -> None:
        try:
            if self.world == "thread":
                self._result = _drive(self._body(Ops()))
            elif self.world == "trio":
                ops = AsyncOps("trio")
                self._result = trio.run(self._body, ops)
            else:
                ops = AsyncOps("asyncio")
                self._result = asyncio.run(self._body(ops))
        except BaseException as exc:  # handed to the test thread
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = PARTY_TIMEOUT) -> T:
        """The body's return value; re-raises its exception; fails if still running."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"{self.world} party still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


WORLDS = ("thread", "trio", "asyncio")


def run(world: str, body: Body[T], timeout: float = PARTY_TIMEOUT) -> T:
    """Run ``body`` in ``world`` to completion and return its result."""
    return Party(world, body).result(timeout)


def start(world: str, body: Body[T]) -> Party[T]:
    """Start ``body`` in ``world`` in the background."""
    return Party(world, body)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` (a state of the channel) until true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


def waited_at_least(elapsed: float, seconds: float) -> bool:
    """True if ``elapsed`` is ``seconds`` or more, give or take clock granularity."""
    return elapsed >= seconds - 0.002


__all__ = [
    "WORLDS",
    "AsyncOps",
    "Ops",
    "Party",
    "run",
    "start",
    "wait_until",
    "waited_at_least",
]
