"""Graceful shutdown: stop taking work, finish what was taken, then exit.

A service that is told to stop (SIGTERM from a supervisor, Ctrl-C) should
not drop the requests it has already accepted. So the stop is in two
steps: the part that accepts requests stops and closes the jobs channel,
and the workers, which range over that channel, finish the job in hand
and everything still queued before they return. A ``Context`` is the stop
signal: ``cancel()`` never blocks, so a signal handler may call it, and
``recv(stop.done)`` is one more case in the select that accepts requests.
The workers are not cancelled at all: that is what keeps the queue whole.
"""

import itertools
import os
import signal
import time
from types import FrameType

from chanpy import Chan, Context, Group, recv, select, send


def accept(stop: Context, jobs: Chan[int], accepted: list[int]) -> None:
    with jobs:  # closed on the way out: the workers end once it is drained
        for request in itertools.count(1):  # requests keep coming
            # A select picks at random when both cases are ready: look at
            # the stop first, so that nothing new is accepted after it.
            if stop.cancelled:
                return
            r = select(send(jobs, request), recv(stop.done))
            if r.index == 1:
                return  # stopped while the queue was full: not accepted
            accepted.append(request)


def work(jobs: Chan[int], handled: list[int]) -> None:
    for job in jobs:
        time.sleep(0.01)  # the job in hand always runs to the end
        handled.append(job)


def send_sigterm_soon() -> None:
    time.sleep(0.1)  # let the service run for a moment
    os.kill(os.getpid(), signal.SIGTERM)  # what `kill PID` in a shell does


def main() -> None:
    stop = Context()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.cancel():  # True only the first time: a second signal is a no-op
            print(f"{signal.Signals(signum).name}: no new requests")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # Ctrl-C shuts down the same way

    jobs: Chan[int] = Chan(8)  # requests accepted, waiting for a worker
    accepted: list[int] = []
    handled: list[int] = []
    with Group() as g:
        for _ in range(3):
            g.go(work, jobs, handled)
        g.go(accept, stop, jobs, accepted)
        g.go(send_sigterm_soon)
    print("the group exited cleanly")
    print("accepted some requests:", len(accepted) > 0)
    print("every accepted request was handled:", sorted(handled) == accepted)


if __name__ == "__main__":
    main()
