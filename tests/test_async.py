"""Tasks: trio and asyncio on one channel, across worlds, under cancellation.

The guarantee under test: a task cancelled while waiting either completed
its operation (the value was taken or delivered, and the call returned it)
or left the channel exactly as before. Storms count every value: what
senders saw delivered is exactly what receivers saw (plus what is left in
the channel at the end), with no duplicates and nothing a failed send
offered.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from typing import Any

import pytest
import trio

import chanpy
from chanpy import Chan, Closed, recv, send
from tests.worlds import start, wait_until

pytestmark = pytest.mark.timeout(180)


def drain(ch: Chan[Any]) -> list[Any]:
    """Everything still buffered in a closed channel."""
    out = []
    while True:
        try:
            out.append(ch.recv_nowait())
        except Closed:
            return out


def assert_exactly_once(delivered: list[Any], received: list[Any], refused: list[Any]) -> None:
    dup = [v for v, n in Counter(received).items() if n > 1]
    assert not dup, f"received twice: {dup[:10]}"
    assert len(set(delivered)) == len(delivered), "a value was reported delivered twice"
    assert set(received) == set(delivered), (
        f"lost: {sorted(set(delivered) - set(received))[:10]}, "
        f"never delivered: {sorted(set(received) - set(delivered))[:10]}"
    )
    assert not set(refused) & set(received), "a send that failed still delivered its value"


# --- same run / same loop ------------------------------------------------


@pytest.mark.trio
@pytest.mark.parametrize("capacity", [0, 1, 16])
async def test_trio_tasks_in_one_run(capacity: int) -> None:
    ch: Chan[int] = Chan(capacity)
    got: list[int] = []

    async def producer(base: int) -> None:
        for i in range(2000):
            await ch.asend(base + i)

    async def consumer() -> None:
        async for v in ch:
            got.append(v)

    async with trio.open_nursery() as outer:
        for _ in range(3):
            outer.start_soon(consumer)
        async with trio.open_nursery() as inner:
            for p in range(3):
                inner.start_soon(producer, p * 10_000)
        ch.close()
    assert sorted(got) == sorted(p * 10_000 + i for p in range(3) for i in range(2000))


@pytest.mark.parametrize("capacity", [0, 1, 16])
def test_asyncio_tasks_in_one_loop(capacity: int) -> None:
    async def main() -> list[int]:
        ch: Chan[int] = Chan(capacity)
        got: list[int] = []

        async def producer(base: int) -> None:
            for i in range(2000):
                await ch.asend(base + i)

        async def consumer() -> None:
            async for v in ch:
                got.append(v)

        consumers = [asyncio.create_task(consumer()) for _ in range(3)]
        await asyncio.gather(*(producer(p * 10_000) for p in range(3)))
        ch.close()
        await asyncio.gather(*consumers)
        return got

    got = asyncio.run(main())
    assert sorted(got) == sorted(p * 10_000 + i for p in range(3) for i in range(2000))


@pytest.mark.trio
async def test_trio_call_is_a_checkpoint_even_when_ready() -> None:
    ch: Chan[int] = Chan(2)
    ch.send_nowait(1)
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await ch.arecv()
        with pytest.raises(trio.Cancelled):
            await ch.asend(2)
        with pytest.raises(trio.Cancelled):
            await chanpy.aselect(recv(ch))
    # Cancelled before acting: the channel is as it was.
    assert len(ch) == 1
    assert ch.recv_nowait() == 1


# --- misuse --------------------------------------------------------------


def test_async_call_outside_an_event_loop_is_a_runtime_error() -> None:
    ch: Chan[int] = Chan(1)
    coro = ch.arecv()
    with pytest.raises(RuntimeError, match="trio or asyncio"):
        coro.send(None)
    assert len(ch) == 0


@pytest.mark.trio
async def test_blocking_call_in_trio_that_would_wait_is_refused() -> None:
    ch: Chan[int] = Chan(1)
    with pytest.raises(RuntimeError, match=r"await chan\.arecv\(\)"):
        ch.recv()
    ch.send(1)  # completes at once: allowed
    with pytest.raises(RuntimeError, match=r"await chan\.asend\(value\)"):
        ch.send(2)
    with pytest.raises(RuntimeError, match=r"aselect"):
        chanpy.select(send(ch, 2), recv(None))
    assert ch.recv() == 1
    assert ch.statistics() == chanpy.ChanStatistics(0, 1, 0, 0, False)


def test_blocking_call_in_asyncio_that_would_wait_is_refused() -> None:
    async def main() -> None:
        ch: Chan[int] = Chan()
        with pytest.raises(RuntimeError, match=r"await chan\.arecv\(\)"):
            ch.recv(timeout=1)
        with pytest.raises(RuntimeError, match=r"await chan\.asend\(value\)"):
            ch.send(1)
        with pytest.raises(RuntimeError, match="aselect"):
            chanpy.select(recv(ch), recv(None))
        assert ch.statistics() == chanpy.ChanStatistics(0, 0, 0, 0, False)

    asyncio.run(main())


# --- across worlds ---------------------------------------------------------


def test_threads_to_trio_and_asyncio_consumers() -> None:
    """Thread producers; trio consumers in one thread, asyncio in another."""
    n_producers, per = 4, 25_000  # 100 000 values
    ch: Chan[int] = Chan(64)

    async def trio_consumers() -> list[int]:
        got: list[int] = []

        async def one() -> None:
            async for v in ch:
                got.append(v)

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(one)
        return got

    async def asyncio_consumers() -> list[int]:
        got: list[int] = []

        async def one() -> None:
            async for v in ch:
                got.append(v)

        await asyncio.gather(*(one() for _ in range(3)))
        return got

    results: dict[str, list[int]] = {}

    def run_trio() -> None:
        results["trio"] = trio.run(trio_consumers)

    def run_asyncio() -> None:
        results["asyncio"] = asyncio.run(asyncio_consumers())

    def produce(pid: int) -> None:
        for i in range(per):
            ch.send(pid * per + i)

    threads = [threading.Thread(target=run_trio), threading.Thread(target=run_asyncio)]
    producers = [threading.Thread(target=produce, args=(p,)) for p in range(n_producers)]
    for t in threads + producers:
        t.start()
    for t in producers:
        t.join(120)
        assert not t.is_alive()
    ch.close()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    everything = results["trio"] + results["asyncio"]
    assert len(everything) == n_producers * per
    assert sorted(everything) == list(range(n_producers * per))
    assert results["trio"]
    assert results["asyncio"]


def test_cross_world_select_fed_from_another_world() -> None:
    """An aselect in trio, one in asyncio and a select in a thread, fed across."""
    to_trio: Chan[str] = Chan()
    to_asyncio: Chan[str] = Chan()
    to_thread: Chan[str] = Chan()
    never: Chan[str] = Chan()

    async def trio_side() -> tuple[int, Any]:
        r = await chanpy.aselect(recv(never), recv(to_trio))
        await to_asyncio.asend("from trio")
        return r.index, r.value

    async def asyncio_side() -> tuple[int, Any]:
        r = await chanpy.aselect(recv(to_asyncio), recv(never))
        await to_thread.asend("from asyncio")
        return r.index, r.value

    trio_party = start("trio", lambda ops: trio_side())
    asyncio_party = start("asyncio", lambda ops: asyncio_side())
    wait_until(lambda: to_trio.statistics().waiting_receivers == 1)
    wait_until(lambda: to_asyncio.statistics().waiting_receivers == 1)
    waiter = threading.Thread(target=lambda: to_trio.send("from thread"))
    waiter.start()
    r = chanpy.select(recv(never), recv(to_thread), timeout=20)
    waiter.join(10)
    assert (r.index, r.value) == (1, "from asyncio")
    assert trio_party.result() == (1, "from thread")
    assert asyncio_party.result() == (0, "from trio")
    assert never.statistics().waiting_receivers == 0


def test_one_select_mixes_channels_fed_by_all_worlds() -> None:
    """A thread selects over channels whose counterparts are a thread, trio and asyncio."""
    chans: list[Chan[tuple[str, int]]] = [Chan(), Chan(), Chan()]
    per = 300

    async def feed_async(ops: Any, ch: Chan[tuple[str, int]], world: str) -> None:
        for i in range(per):
            await ch.asend((world, i))

    def feed_thread() -> None:
        for i in range(per):
            chans[0].send(("thread", i), timeout=20)

    t = threading.Thread(target=feed_thread)
    t.start()
    parties = [
        start("trio", lambda ops: feed_async(ops, chans[1], "trio")),
        start("asyncio", lambda ops: feed_async(ops, chans[2], "asyncio")),
    ]
    got: dict[str, list[int]] = {"thread": [], "trio": [], "asyncio": []}
    for _ in range(3 * per):
        r = chanpy.select(*(recv(c) for c in chans), timeout=20)
        world, i = r.value
        assert chans[r.index] is chans[("thread", "trio", "asyncio").index(world)]
        got[world].append(i)
    t.join(10)
    for p in parties:
        p.result()
    assert got == {w: list(range(per)) for w in got}


# --- cancellation storms ----------------------------------------------------


@pytest.mark.trio
@pytest.mark.parametrize("capacity", [0, 1])
async def test_trio_cancellation_storm(capacity: int) -> None:
    """Tiny random deadlines on both sides, a thread feeding too: nothing lost."""
    rng = random.Random(capacity)
    ch: Chan[int] = Chan(capacity)
    delivered: list[int] = []
    refused: list[int] = []
    received: list[int] = []
    lock = threading.Lock()
    rounds = 3000

    def thread_producer() -> None:
        for i in range(rounds):
            v = 1_000_000 + i
            try:
                ch.send(v, timeout=0.0005 * (i % 3))
            except TimeoutError:
                with lock:
                    refused.append(v)
            except Closed:
                with lock:
                    refused.append(v)
                return
            else:
                with lock:
                    delivered.append(v)

    async def task_producer(base: int) -> None:
        for i in range(rounds):
            v = base + i
            ok = False
            with trio.move_on_after(rng.random() * 0.0003):
                await ch.asend(v)
                ok = True
            with lock:
                (delivered if ok else refused).append(v)

    async def task_consumer(stop: trio.Event) -> None:
        while not stop.is_set():
            got = None
            with trio.move_on_after(rng.random() * 0.0003):
                got = await ch.arecv()
            if got is not None:
                received.append(got)

    feeder = threading.Thread(target=thread_producer)
    feeder.start()
    stop = trio.Event()
    async with trio.open_nursery() as consumers:
        for _ in range(2):
            consumers.start_soon(task_consumer, stop)
        async with trio.open_nursery() as producers:
            producers.start_soon(task_producer, 0)
            producers.start_soon(task_producer, 100_000)
        await trio.to_thread.run_sync(feeder.join)
        stop.set()
    ch.close()
    received.extend(drain(ch))
    assert ch.statistics().waiting_receivers == 0
    assert ch.statistics().waiting_senders == 0
    assert_exactly_once(delivered, received, refused)
    assert len(received) > rounds  # the storm moved real traffic


@pytest.mark.trio
async def test_trio_fail_after_cancels_cleanly_or_returns_the_value() -> None:
    ch: Chan[int] = Chan()
    received: list[int] = []
    delivered: list[int] = []

    def feeder() -> None:
        for i in range(2000):
            try:
                ch.send(i, timeout=0.001)
            except TimeoutError:
                continue
            delivered.append(i)

    t = threading.Thread(target=feeder)
    t.start()
    while t.is_alive():
        try:
            with trio.fail_after(0.0002):
                received.append(await ch.arecv())
        except trio.TooSlowError:
            pass
    t.join()
    assert received == delivered  # one receiver: order too


@pytest.mark.parametrize("capacity", [0, 1])
def test_asyncio_cancellation_storm(capacity: int) -> None:
    """timeout(), wait_for() and task.cancel() racing wake-ups from a thread."""
    rng = random.Random(10 + capacity)
    rounds = 3000
    ch: Chan[int] = Chan(capacity)
    delivered: list[int] = []
    refused: list[int] = []
    received: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def thread_producer() -> None:
        i = 0
        while not stop.is_set():
            v = 1_000_000 + i
            i += 1
            try:
                ch.send(v, timeout=0.0005)
            except (TimeoutError, Closed):
                with lock:
                    refused.append(v)
            else:
                with lock:
                    delivered.append(v)

    async def main() -> None:
        async def task_sends(base: int) -> None:
            for i in range(rounds):
                v = base + i
                ok = False
                try:
                    async with asyncio.timeout(rng.random() * 0.0003):
                        await ch.asend(v)
                        ok = True
                except TimeoutError:
                    pass
                with lock:
                    (delivered if ok else refused).append(v)

        async def recv_with_timeout() -> None:
            try:
                async with asyncio.timeout(rng.random() * 0.0003):
                    received.append(await ch.arecv())
            except TimeoutError:
                pass

        async def recv_with_wait_for() -> None:
            try:
                received.append(await asyncio.wait_for(ch.arecv(), rng.random() * 0.0003))
            except TimeoutError:
                pass

        async def recv_then_cancelled() -> None:
            task = asyncio.create_task(ch.arecv())
            await asyncio.sleep(rng.random() * 0.0003)
            task.cancel()
            try:
                received.append(await task)
            except asyncio.CancelledError:
                pass

        async def consumer(done: asyncio.Event) -> None:
            kinds = (recv_with_timeout, recv_with_wait_for, recv_then_cancelled)
            while not done.is_set():
                await rng.choice(kinds)()

        done = asyncio.Event()
        consumers = [asyncio.create_task(consumer(done)) for _ in range(2)]
        await asyncio.gather(task_sends(0), task_sends(100_000))
        done.set()
        await asyncio.gather(*consumers)

    feeder = threading.Thread(target=thread_producer)
    feeder.start()
    try:
        asyncio.run(main())
    finally:
        stop.set()
        feeder.join(30)
    assert not feeder.is_alive()
    ch.close()
    received.extend(drain(ch))
    assert ch.statistics().waiting_receivers == 0
    assert ch.statistics().waiting_senders == 0
    assert_exactly_once(delivered, received, refused)
    assert len(received) > rounds


def test_asyncio_select_cancellation_storm() -> None:
    """aselect over a send and a recv case, cancelled at random, fed by a thread."""
    rng = random.Random(3)
    inbound: Chan[int] = Chan()
    outbound: Chan[int] = Chan()
    delivered_in: list[int] = []
    received_in: list[int] = []
    sent_out: list[int] = []
    got_out: list[int] = []
    stop = threading.Event()

    def feeder() -> None:
        i = 0
        while not stop.is_set():
            try:
                r = chanpy.select(send(inbound, i), recv(outbound), timeout=0.001)
            except TimeoutError:
                continue
            if r.index == 0:
                delivered_in.append(i)
                i += 1
            else:
                got_out.append(r.value)

    async def main() -> None:
        k = 0
        for _ in range(3000):
            task = asyncio.create_task(chanpy.aselect(recv(inbound), send(outbound, k)))
            await asyncio.sleep(rng.random() * 0.0003)
            task.cancel()
            try:
                r = await task
            except asyncio.CancelledError:
                continue
            if r.index == 0:
                received_in.append(r.value)
            else:
                sent_out.append(k)
                k += 1

    t = threading.Thread(target=feeder)
    t.start()
    try:
        asyncio.run(main())
    finally:
        stop.set()
        t.join(30)
    assert received_in == delivered_in
    assert got_out == sent_out
    assert inbound.statistics().waiting_senders == 0
    assert outbound.statistics().waiting_receivers == 0


@pytest.mark.trio
async def test_trio_child_tasks_do_not_share_their_parents_waiter() -> None:
    """A task that parked, then spawns children that park at the same time."""
    ch: Chan[int] = Chan()
    with trio.move_on_after(0.01):
        await ch.arecv()  # the parent has parked once: its waiter exists
    got: list[int] = []

    async def child() -> None:
        got.append(await ch.arecv())

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(child)
        await trio.sleep(0.01)
        for i in range(4):
            await ch.asend(i)
    assert sorted(got) == [0, 1, 2, 3]


# --- how a task is woken ------------------------------------------------------


def test_same_run_wakeups_do_not_cross_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks of one trio run wake each other directly, never through the token."""
    calls = Counter[str]()
    token_type = trio.lowlevel.TrioToken
    original = token_type.run_sync_soon

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        calls["run_sync_soon"] += 1
        original(self, *args, **kwargs)

    async def main() -> list[int]:
        ch: Chan[int] = Chan()
        got: list[int] = []

        async def consumer() -> None:
            got.extend([v async for v in ch])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            monkeypatch.setattr(token_type, "run_sync_soon", counting)
            for i in range(200):
                await ch.asend(i)
            ch.close()
        return got

    assert trio.run(main) == list(range(200))
    assert calls["run_sync_soon"] == 0


