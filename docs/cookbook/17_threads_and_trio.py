"""Mixing threads with trio: one channel, both worlds.

A ``Chan`` has no owner: a thread uses ``send``/``recv``/``select``, a trio
task the awaitable ``asend``/``arecv``/``aselect`` and ``async for`` on the
very same channel. A waiting task sleeps on trio's loop, a waiting thread
in C, and each wakes the other directly. No ``trio.from_thread`` portal
or token to pass around.
"""

import threading

import trio

from chanpy import Chan, after, aselect, recv

# A request carries its own reply channel: the thread that asks is the one
# that gets the answer.
Request = tuple[int, Chan[int]]


async def serve(requests: Chan[Request]) -> None:
    async def answer(n: int, reply: Chan[int]) -> None:
        await trio.sleep(0.01 * (n % 3))  # some answers take longer than others
        await reply.asend(n * n)

    async with trio.open_nursery() as nursery:
        async for n, reply in requests:  # ends when the threads' side closes it
            nursery.start_soon(answer, n, reply)


def ask(requests: Chan[Request], n: int, answers: Chan[str]) -> None:
    # A reply channel with room for its one answer: the trio task never
    # waits on a slow thread.
    reply: Chan[int] = Chan(1)
    requests.send((n, reply))
    answers.send(f"{n} squared is {reply.recv()}")


def threads_ask_trio() -> None:
    requests: Chan[Request] = Chan()
    server = threading.Thread(target=trio.run, args=(serve, requests))
    server.start()

    answers: Chan[str] = Chan(5)
    clients: list[threading.Thread] = []
    for n in range(5):
        client = threading.Thread(target=ask, args=(requests, n, answers))
        client.start()
        clients.append(client)
    for c in clients:
        c.join()
    requests.close()  # the server's loop ends, and trio.run returns
    server.join()
    answers.close()
    # Five threads answered in whatever order the scheduler chose: sort.
    for line in sorted(answers):
        print(line)


async def trio_side(from_thread: Chan[str]) -> None:
    # aselect over a channel fed by a thread and a timer.
    r = await aselect(recv(from_thread), recv(after(2.0)))
    print("trio got:", r.value if r.index == 0 else "nothing in time")

    # Cancelled while waiting: nothing is taken, nothing stays registered.
    quiet: Chan[str] = Chan()
    with trio.move_on_after(0.05) as scope:
        await quiet.arecv()
    print("cancelled:", scope.cancelled_caught)
    print("receivers left waiting:", quiet.statistics().waiting_receivers)

    # A blocking call that would have to wait inside the loop is refused
    # (it would freeze every task): use the await form instead.
    try:
        quiet.recv()
    except RuntimeError:
        print("recv() inside trio: RuntimeError, use await arecv()")


def trio_waits_for_a_thread() -> None:
    from_thread: Chan[str] = Chan()
    sender = threading.Thread(target=from_thread.send, args=("hello from a thread",))
    sender.start()
    trio.run(trio_side, from_thread)
    sender.join()


if __name__ == "__main__":
    threads_ask_trio()
    trio_waits_for_a_thread()
