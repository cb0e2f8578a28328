"""Restart: how a crashed bot comes back (OTP's intensity and period, plus backoff)."""

from __future__ import annotations

import math
import random
from typing import Final

_NUMBER_HINT: Final = "pass a number of seconds"


def _seconds(name: str, value: object, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"Restart({name}=...) takes a number, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or v < 0 or (v == 0 and not allow_zero) or math.isinf(v):
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Restart({name}={value!r}) must be finite and {need}; {_NUMBER_HINT}")
    return v


class Restart:
    """A restart policy: ``Restart(max_restarts=3, within=5.0, backoff=(0.01, 1.0))``.

    A bot whose handler raises is rebuilt from its spawn arguments after a
    backoff that doubles with each crash, from ``backoff[0]`` up to
    ``backoff[1]`` seconds, with jitter (a random delay between half and
    all of it). After a quiet period of ``within`` seconds with no crash
    the backoff starts again from ``backoff[0]``. More than
    ``max_restarts`` crashes within ``within`` seconds stop the bot for
    good (BotFailed). ``max_restarts=0`` stops it at the first crash.

    Raises TypeError or ValueError for a bad argument. Immutable; one
    policy may be shared by many bots.
    """

    __slots__ = ("backoff", "max_restarts", "within")

    max_restarts: int
    within: float
    backoff: tuple[float, float]

    def __init__(
        self,
        max_restarts: int = 3,
        within: float = 5.0,
        backoff: tuple[float, float] = (0.01, 1.0),
    ) -> None:
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int):
            raise TypeError(
                f"Restart(max_restarts=...) takes an int, got {type(max_restarts).__name__}"
            )
        if max_restarts < 0:
            raise ValueError(f"Restart(max_restarts={max_restarts}) must be >= 0")
        within_s = _seconds("within", within, allow_zero=False)
        if not isinstance(backoff, tuple) or len(backoff) != 2:
            raise TypeError("Restart(backoff=...) takes a pair (first, most) of seconds")
        lo = _seconds("backoff", backoff[0], allow_zero=True)
        hi = _seconds("backoff", backoff[1], allow_zero=True)
        if lo > hi:
            raise ValueError(
                f"Restart(backoff={backoff!r}): the first delay exceeds the largest; "
                "pass (first, most) with first <= most"
            )
        object.__setattr__(self, "max_restarts", max_restarts)
        object.__setattr__(self, "within", within_s)
        object.__setattr__(self, "backoff", (lo, hi))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Restart is immutable")

    def __repr__(self) -> str:
        return (
            f"Restart(max_restarts={self.max_restarts}, within={self.within:g}, "
            f"backoff=({self.backoff[0]:g}, {self.backoff[1]:g}))"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Restart):
            return NotImplemented
        return (self.max_restarts, self.within, self.backoff) == (
            other.max_restarts,
            other.within,
            other.backoff,
        )

    def __hash__(self) -> int:
        return hash((self.max_restarts, self.within, self.backoff))


class Intensity:
    """One supervised unit's crash record under a Restart policy (not thread-safe:
    only the bot's runner touches it)."""

    __slots__ = ("_crashes", "_last", "_streak", "policy")

    def __init__(self, policy: Restart) -> None:
        self.policy = policy
        self._crashes: list[float] = []  # inside the period; a list: an empty deque is 600 B
        self._streak = 0  # crashes since the last quiet period: the backoff's exponent
        self._last = -math.inf

    def crash(self, now: float) -> float | None:
        """Record a crash at ``now``: the delay before the restart, or None for "stop for good"."""
        p = self.policy
        if now - self._last > p.within:
            self._streak = 0  # a quiet period resets the backoff
        self._last = now
        self._crashes.append(now)
        horizon = now - p.within
        if self._crashes[0] < horizon:
            self._crashes = [t for t in self._crashes if t >= horizon]
        if len(self._crashes) > p.max_restarts:
            return None
        lo, hi = p.backoff
        delay = min(hi, lo * (2.0**self._streak))
        self._streak += 1
        return random.uniform(delay / 2, delay)

    @property
    def crashes_in_period(self) -> int:
        """How many crashes fall inside the current period."""
        return len(self._crashes)
