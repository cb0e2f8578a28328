"""FleetStats: a frozen snapshot of what a fleet did and how it keeps up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FleetStats:
    """What ``Fleet.stats()`` returns; counters are totals since the fleet started.

    Tick lags (seconds a tick ran after its due time) are over the recent
    window: the last ~4096 ticks of each runner.
    """

    bots: int  #: bots alive now
    spawned: int  #: bots spawned so far
    runners: int
    ticks: int  #: on_tick calls so far
    skipped_ticks: int  #: grid points with no tick: late bots, bots in backoff, the throttle
    tick_lag_p50: float
    tick_lag_p99: float
    tick_lag_max: float
    messages: int  #: messages handled (asks included)
    mailbox_high_water: int  #: the deepest mailbox seen
    restarts: int
    dead_letters: int
    dead_letters_dropped: int  #: dead letters counted but not kept (the channel was full)
    failed: int  #: bots stopped for good after too many crashes
    throttled: float  #: share of normal-priority ticks being skipped now, 0.0 to 1.0
    bytes_per_bot: float  #: the fleet's own memory per bot (its records, mailboxes, wheel)
    stalls: int  #: times the watchdog saw a runner stuck in one handler
    uptime: float  #: seconds since the fleet started


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of an ascending sequence, nearest rank; 0.0 if empty."""
    if not ordered:
        return 0.0
    i = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[i]
