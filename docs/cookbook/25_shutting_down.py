"""Shutting down: bots stop gracefully, and no accepted message is lost.

``ref.stop()`` stops one bot: from then on its mailbox accepts nothing
(sends raise BotStopped), the messages it had accepted are still
handled, in order, and then ``on_stop`` runs. Leaving the fleet's block
does the same for every bot and waits for them all. A fleet inside a
chanpy ``Context`` stops the same way when the context is cancelled,
from any thread: the runners finish what was accepted, and the block ends with
``Cancelled``.
"""

import threading
import time

from chanpy import Cancelled, Closed, Context, recv, select
from chanpy_patterns import Bot, BotStopped, Fleet


class Ledger(Bot):
    """Counts what it handled and reports the total when it stops."""

    def __init__(self, totals: dict[str, int]) -> None:
        self.totals = totals
        self.handled = 0

    def on_message(self, msg: object) -> None:
        time.sleep(0.001)  # each entry takes a moment
        self.handled += 1

    def on_stop(self) -> None:
        self.totals[self.ref.name] = self.handled  # runs after the last message


def stopping_one_bot() -> None:
    totals: dict[str, int] = {}
    with Fleet() as fleet:
        ledger = fleet.spawn(Ledger, totals, name="ledger")
        for n in range(50):
            ledger.send(n)
        ledger.stop()  # returns at once: the 50 are still to be handled
        ledger.stop()  # stopping again does nothing
        try:
            ledger.send(50)
        except BotStopped as e:
            print("send after stop():", e)
            print("BotStopped is a chanpy Closed:", isinstance(e, Closed))
        select(recv(ledger.done))  # closed once on_stop has run
        print("alive:", ledger.alive, "handled before on_stop:", totals["ledger"])


def leaving_the_fleet() -> None:
    totals: dict[str, int] = {}
    with Fleet() as fleet:
        ledgers = [fleet.spawn(Ledger, totals, name=f"ledger-{i}") for i in range(3)]
        for n in range(40):
            for ledger in ledgers:
                ledger.send(n)
        print("leaving with messages still in the mailboxes")
    # The exit handled every accepted message, then ran each on_stop.
    print("handled:", dict(sorted(totals.items())))
    print("dead letters:", fleet.stats().dead_letters)


def cancelled_from_another_thread() -> None:
    totals: dict[str, int] = {}
    accepted = 0
    service = Context()
    try:
        with service, Fleet() as fleet:
            ledger = fleet.spawn(Ledger, totals, name="ledger", mailbox=16)
            # Some other part of the program decides, later, that it is time to stop.
            threading.Timer(0.2, service.cancel, args=[RuntimeError("maintenance")]).start()
            try:
                while True:  # feed the bot until the service is cancelled
                    ledger.send(accepted)  # raises Cancelled once it is
                    accepted += 1
            except BotStopped:
                pass  # a runner saw the cancel first, and stopped the bot
    except Cancelled as e:
        print("the fleet's block ended: Cancelled by", repr(e.cause))
    print("accepted some messages:", accepted > 0)
    print("every accepted message was handled:", totals["ledger"] == accepted)
    print("alive:", ledger.alive)


if __name__ == "__main__":
    stopping_one_bot()
    leaving_the_fleet()
    cancelled_from_another_thread()
