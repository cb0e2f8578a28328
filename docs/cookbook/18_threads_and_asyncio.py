"""Mixing threads with asyncio: blocking work in threads, results in tasks.

Code that blocks (a C library, a slow file system, a synchronous client)
belongs in threads; the asyncio side just awaits a channel the threads
send on. ``await ch.arecv()`` waits without blocking the event loop, and a
thread's ``send`` wakes the waiting task through the loop's thread-safe
entry, so there is no ``run_in_executor`` or ``call_soon_threadsafe`` to
write.
"""

import asyncio
import threading
import time

from chanpy import Chan, after, aselect, recv


def worker(jobs: Chan[int], results: Chan[tuple[int, int]]) -> None:
    for n in jobs:  # plain threads: blocking calls are fine here
        time.sleep(0.01)  # stands in for work that blocks
        results.send((n, n * n))


async def main() -> None:
    jobs: Chan[int] = Chan(10)
    results: Chan[tuple[int, int]] = Chan()
    workers = [threading.Thread(target=worker, args=(jobs, results)) for _ in range(3)]
    for w in workers:
        w.start()

    # The task side hands out work without waiting (room for all of it)...
    for n in range(6):
        await jobs.asend(n)
    jobs.close()  # the workers' loops end once the six jobs are taken

    # ...and collects one result per job. Which worker finishes first is up
    # to the scheduler, so sort before printing.
    collected = sorted([await results.arecv() for _ in range(6)])
    print("results:", collected)
    for w in workers:
        w.join()

    # asyncio's own timeouts work on chanpy calls: on timeout nothing was
    # received and the channel is as it was.
    quiet: Chan[str] = Chan()
    try:
        async with asyncio.timeout(0.05):
            await quiet.arecv()
    except TimeoutError:
        print("asyncio.timeout: TimeoutError")
    print("receivers left waiting:", quiet.statistics().waiting_receivers)

    # aselect: a thread's message raced against a deadline.
    sender = threading.Thread(target=quiet.send, args=("late but in time",))
    sender.start()
    r = await aselect(recv(quiet), recv(after(2.0)))
    print("aselect:", r.value if r.index == 0 else "nothing in time")
    sender.join()  # its send completed when aselect took the value

    # A blocking call that would wait inside the loop is refused rather
    # than freezing every task.
    try:
        quiet.recv()
    except RuntimeError:
        print("recv() inside asyncio: RuntimeError, use await arecv()")


if __name__ == "__main__":
    asyncio.run(main())
