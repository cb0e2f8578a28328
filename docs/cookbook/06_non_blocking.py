"""Non-blocking operations: do it now or not at all.

``send_nowait`` and ``recv_nowait`` complete at once or raise
``WouldBlock``; ``select(..., block=False)`` does the same for several
cases (Go's ``select`` with a ``default``). Use them to poll, to drop a
value rather than wait when a consumer is busy, or to check for a message
between other work.
"""

import threading
import time

from chanpy import Chan, Closed, WouldBlock, recv, select


def main() -> None:
    messages: Chan[str] = Chan()
    signals: Chan[bool] = Chan()

    try:
        print("received", messages.recv_nowait())
    except WouldBlock:
        print("no message received")

    # Unbuffered, and no receiver is waiting: the send cannot complete now.
    try:
        messages.send_nowait("hi")
    except WouldBlock:
        print("no message sent")

    # Several cases at once, none ready.
    try:
        select(recv(messages), recv(signals), block=False)
    except WouldBlock:
        print("no activity")

    # With a receiver already waiting, the same non-blocking send succeeds:
    # the value goes straight to it.
    got: list[str] = []
    receiver = threading.Thread(target=lambda: got.append(messages.recv()))
    receiver.start()
    while messages.statistics().waiting_receivers == 0:
        time.sleep(0.001)
    messages.send_nowait("hi")
    receiver.join()
    print("handed over:", got)

    # Drop what does not fit instead of waiting: a one-slot mailbox that
    # always holds the newest reading (with this one producer filling it).
    latest: Chan[int] = Chan(1)
    dropped = 0
    for reading in range(5):
        try:
            latest.send_nowait(reading)
        except WouldBlock:
            latest.recv_nowait()  # nobody took the previous one: drop it...
            latest.send_nowait(reading)  # ...and keep the new one
            dropped += 1
    print("latest reading:", latest.recv_nowait(), "dropped:", dropped)

    # On a closed channel the non-blocking forms say Closed, not WouldBlock,
    # so a polling loop can tell "nothing yet" from "nothing ever".
    messages.close()
    try:
        messages.recv_nowait()
    except Closed:
        print("closed: recv_nowait raises Closed")


if __name__ == "__main__":
    main()
