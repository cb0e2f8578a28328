"""``Chan``: one Go-style channel, usable from any thread.

The operations themselves are C methods of ``fast.ChanCore`` (GIL held, no
cffi call on the way); a blocked operation is handed to a parker. This
module adds what is better said in Python: typing, iteration, the async
methods, the context manager and ``statistics()``.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from chanpy import _async
from chanpy._errors import Closed
from chanpy._ffi import fast
from chanpy._stats import ChanStatistics

__all__ = ["Chan"]

_WOULDBLOCK = fast.WOULDBLOCK
_CLOSED_DRAINED = fast.CLOSED

T = TypeVar("T")

if TYPE_CHECKING:
    # The C base is untyped (Any); deriving from it would make mypy accept
    # any use of a Chan. Type checkers see a plain class with the methods
    # declared below instead.
    _ChanBase = object
else:
    _ChanBase = fast.ChanCore


class Chan(_ChanBase, Generic[T]):
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

        # Internal C methods used by chanpy itself.
        def _try_send(self, value: T) -> int: ...
        def _try_recv(self) -> object: ...
        def _stats(self) -> tuple[int, int, int, int, bool]: ...

    def __iter__(self) -> Chan[T]:
        return self

    def __next__(self) -> T:
        """Receive the next value (blocking); stop once closed and drained."""
        try:
            return self.recv()
        except Closed:
            raise StopIteration from None

    if TYPE_CHECKING:

        async def asend(self, value: T, timeout: float | None = None) -> None:
            """Send from a trio or asyncio task (see chanpy._async.asend)."""

        async def arecv(self, timeout: float | None = None) -> T:
            """Receive from a trio or asyncio task (see chanpy._async.arecv)."""

        async def __anext__(self) -> T:
            """Receive the next value (waiting); stop once closed and drained."""

    else:
        # Plain functions bound as methods: one coroutine per call.
        asend = _async.asend
        arecv = _async.arecv
        __anext__ = _async.anext_value

    def recv_many(self, max_items: int, timeout: float | None = None) -> list[T]:
        """Receive a batch: wait for one value, then take up to ``max_items - 1``
        more that are ready at once; Go's "drain what is there" in one call.

        Returns a non-empty list of at most ``max_items`` values in channel
        order. Blocks only for the first value. Raises Closed once the
        channel is closed and drained (values taken before the close are
        returned first), TimeoutError if no value came within ``timeout``
        seconds (nothing was taken), TypeError / ValueError for a
        ``max_items`` that is not an int >= 1 or a bad timeout, before
        touching the channel.
        """
        limit = _check_max_items("recv_many", max_items)
        values = [self.recv(timeout)]
        _take_ready(self, values, limit)
        return values

    if TYPE_CHECKING:

        async def arecv_many(self, max_items: int, timeout: float | None = None) -> list[T]:
            """The async form of ``recv_many`` (see chanpy._async.arecv_many)."""

    else:
        arecv_many = _async.arecv_many

    def __aiter__(self) -> Chan[T]:
        return self

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


def _check_max_items(api: str, max_items: object) -> int:
    if isinstance(max_items, bool) or not isinstance(max_items, int):
        raise TypeError(f"{api}(max_items) takes an int >= 1, got {type(max_items).__name__}")
    if max_items < 1:
        raise ValueError(f"{api}(max_items={max_items}) must be >= 1 (the largest batch to return)")
    return max_items


def _take_ready(chan: Chan[T], values: list[T], limit: int) -> None:
    """Append what ``chan`` has ready right now, up to ``limit`` values in all."""
    try_recv = chan._try_recv
    while len(values) < limit:
        v = try_recv()
        if v is _WOULDBLOCK or v is _CLOSED_DRAINED:
            return
        values.append(v)  # type: ignore[arg-type]
