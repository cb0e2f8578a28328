"""Closing a channel, and looping over it until it is drained.

``close()`` is how a sender says "no more values". Values already buffered
are still delivered; once they are gone, receivers learn that the channel
is finished. A ``for`` loop over a channel receives until exactly that
moment, which makes producer/consumer code short and leaves no sentinel
value to invent.
"""

import threading

from chanpy import Chan, Closed, recv, select


def main() -> None:
    jobs: Chan[int] = Chan(5)
    reports: Chan[str] = Chan(5)

    def worker() -> None:
        with reports:  # closes reports when the block ends, even on error
            for job in jobs:  # ends once jobs is closed and drained
                reports.send(f"job {job} done")

    threading.Thread(target=worker).start()
    for job in range(1, 4):
        jobs.send(job)
    jobs.close()  # the three jobs are still delivered to the worker
    for line in reports:  # ends when the worker closed reports
        print(line)

    # What a closed, drained channel does from then on:
    try:
        jobs.recv()
    except Closed:
        print("recv: Closed")
    r = select(recv(jobs))  # a recv case fires, with ok=False
    print("select: ok =", r.ok)
    try:
        jobs.send(4)
    except Closed:
        print("send: Closed")
    print("closing again changes nothing:", jobs.close())

    # Values buffered before close() are not lost.
    queue: Chan[str] = Chan(2)
    queue.send("one")
    queue.send("two")
    queue.close()
    print(list(queue))


if __name__ == "__main__":
    main()
