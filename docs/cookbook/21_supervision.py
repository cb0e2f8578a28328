"""Supervision: a bot that crashes is restarted, and one that keeps crashing is stopped.

A handler that raises crashes its bot. The fleet rebuilds it from its
spawn arguments and runs ``on_start`` again, after a backoff that doubles
with each crash. Its mailbox is kept, so what was sent meanwhile is
handled by the new instance; the message that crashed it becomes a dead
letter, with its exception. ``Restart(max_restarts, within, backoff)``
is the policy (Erlang/OTP's intensity and period): more crashes than
``max_restarts`` within ``within`` seconds stop the bot for good, and the
fleet's exit raises them as an ExceptionGroup of BotFailed. A team
restarts bots that depend on each other together.
"""

import time

from chanpy import recv, select
from chanpy_patterns import Bot, BotFailed, BotStopped, Fleet, Restart


class Flaky(Bot):
    """Crashes on a "boom". Its spawn arguments are given again to every new
    instance, so the shared lists outlive the crashes."""

    def __init__(self, started: list[float], crashed: list[float]) -> None:
        self.started = started
        self.crashed = crashed
        self.seen: list[str] = []  # the bot's own state: lost in a crash

    def on_start(self) -> None:
        self.started.append(time.monotonic())

    def on_message(self, msg: object) -> object:
        if str(msg).startswith("boom"):
            self.crashed.append(time.monotonic())
            raise RuntimeError(f"{msg}!")
        if msg == "seen":
            return self.seen
        self.seen.append(str(msg))
        return None


def restarts_with_backoff() -> None:
    started: list[float] = []
    crashed: list[float] = []
    policy = Restart(max_restarts=3, within=5.0, backoff=(0.04, 1.0))
    with Fleet() as fleet:
        flaky = fleet.spawn(Flaky, started, crashed, name="flaky", restart=policy)
        for msg in ["a", "boom 1", "b", "boom 2", "c", "boom 3", "d"]:
            flaky.send(msg)  # nothing is lost while the bot waits for a restart
        print("seen by the last instance:", flaky.ask("seen", timeout=5))
        print("restarts:", flaky.restarts, "alive:", flaky.alive)

        # Each backoff is drawn between half and all of 40 ms, 80 ms, 160 ms...
        for n, (crash, start) in enumerate(zip(crashed, started[1:], strict=True)):
            least = 0.04 * 2**n / 2
            print(f"restart {n + 1} waited at least {least * 1000:.0f} ms:", start - crash >= least)

        # The messages that crashed it, with why.
        for _ in range(3):
            letter = fleet.dead_letters.recv_nowait()
            print("dead letter:", letter.bot, letter.message, letter.reason, repr(letter.error))


class NeedsDatabase(Bot):
    def on_start(self) -> None:
        raise ConnectionError("database unreachable")  # every instance, every time


def failing_for_good() -> None:
    try:
        with Fleet() as fleet:
            policy = Restart(max_restarts=2, within=5.0, backoff=(0.01, 0.01))
            db = fleet.spawn(NeedsDatabase, name="db-client", restart=policy)
            db.send("query 1")
            db.send("query 2")
            select(recv(db.done))  # db.done is closed once the bot has stopped
            print("alive:", db.alive, "restarts:", db.restarts)
            try:
                db.send("query 3")
            except BotStopped as e:
                print("send:", e)
            # What it had accepted was not lost: it is in the dead letters.
            for _ in range(2):
                letter = fleet.dead_letters.recv_nowait()
                print("dead letter:", letter.message, letter.reason)
            stats = fleet.stats()
            print("failed:", stats.failed, "restarts:", stats.restarts)
            print("leaving the fleet")
    except* BotFailed as group:
        for failure in group.exceptions:
            print("the exit raised:", failure)
            print("caused by:", repr(failure.__cause__))


class Member(Bot):
    def __init__(self, role: str, journal: list[str]) -> None:
        self.role = role
        self.journal = journal
        self.handled = 0

    def on_start(self) -> None:
        self.journal.append(f"{self.role} starts")

    def on_message(self, msg: object) -> object:
        if msg == "crash":
            raise ConnectionResetError("the feed dropped")
        self.handled += 1
        return self.handled

    def on_stop(self) -> None:
        self.journal.append(f"{self.role} stops")


def a_team() -> None:
    journal: list[str] = []
    with Fleet() as fleet:
        # The trader is useless without the price feed: when one crashes,
        # restart both (the team's members share one runner).
        team = fleet.team("one_for_all", restart=Restart(backoff=(0.01, 0.1)))
        feed = team.spawn(Member, "feed", journal)
        trader = team.spawn(Member, "trader", journal)
        print("handled:", feed.ask("price", timeout=5), trader.ask("order", timeout=5))
        feed.send("crash")
        print("handled:", feed.ask("price", timeout=5), trader.ask("order", timeout=5))
        print("restarts:", feed.restarts, trader.restarts)
    for line in journal:
        print(" ", line)


if __name__ == "__main__":
    restarts_with_backoff()
    failing_for_good()
    a_team()
