"""select: wait on several channel operations, complete exactly one.

``select(recv(a), recv(b), send(c, v))`` blocks until one of its cases can
go ahead, does that one and tells you which (``r.index``, the position of
the case). When several are ready it picks one uniformly at random, so no
channel can starve the others. The cases it did not pick leave no trace.
"""

import threading

from chanpy import Chan, recv, select, send


def produce(out: Chan[str], name: str, count: int) -> None:
    with out:  # close when done, so the merging loop can tell
        for n in range(1, count + 1):
            out.send(f"{name} {n}")


def merge_two() -> None:
    # Two producers, one consumer that takes whatever comes first.
    a: Chan[str] = Chan()
    b: Chan[str] = Chan()
    threading.Thread(target=produce, args=(a, "a", 3)).start()
    threading.Thread(target=produce, args=(b, "b", 2)).start()

    got: dict[int, list[str]] = {0: [], 1: []}
    inputs: list[Chan[str] | None] = [a, b]
    while inputs != [None, None]:
        r = select(recv(inputs[0]), recv(inputs[1]))
        if not r.ok:
            # That input is closed and drained. A case on None is never
            # ready, so replacing the channel by None switches the case off.
            inputs[r.index] = None
        else:
            got[r.index].append(r.value)
    # Across channels the order is up to the scheduler; within one it is FIFO.
    print("from a:", got[0])
    print("from b:", got[1])


def offer_until_told() -> None:
    # A send case and a recv case together: keep offering values until a
    # "quit" arrives. The consumer decides how many it wants.
    numbers: Chan[int] = Chan()
    quit_: Chan[None] = Chan()
    offered: list[int] = []

    def producer() -> None:
        n = 0
        while True:
            r = select(send(numbers, n * n), recv(quit_))
            if r.index == 1:
                offered.append(n)  # how many squares were taken
                return
            n += 1

    t = threading.Thread(target=producer)
    t.start()
    print("squares:", [numbers.recv() for _ in range(5)])
    quit_.send(None)
    t.join()
    print("producer stopped after", offered[0], "values")


def fairness() -> None:
    # Both cases are always ready: select picks each about half the time.
    left: Chan[str] = Chan(1)
    right: Chan[str] = Chan(1)
    left.send("L")
    right.send("R")
    picks = [0, 0]
    for _ in range(1000):
        r = select(recv(left), recv(right))
        picks[r.index] += 1
        (left, right)[r.index].send(r.value)  # put it back: both stay ready
    print("both picked often:", min(picks) > 300)


if __name__ == "__main__":
    merge_two()
    offer_until_told()
    fairness()
