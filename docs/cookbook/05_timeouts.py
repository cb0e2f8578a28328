"""Timeouts: stop waiting after a while.

Every blocking call takes ``timeout=`` (seconds) and raises the builtin
``TimeoutError`` when it passes, with nothing sent or taken. In a
``select``, a receive from ``after(seconds)`` is a deadline that races
the other cases, and tells you which one won without an exception.
"""

import threading
import time

from chanpy import Chan, after, recv, select


def answer_later(delay: float) -> Chan[str]:
    # Room for the one answer (capacity 1): if nobody is waiting any more,
    # the late worker still finishes instead of blocking for ever.
    out: Chan[str] = Chan(1)

    def work() -> None:
        time.sleep(delay)
        out.send(f"answer after {delay} s")

    threading.Thread(target=work).start()
    return out


def main() -> None:
    # A deadline in a select: whichever case is ready first wins.
    slow = answer_later(0.5)
    r = select(recv(slow), recv(after(0.05)))
    print("slow:", "timed out" if r.index == 1 else r.value)

    quick = answer_later(0.01)
    r = select(recv(quick), recv(after(2.0)))
    print("quick:", "timed out" if r.index == 1 else r.value)

    # The same with timeout= on a single operation.
    try:
        answer_later(0.5).recv(timeout=0.05)
    except TimeoutError:
        print("recv: TimeoutError")
    print("recv:", answer_later(0.01).recv(timeout=2.0))

    # A send can time out too: the value was not sent, and the sender is
    # no longer registered on the channel.
    nobody: Chan[int] = Chan()
    try:
        nobody.send(1, timeout=0.05)
    except TimeoutError:
        waiting = nobody.statistics().waiting_senders
        print("send: TimeoutError; senders left waiting:", waiting)

    # One deadline for a whole series of steps: the same after() channel in
    # every select, rather than a fresh timeout for each step.
    steps: Chan[int] = Chan()

    def run_steps() -> None:
        with steps:  # closed after the last step
            for n in (1, 2, 3):
                time.sleep(0.01)
                steps.send(n)

    threading.Thread(target=run_steps).start()
    deadline = after(2.0)
    done: list[int] = []
    while True:
        r = select(recv(steps), recv(deadline))
        if r.index == 1:
            print("gave up after steps", done)
            break
        if not r.ok:
            print("all steps done in time:", done)
            break
        done.append(r.value)


if __name__ == "__main__":
    main()
