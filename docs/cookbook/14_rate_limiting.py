"""Rate limiting: serve requests at a steady pace, with an optional burst.

A ``tick(period)`` ticker hands out one permission per period: receiving a
tick before each request caps the rate, with no sleeps to compute. For
bursts, keep permissions in a buffered channel: a full channel is a burst
ready to be spent, and a ticker tops it up one permission at a time.
"""

import threading
import time

from chanpy import Chan, WouldBlock, tick

PERIOD = 0.02  # one request per 20 ms: 50 requests a second


def steady() -> None:
    requests: Chan[int] = Chan(5)
    for n in range(1, 6):
        requests.send(n)
    requests.close()

    start = time.monotonic()
    limiter = tick(PERIOD)
    served_at: list[float] = []
    for n in requests:
        served_at.append(limiter.recv())  # wait for the next permission
        print(f"request {n} served")
    limiter.stop()
    # Each tick comes a period after the one before, so five requests take
    # at least five periods, however fast they arrive.
    print("5 requests took at least 5 periods:", served_at[-1] >= start + 5 * PERIOD)


def bursty() -> None:
    burst = 3
    tokens: Chan[float] = Chan(burst)
    for _ in range(burst):
        tokens.send(time.monotonic())  # start with a full bucket

    refill = tick(PERIOD)

    def top_up() -> None:
        for stamp in refill:  # ends when refill is stopped
            try:
                tokens.send_nowait(stamp)
            except WouldBlock:
                pass  # the bucket is full: this permission is not needed

    refiller = threading.Thread(target=top_up)
    refiller.start()

    # The first `burst` requests find a permission waiting and go at once.
    for n in range(1, burst + 1):
        tokens.recv_nowait()
        print(f"request {n} served from the burst")
    # After that each request waits for the ticker to put one back.
    for n in range(burst + 1, burst + 4):
        tokens.recv()
        print(f"request {n} served at the steady rate")
    refill.stop()
    refiller.join()


if __name__ == "__main__":
    steady()
    bursty()
