"""Worker pools: a fixed number of workers sharing the work.

A ``Group`` owns the threads it starts: its ``with`` block does not end
until every worker has returned, so there is no list of threads to join.
The classic pool is a few workers ranging over one jobs channel. With
``Group(limit=n)`` you can also hand the group one job per ``go`` call:
at most ``n`` of them run at a time, on at most ``n`` threads, and the
rest wait their turn.
"""

import threading
import time

from chanpy import Chan, Group


def worker(jobs: Chan[int], results: Chan[int]) -> None:
    for job in jobs:  # each job goes to exactly one worker
        time.sleep(0.01)  # stands in for real work
        results.send(job * 2)


def shared_jobs_channel() -> None:
    jobs: Chan[int] = Chan(5)
    results: Chan[int] = Chan(5)  # room for every result: no reader needed yet
    with Group() as g:
        for _ in range(3):
            g.go(worker, jobs, results)
        for n in range(1, 6):
            jobs.send(n)
        jobs.close()  # the workers' loops end once the last job is taken
    # Leaving the block waited for all three workers: every result is in.
    results.close()
    # The workers finished in whatever order the scheduler chose: sort.
    print("doubled:", sorted(results))


def one_go_per_job() -> None:
    lock = threading.Lock()
    running = 0
    most_at_once = 0
    threads: set[int] = set()

    def square(n: int, results: Chan[int]) -> None:
        nonlocal running, most_at_once
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
            threads.add(threading.get_ident())
        time.sleep(0.01)
        with lock:
            running -= 1
        results.send(n * n)

    results: Chan[int] = Chan(10)
    with Group(limit=3) as g:
        for n in range(10):
            # At most three run at once: the others wait their turn in the
            # group, and a pooled thread that is done takes the next one.
            g.go(square, n, results)
    results.close()
    print("squares:", sorted(results))
    print("never more than 3 at once:", most_at_once <= 3)
    print("10 jobs on at most 3 threads:", len(threads) <= 3)


if __name__ == "__main__":
    shared_jobs_channel()
    one_go_per_job()
