"""The few errors chanpy raises besides the builtin TimeoutError/ValueError/TypeError."""

from __future__ import annotations

from typing import Any

__all__ = ["Cancelled", "Closed", "WouldBlock"]


class Closed(Exception):
    """The channel is closed: a send on it, or a receive once it is drained."""


class WouldBlock(Exception):
    """A ``_nowait`` operation (or ``select(block=False)``) could not complete now."""


class Cancelled(BaseException):
    """A chanpy call, or a scope's block, was stopped by a cancelled ``Context``.

    A BaseException (like trio.Cancelled and asyncio.CancelledError), so a
    broad ``except Exception`` does not swallow it. ``context`` is the
    context of the scope that was cancelled, ``cause`` what it was
    cancelled with (None, an exception given to ``cancel``, or
    TimeoutError for a deadline).
    """

    def __init__(self, context: Any, cause: BaseException | None = None) -> None:
        super().__init__(context, cause)
        self.context = context
        self.cause = cause

    def __str__(self) -> str:
        why = "" if self.cause is None else f": {self.cause!r}"
        return f"the context was cancelled{why}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.context, self.cause))
