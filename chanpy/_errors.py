"""The few errors chanpy raises besides the builtin TimeoutError/ValueError/TypeError."""

from __future__ import annotations

__all__ = ["Closed", "WouldBlock"]


class Closed(Exception):
    """The channel is closed: a send on it, or a receive once it is drained."""


class WouldBlock(Exception):
    """A ``_nowait`` operation (or ``select(block=False)``) could not complete now."""
