"""The frozen record returned by ``Chan.statistics()``."""

from __future__ import annotations

import attrs

__all__ = ["ChanStatistics"]


@attrs.frozen
class ChanStatistics:
    """A snapshot of one channel; each field may change right after it is taken."""

    #: Values in the buffer now (always 0 for an unbuffered channel).
    length: int
    #: Buffered slots (0: unbuffered).
    capacity: int
    #: Operations (send calls or select send cases) waiting for room or a receiver.
    waiting_senders: int
    #: Operations (recv calls or select recv cases) waiting for a value.
    waiting_receivers: int
    #: True once ``close()`` was called.
    closed: bool
