"""Backpressure: a bounded mailbox makes a fast sender wait for a slow bot.

Every bot's mailbox is a bounded channel (``spawn(..., mailbox=n)``, 64 by
default). When it is full, ``send`` waits for room, ``send(msg,
timeout=s)`` gives up with TimeoutError, and ``send_nowait`` raises
WouldBlock at once; in each case a message that was refused was not
accepted, so the bot never sees it. A producer that sends faster than
the bot handles is slowed to the bot's pace, and the memory the messages
take stays bounded.
"""

import threading
import time

from chanpy import Chan, WouldBlock
from chanpy_patterns import Bot, Fleet


class Writer(Bot):
    """Writes records to slow storage, one at a time, in order."""

    def __init__(self, gate: Chan[None], busy: Chan[None]) -> None:
        self.gate = gate
        self.busy = busy
        self.written: list[int] = []

    def on_message(self, msg: object) -> object:
        if msg == "wait for the gate":
            # Stands in for storage that stalls. (A handler that blocks holds
            # up its runner: fine for a demonstration, not in a real bot.)
            self.busy.send_nowait(None)
            self.gate.recv()
            return None
        if msg == "written":
            return self.written
        assert isinstance(msg, int)
        time.sleep(0.001)  # each record takes at least a millisecond
        self.written.append(msg)
        return None


def a_full_mailbox(fleet: Fleet) -> None:
    gate: Chan[None] = Chan()
    busy: Chan[None] = Chan(1)
    writer = fleet.spawn(Writer, gate, busy, mailbox=4)
    writer.send("wait for the gate")
    busy.recv()  # the writer is in its handler, and its mailbox is empty

    for n in range(4):
        writer.send_nowait(n)  # room for four
    try:
        writer.send_nowait(4)
    except WouldBlock:
        print("send_nowait on a full mailbox: WouldBlock")
    try:
        writer.send(4, timeout=0.05)
    except TimeoutError:
        print("send with a timeout on a full mailbox: TimeoutError")

    # A blocking send waits until the bot makes room, then returns.
    opener = threading.Timer(0.05, gate.close)  # the storage recovers in 50 ms
    opener.start()
    started = time.monotonic()
    writer.send(4)
    print("send waited for room:", time.monotonic() - started >= 0.05)
    opener.join()
    print("written:", writer.ask("written", timeout=5))  # 4 once: the refused sends left no trace


def a_fast_producer(fleet: Fleet) -> None:
    gate: Chan[None] = Chan()
    gate.close()  # no stall this time
    writer = fleet.spawn(Writer, gate, Chan(1), mailbox=8)
    records = 200
    started = time.monotonic()
    for n in range(records):
        writer.send(n)  # as fast as the mailbox lets it
    elapsed = time.monotonic() - started
    # The producer could only get ahead of the writer by one mailbox: it
    # finished about when the writer had handled all but the last eight.
    print("the producer took at least", records - 8 - 1, "ms:", elapsed >= (records - 9) / 1000)
    written = writer.ask("written", timeout=5)
    print("every record written, in order:", written == list(range(records)))


def main() -> None:
    with Fleet(workers=2) as fleet:
        a_full_mailbox(fleet)
        a_fast_producer(fleet)
        # The most messages any mailbox held, when its bot came to it.
        print("no mailbox ever held more than 8:", fleet.stats().mailbox_high_water <= 8)


if __name__ == "__main__":
    main()
