"""A first fleet: a thousand bots that tick and take messages, on two threads.

A bot is not a thread or a task: it is an object with some state and a
few handlers, and a ``Fleet`` runs the handlers of many bots on a few
runners. ``on_tick`` is called every ``tick`` seconds on a fixed schedule,
``on_message`` for each message in its mailbox, in the order they came;
what ``on_message`` returns is the answer to ``ask``. One bot's handlers
never run at the same time, so a bot's state needs no lock. Leaving the
``with`` block stops every bot, and ``stats()`` says what the fleet did.
"""

import time

from chanpy_patterns import Bot, Fleet

PERIOD = 0.05  # each walker takes a step every 50 ms


class Walker(Bot):
    """Walks along a line, one step a tick; messages turn it around."""

    def __init__(self, start: int) -> None:
        self.position = start
        self.direction = 1
        self.steps = 0
        self.turns = 0
        self.last_tick: float | None = None
        self.on_grid = True  # do successive ticks fall whole periods apart?

    def on_tick(self, now: float) -> None:
        # `now` is when this tick was due, not when it ran: the schedule
        # does not drift, even when a tick runs late.
        if self.last_tick is not None:
            periods = (now - self.last_tick) / PERIOD
            self.on_grid = self.on_grid and abs(periods - round(periods)) < 1e-6
        self.last_tick = now
        self.position += self.direction
        self.steps += 1

    def on_message(self, msg: object) -> object:
        if msg == "turn":
            self.direction = -self.direction
            self.turns += 1
            return None
        return (self.steps, self.turns, self.on_grid)  # "report"


def main() -> None:
    with Fleet(workers=2) as fleet:  # two runner threads for all the bots
        walkers = [fleet.spawn(Walker, n, tick=PERIOD) for n in range(1000)]
        print("first bot:", walkers[0].name)  # ClassName-N unless named
        scout = fleet.spawn(Walker, 0, tick=PERIOD, name="scout")
        print("found by name:", fleet.bot("scout"))

        for ref in walkers:  # send() returns once the message is in the mailbox
            ref.send("turn")
            ref.send("turn")
            ref.send("turn")
        time.sleep(0.3)  # let the fleet run for a few periods

        # ask() waits for what on_message returned. A bot handles its
        # messages in order, so the three turns came before the report.
        reports = [ref.ask("report", timeout=5) for ref in [*walkers, scout]]
        print("every bot took steps:", all(steps > 0 for steps, _, _ in reports))
        print("turns counted by the walkers:", sum(turns for _, turns, _ in reports))
        print("ticks stayed on their grid:", all(on_grid for _, _, on_grid in reports))

        stats = fleet.stats()
        print("bots:", stats.bots, "on", stats.runners, "runners")
        print("messages handled:", stats.messages)  # 3000 turns + 1001 reports
        print("at least two ticks a bot:", stats.ticks >= 2 * stats.bots)
        print("median tick lag under 50 ms:", stats.tick_lag_p50 < 0.05)

    # The exit stopped every bot: nothing is alive, the counters remain.
    print("alive after the fleet exited:", scout.alive)
    print("bots left:", fleet.stats().bots, "of", fleet.stats().spawned)


if __name__ == "__main__":
    main()
