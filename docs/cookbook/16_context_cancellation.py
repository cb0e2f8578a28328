"""Context cancellation across threads and tasks: one cancel reaches them all.

A ``Context`` is Go's ``context`` for every world at once. A thread
enters it with ``with ctx:``, and chanpy's blocking calls inside raise
``Cancelled`` once it is cancelled. A trio or asyncio task enters it with
``async with ctx:``, and then the task is cancelled the way its own
library cancels tasks (at any await, not only chanpy's); ``Cancelled`` is
what leaves the block. Code that is in no scope can still watch
``ctx.done``, a channel closed at that moment, in a ``select``. Any thread
may call ``cancel()``, and ``Context(parent, timeout=s)`` adds a deadline
to a branch of the tree.
"""

import asyncio
import threading
import time

import trio

from chanpy import Cancelled, Chan, Context, current_context, recv, select

Reports = Chan[str]


def thread_worker(ctx: Context, quiet: Chan[str], reports: Reports) -> None:
    try:
        with ctx:
            quiet.recv()  # nothing ever comes: only the cancel ends this
    except Cancelled as e:
        reports.send(f"thread, with ctx: Cancelled by {e.cause!r}")


def select_worker(ctx: Context, quiet: Chan[str], reports: Reports) -> None:
    # No scope here: ctx.done is just one more case, and it fires with
    # ok=False once the channel is closed.
    r = select(recv(quiet), recv(ctx.done))
    reports.send(f"thread, select: done fired, ok={r.ok}")


async def trio_task(ctx: Context, quiet: Chan[str], reports: Reports) -> None:
    try:
        async with ctx:
            await quiet.arecv()  # cancelled like any trio checkpoint
    except Cancelled as e:
        await reports.asend(f"trio, async with ctx: Cancelled by {e.cause!r}")


async def asyncio_task(ctx: Context, reports: Reports) -> None:
    try:
        async with ctx:
            await asyncio.sleep(60)  # not a chanpy call, cancelled all the same
    except Cancelled as e:
        await reports.asend(f"asyncio, async with ctx: Cancelled by {e.cause!r}")


def one_cancel_everywhere() -> None:
    ctx = Context()
    quiet: Chan[str] = Chan()
    reports: Reports = Chan(4)
    workers = [
        threading.Thread(target=thread_worker, args=(ctx, quiet, reports)),
        threading.Thread(target=select_worker, args=(ctx, quiet, reports)),
        threading.Thread(target=trio.run, args=(trio_task, ctx, quiet, reports)),
        threading.Thread(target=asyncio.run, args=(asyncio_task(ctx, reports),)),
    ]
    for w in workers:
        w.start()

    def cancel_soon() -> None:
        time.sleep(0.05)  # let everyone start waiting (the result is the same if not)
        ctx.cancel(RuntimeError("shutting down"))

    canceller = threading.Thread(target=cancel_soon)
    canceller.start()
    for w in [*workers, canceller]:
        w.join()
    reports.close()
    for line in sorted(reports):  # the four finish in any order
        print(line)


def deadlines() -> None:
    quiet: Chan[str] = Chan()
    request = Context(timeout=1.0)  # the whole request has a second
    with request:
        # One step gets at most 50 ms of it: a child of the current scope's
        # context, ended by its own deadline or by the request's.
        step = Context(current_context(), timeout=0.05)
        try:
            with step:
                quiet.recv()
        except Cancelled as e:
            print("step: Cancelled by", type(e.cause).__name__)
        print("the request goes on:", not request.cancelled)
        # A child never outlives its parent's deadline.
        patient = Context(request, timeout=60)
        earlier = patient.deadline == request.deadline
        print("the child keeps the earlier deadline:", earlier)
        patient.cancel()  # as in Go: cancel a child you no longer need
    request.cancel()

    async def slow_call() -> None:
        try:
            async with Context(timeout=0.05):
                await asyncio.sleep(60)
        except Cancelled as e:
            print("asyncio: Cancelled by", type(e.cause).__name__)

    asyncio.run(slow_call())


if __name__ == "__main__":
    one_cancel_everywhere()
    deadlines()