def test_cross_thread_wakeups_go_through_the_token_once_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread waking a trio task uses run_sync_soon, at most once per value."""
    calls = Counter[str]()
    token_type = trio.lowlevel.TrioToken
    original = token_type.run_sync_soon

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        calls["run_sync_soon"] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(token_type, "run_sync_soon", counting)
    from chanpy._park import trio_tasks

    parks = trio_tasks.wait_select

    async def counting_parks(*args: Any) -> Any:
        calls["parks"] += 1
        return await parks(*args)

    monkeypatch.setattr(trio_tasks, "wait_select", counting_parks)
    ch: Chan[int] = Chan()
    n = 300

    async def consumer() -> list[int]:
        return [v async for v in ch]

    results: list[list[int]] = []
    t = threading.Thread(target=lambda: results.append(trio.run(consumer)))
    t.start()
    for i in range(n):
        ch.send(i, timeout=20)
    ch.close()
    t.join(20)
    assert results == [list(range(n))]
    # One wake-up per park at most (trio's own machinery may add a couple),
    # and the parks did happen.
    assert calls["parks"] > 0
    assert 0 < calls["run_sync_soon"] <= calls["parks"] + 2


def test_host_loop_wakes_a_trio_guest_run_in_the_same_thread() -> None:
    """A trio guest run on an asyncio loop shares its thread: the host's
    tasks wake the guest's parked tasks directly (trio schedules a guest
    tick), and every value arrives once, in order, both ways."""
    n = 300

    async def host() -> tuple[list[int], list[int]]:
        loop = asyncio.get_running_loop()
        to_guest: Chan[int] = Chan()
        to_host: Chan[int] = Chan()
        finished: asyncio.Future[list[int]] = loop.create_future()

        async def guest() -> list[int]:
            got = [v async for v in to_guest]  # parks; the host wakes it
            for i in range(n):
                await to_host.asend(i)  # parks; the host's receives wake it
            to_host.close()
            return got

        def done(outcome: Any) -> None:
            finished.set_result(outcome.unwrap())

        trio.lowlevel.start_guest_run(
            guest,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done,
            host_uses_signal_set_wakeup_fd=True,
        )
        for i in range(n):
            await to_guest.asend(i, timeout=20)
        to_guest.close()
        back = [v async for v in to_host]
        return await asyncio.wait_for(finished, 20), back

    got, back = asyncio.run(host())
    assert got == list(range(n))
    assert back == list(range(n))


def test_asyncio_same_loop_wakeups_do_not_cross_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = Counter[str]()

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls["call_soon_threadsafe"] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
        ch: Chan[int] = Chan()

        async def consumer() -> list[int]:
            return [v async for v in ch]

        task = asyncio.create_task(consumer())
        for i in range(200):
            await ch.asend(i)
        ch.close()
        return await task

    assert asyncio.run(main()) == list(range(200))
    assert calls["call_soon_threadsafe"] == 0
