"""Throttling: an overloaded fleet skips some ticks rather than fall ever further behind.

A runner has only so much time. When its bots' ticks need more, every
tick runs later and later. ``Fleet(tick_budget=s)`` sets how much lag
the fleet will put up with: once the recent tick lag of a runner passes
half the budget, it skips a share of its normal-priority bots' ticks,
more as the lag nears the budget (up to ``1 - throttle_floor``, 90% by
default), and gives them back as the lag falls. Bots spawned with
``priority="high"`` are never throttled. ``stats().throttled`` is the
share being skipped now, from 0.0 to 1.0.
"""

import time
from collections.abc import Callable

from chanpy_patterns import Bot, BotRef, Fleet, FleetStats

PERIOD = 0.1  # every bot wants a tick every 100 ms
BUDGET = 0.1  # and the fleet accepts up to 100 ms of lag


def burn(seconds: float) -> None:
    """Work that keeps the processor busy (time.sleep would not)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class Simulated(Bot):
    def __init__(self) -> None:
        self.cost = 0.002  # 2 ms of work a tick
        self.ticks: list[float] = []

    def on_tick(self, now: float) -> None:
        self.ticks.append(now)
        burn(self.cost)

    def on_message(self, msg: object) -> object:
        if msg == "ticks":
            return self.ticks
        assert isinstance(msg, float)
        self.cost = msg
        return None


def share_of_ticks(ticks: list[float], start: float, end: float) -> float:
    """The share of its grid points in [start, end) a bot got a tick for."""
    return sum(start <= t < end for t in ticks) / ((end - start) / PERIOD)


def wait_until(fleet: Fleet, condition: Callable[[FleetStats], bool]) -> bool:
    """Poll the fleet's stats until ``condition`` holds (False after 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if condition(fleet.stats()):
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    with Fleet(workers=1, tick_budget=BUDGET) as fleet:
        # 200 bots x 2 ms every 100 ms: four times what one runner can do.
        crowd = [fleet.spawn(Simulated, tick=PERIOD) for _ in range(200)]
        vips = [fleet.spawn(Simulated, tick=PERIOD, priority="high") for _ in range(5)]
        print("throttled rose above 50%:", wait_until(fleet, lambda s: s.throttled > 0.5))

        start = time.monotonic()
        time.sleep(0.5)  # the fleet runs throttled for a while
        end = time.monotonic()

        def average_share(refs: list[BotRef]) -> float:
            shares = [share_of_ticks(ref.ask("ticks", timeout=5), start, end) for ref in refs]
            return sum(shares) / len(shares)

        crowd_share = average_share(crowd)
        vip_share = average_share(vips)
        print("the crowd got under half of its ticks:", crowd_share < 0.5)
        print("the high-priority bots got more of theirs:", vip_share > crowd_share)
        print("skipped ticks are counted:", fleet.stats().skipped_ticks > 0)

        # The load goes away: the ticks become cheap, the lag falls, and the
        # throttle gives the ticks back (gradually, so it does not oscillate).
        for ref in crowd + vips:
            ref.send(0.0)
        print("then fell below 10%:", wait_until(fleet, lambda s: s.throttled < 0.1))


if __name__ == "__main__":
    main()
