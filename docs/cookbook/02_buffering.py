"""Buffering: let a sender run ahead of its receiver.

``Chan(n)`` holds up to ``n`` values in FIFO order. A send completes as
soon as there is room, so a producer needs no receiver until the buffer
is full; then it waits, which slows a fast producer down to the pace of
its consumer (back-pressure) instead of letting a queue grow without
bound.
"""

import threading
import time

from chanpy import Chan, WouldBlock


def main() -> None:
    box: Chan[str] = Chan(2)
    box.send("first")  # room in the buffer: returns at once, nobody receives yet
    box.send("second")
    print(f"{len(box)} of {box.capacity} slots used")

    # The buffer is full: a non-blocking send says so rather than wait.
    try:
        box.send_nowait("third")
    except WouldBlock:
        print("full: a third send would wait")

    # A blocking send on a full channel waits for room. statistics() shows
    # the waiting sender (handy when a program seems stuck).
    sender = threading.Thread(target=box.send, args=("third",))
    sender.start()
    while box.statistics().waiting_senders == 0:
        time.sleep(0.001)
    print("waiting senders:", box.statistics().waiting_senders)

    # Each receive makes room; the waiting "third" slips in behind "second".
    print(box.recv())
    print(box.recv())
    print(box.recv())
    sender.join()
    print("empty again:", len(box) == 0)


if __name__ == "__main__":
    main()
