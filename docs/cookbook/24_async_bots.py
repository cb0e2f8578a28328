"""Async bots: under ``async with Fleet()``, a handler may await, and nobody waits for it.

``async with Fleet()`` runs the fleet's runners as tasks of the running
trio or asyncio loop, and then any handler may be an ``async def``. A
handler that awaits (a network call, a database, a worker thread) runs
in a task of its own, so the other bots of its runner go on ticking and
handling their messages. Its own bot stays "in the handler" meanwhile:
one bot's handlers still never overlap, and its messages are still
handled in order. Tasks talk to bots with ``await ref.asend`` and
``await ref.aask``.
"""

import asyncio
import time

import trio

from chanpy_patterns import Bot, BotRef, Fleet

LOOKUPS = 5


class Clock(Bot):
    """A plain sync bot that ticks every 10 ms and keeps the times."""

    def __init__(self) -> None:
        self.ticks: list[float] = []

    def on_tick(self, now: float) -> None:
        self.ticks.append(time.monotonic())

    def on_message(self, msg: object) -> object:
        return self.ticks


async def count_ticks(clock: BotRef, start: float, end: float) -> int:
    ticks: list[float] = await clock.aask("ticks", timeout=5)
    return sum(start <= t <= end for t in ticks)


# asyncio: bots that call a slow network service -----------------------------


class AsyncioLookup(Bot):
    def __init__(self, port: int) -> None:
        self.port = port

    async def on_message(self, msg: object) -> object:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(f"{msg}\n".encode())
        answer = await reader.readline()  # the service takes its time
        writer.close()
        await writer.wait_closed()
        return answer.decode().strip()


async def asyncio_fleet() -> None:
    arrived = 0
    everyone_asked = asyncio.Event()

    async def slow_service(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal arrived
        name = (await reader.readline()).decode().strip()
        # Answer nobody until every lookup is in: if the handlers took
        # turns, this would wait in vain (and the asks would time out).
        arrived += 1
        if arrived == LOOKUPS:
            everyone_asked.set()
        await everyone_asked.wait()
        await asyncio.sleep(0.1)
        writer.write(f"{name.upper()}\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(slow_service, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, Fleet(workers=1) as fleet:  # one runner for all the bots
        clock = fleet.spawn(Clock, tick=0.01)
        lookups = [fleet.spawn(AsyncioLookup, port) for _ in range(LOOKUPS)]
        start = time.monotonic()
        answers = await asyncio.gather(
            *(bot.aask(f"lookup {i}", timeout=5) for i, bot in enumerate(lookups))
        )
        end = time.monotonic()
        print("asyncio answers:", answers)
        print("the service had all five lookups at once:", everyone_asked.is_set())
        ticked = await count_ticks(clock, start, end)
        print("the clock kept ticking meanwhile:", ticked >= 3)  # about 10 expected


# trio: a bot that hands a blocking call to a worker thread ------------------


def blocking_read(key: str) -> str:
    time.sleep(0.1)  # a library that only knows how to block
    return f"value of {key}"


class TrioLookup(Bot):
    def __init__(self) -> None:
        self.order: list[str] = []

    async def on_message(self, msg: object) -> object:
        if msg == "order":
            return self.order
        self.order.append(f"{msg} started")
        value = await trio.to_thread.run_sync(blocking_read, str(msg))
        self.order.append(f"{msg} finished")
        return value


async def trio_fleet() -> None:
    async with Fleet(workers=1) as fleet:
        clock = fleet.spawn(Clock, tick=0.01)
        lookup = fleet.spawn(TrioLookup)
        start = time.monotonic()
        await lookup.asend("a")  # returns once "a" is in the mailbox
        await lookup.asend("b")
        print("trio answer:", await lookup.aask("c", timeout=5))
        end = time.monotonic()
        # One bot's handlers never overlap, even when they await.
        print("in order:", await lookup.aask("order", timeout=5))
        ticked = await count_ticks(clock, start, end)
        print("the clock kept ticking meanwhile:", ticked >= 10)  # about 30 expected


if __name__ == "__main__":
    asyncio.run(asyncio_fleet())
    trio.run(trio_fleet)
