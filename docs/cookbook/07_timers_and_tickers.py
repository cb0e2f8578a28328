"""Timers and tickers: channels that receive the time.

``after(seconds)`` is a channel that receives one value, the
``time.monotonic()`` reading when it fired, once the delay has passed.
``tick(seconds)`` returns a ``Ticker`` that receives one value per period
until ``stop()``. Both are ordinary channels to receive from: ``recv()``,
``recv(...)`` cases in a ``select``, ``for`` loops, and ``arecv()`` in a
task. One shared background thread fires all of them, so they are cheap.
"""

import threading
import time

from chanpy import Chan, after, recv, select, tick


def main() -> None:
    start = time.monotonic()
    fired_at = after(0.05).recv()  # waits about 50 ms
    print("timer fired after at least 50 ms:", fired_at >= start + 0.05)

    # A timer you no longer want needs no cleanup: stop listening and drop
    # it. Here the work wins the race, and the 1 s timer is simply ignored.
    work: Chan[str] = Chan(1)
    work.send("work done")
    r = select(recv(work), recv(after(1.0)))
    print(r.value if r.index == 0 else "too late")

    # A ticker: one value per period. A slow receiver misses ticks rather
    # than getting a burst of them, so the period stays the pace.
    ticker = tick(0.01)
    stamps = [ticker.recv() for _ in range(3)]
    print("3 ticks, in time order:", stamps == sorted(stamps))

    # stop() also closes the ticker, so a loop over it ends: a background
    # heartbeat that stops when the main thread says so.
    beats: list[float] = []

    def heartbeat() -> None:
        for stamp in ticker:  # ends once the ticker is stopped
            beats.append(stamp)

    beating = threading.Thread(target=heartbeat)
    beating.start()
    time.sleep(0.05)
    ticker.stop()
    beating.join()  # returns: the loop over the stopped ticker ended
    print("heartbeat loop ended after stop(); it saw some beats:", len(beats) > 0)


if __name__ == "__main__":
    main()
