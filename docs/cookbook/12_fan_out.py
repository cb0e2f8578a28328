"""Fan-out: spread the values of one channel over several workers.

Workers receiving from the same channel share its values: each value goes
to exactly one of them, whichever is free first, so a slow worker simply
takes fewer. ``g.map(fn, src, workers=n)`` does the same for you and
collects the results into one channel: with ``ordered=False`` each result
is sent as soon as it is ready, instead of waiting behind a slower one as
source order (the default) requires.
"""

import time
from collections import Counter

from chanpy import Chan, Group

Done = Chan[tuple[str, int]]  # (worker, job) for each job done


def worker(name: str, pace: float, jobs: Chan[int], done: Done) -> None:
    for job in jobs:  # competes with the other workers for each job
        time.sleep(pace)
        done.send((name, job))


def shared_channel() -> None:
    jobs: Chan[int] = Chan()
    done: Done = Chan(20)
    with Group() as g:
        g.go(worker, "slow", 0.05, jobs, done)
        g.go(worker, "fast-1", 0.005, jobs, done)
        g.go(worker, "fast-2", 0.005, jobs, done)
        for job in range(20):
            jobs.send(job)  # waits for whichever worker is free
        jobs.close()
    done.close()
    handled = list(done)
    jobs_done = sorted(job for _, job in handled)
    print("every job handled once:", jobs_done == list(range(20)))
    taken = Counter(name for name, _ in handled)
    # Who took how many varies from run to run, but not by this much.
    fewest = taken["slow"] < min(taken["fast-1"], taken["fast-2"])
    print("the slow worker took the fewest:", fewest)


def process(n: int) -> int:
    time.sleep(0.3 if n == 0 else 0.01)  # the first item is much slower
    return n


def unordered_versus_ordered() -> None:
    with Group() as g:
        as_ready = list(g.map(process, range(6), workers=3, ordered=False))
        in_order = list(g.map(process, range(6), workers=3))
    print("ordered=False, results before the slow one:", as_ready.index(0))
    print("ordered=True:", in_order)


if __name__ == "__main__":
    shared_channel()
    unordered_versus_ordered()
