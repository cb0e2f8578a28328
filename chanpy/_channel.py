"""``Chan``: one Go-style channel, usable from any thread.

The operations themselves are C methods of ``fast.ChanCore`` (GIL held, no
cffi call on the way); a blocked operation is handed to a parker. This
module adds what is better said in Python: typing, iteration, the context
manager and ``statistics()``.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from chanpy import _async
from chanpy._errors import Closed
from chanpy._ffi import fast
from chanpy._stats import ChanStatistics

__all__ = ["Chan"]

T = TypeVar("T")


class Chan(fast.ChanCore, Generic[T]):  # type: ignore[misc]
    """A channel of values of type ``T``.

    ``Chan()`` is unbuffered: a send completes only when a receiver takes the
    value. ``Chan(n)`` buffers up to ``n`` values in FIFO order. Raises
    ValueError if ``capacity`` is not an int >= 0.

    Any object is a value, ``None`` included. Safe to share between any
    number of threads; each operation is atomic.
    """

    if TYPE_CHECKING:

        def __init__(self, capacity: int = 0) -> None: ...

        def send(self, value: T, timeout: float | None = None) -> None:
            """Send, blocking until taken or buffered; Closed, TimeoutError."""

        def recv(self, timeout: float | None = None) -> T:
            """Receive, blocking until a value comes; Closed once drained."""

        def send_nowait(self, value: T) -> None:
            """Send only if possible right now, else WouldBlock; Closed."""

        def recv_nowait(self) -> T:
            """Receive only if possible right now, else WouldBlock; Closed."""

        def close(self) -> bool:
            """Close (idempotent); True if this call closed it."""

        def __len__(self) -> int: ...

        @property
        def capacity(self) -> int:
            """Buffered slots (0: unbuffered)."""

        @property
        def closed(self) -> bool:
            """True once close() was called."""

    def __iter__(self) -> Chan[T]:
        return self

    def __next__(self) -> T:
        """Receive the next value (blocking); stop once closed and drained."""
        try:
            return self.recv()
        except Closed:
            raise StopIteration from None

    async def asend(self, value: T, timeout: float | None = None) -> None:
        """Send from a trio or asyncio task, waiting without blocking the loop.

        Raises Closed if the channel is closed, TimeoutError once ``timeout``
        seconds pass (``timeout=0`` polls), ValueError / TypeError for a bad
        timeout, RuntimeError outside a trio or asyncio task. If the task is
        cancelled, either the value was not sent at all, or it was and the
        call returns normally. Under trio this is always a checkpoint.
        """
        await _async.asend(self, value, timeout)

    async def arecv(self, timeout: float | None = None) -> T:
        """Receive from a trio or asyncio task, waiting without blocking the loop.

        Raises Closed once the channel is closed and drained, TimeoutError
        once ``timeout`` seconds pass (``timeout=0`` polls), ValueError /
        TypeError for a bad timeout, RuntimeError outside a trio or asyncio
        task. If the task is cancelled, either no value was taken, or one
        was and it is returned. Under trio this is always a checkpoint.
        """
        return await _async.arecv(self, timeout)  # type: ignore[no-any-return]

    def __aiter__(self) -> Chan[T]:
        return self

    async def __anext__(self) -> T:
        """Receive the next value (waiting); stop once closed and drained."""
        try:
            return await _async.arecv(self, None)  # type: ignore[no-any-return]
        except Closed:
            raise StopAsyncIteration from None

    def __enter__(self) -> Chan[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def statistics(self) -> ChanStatistics:
        """A frozen snapshot: length, capacity, waiting senders/receivers, closed.

        Never blocks. Each field may change as soon as it is read.
        """
        length, capacity, senders, receivers, closed = self._stats()
        return ChanStatistics(length, capacity, senders, receivers, closed)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<{type(self).__name__} {len(self)}/{self.capacity}{state} at {id(self):#x}>"
