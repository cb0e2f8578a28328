"""Thread-world stress: many producers and consumers share one channel.

Each test pushes every value through one channel from 8 producer threads to
8 consumer threads and then checks, value by value, that

* every value sent was received exactly once (no loss, no duplicate), and
* each consumer saw each producer's values in the order they were sent
  (per-sender FIFO).

Producers finish, the main thread closes the channel, and consumers end by
the channel's own end of iteration (or by Closed in the timeout variant).

Counts scale with the environment variable CHANPY_STRESS_SCALE (default 1);
at the default the blocking test moves 200 000 values per capacity.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from chanpy import Chan, Closed
from tests.crew import JOIN_SECONDS, Crew, stress_scale

PRODUCERS = 8
CONSUMERS = 8


def _per_producer(total: int) -> int:
    """Values per producer so that all producers together send >= ``total``."""
    return max(1, -(-int(total * stress_scale()) // PRODUCERS))


def _check_exactly_once(received: Sequence[Sequence[int]], per: int) -> None:
    """Every value 0 .. PRODUCERS*per-1 once in total, each producer's in order."""
    total = PRODUCERS * per
    counts = bytearray(total)
    strays: list[int] = []
    for consumer, values in enumerate(received):
        last = [-1] * PRODUCERS
        for v in values:
            if not 0 <= v < total:
                strays.append(v)
                continue
            if counts[v] < 255:
                counts[v] += 1
            producer, seq = divmod(v, per)
            assert seq > last[producer], (
                f"consumer {consumer} got producer {producer}'s value #{seq} "
                f"after #{last[producer]}: per-producer order broken"
            )
            last[producer] = seq
    assert not strays, f"values nobody sent were received: {strays[:10]}"
    missing = [v for v in range(total) if counts[v] == 0]
    doubled = [v for v in range(total) if counts[v] > 1]
    assert not missing, f"{len(missing)} value(s) lost, e.g. {missing[:10]}"
    assert not doubled, f"{len(doubled)} value(s) received twice or more, e.g. {doubled[:10]}"
    assert sum(len(values) for values in received) == total


@pytest.mark.stress
@pytest.mark.timeout(110)
@pytest.mark.parametrize("capacity", [0, 1, 16, 1024])
def test_blocking_send_recv_every_value_once_in_order(capacity: int) -> None:
    per = _per_producer(200_000)
    assert PRODUCERS * per >= 200_000 or stress_scale() < 1
    ch: Chan[int] = Chan(capacity)
    crew = Crew()
    received: list[list[int]] = [[] for _ in range(CONSUMERS)]

    def producer(p: int) -> Callable[[], None]:
        def run() -> None:
            base = p * per
            for seq in range(per):
                ch.send(base + seq)

        return run

    def consumer(c: int) -> Callable[[], None]:
        def run() -> None:
            out = received[c]
            for v in ch:
                out.append(v)

        return run

    consumers = [crew.start(consumer(c), f"consumer-{c}") for c in range(CONSUMERS)]
    producers = [crew.start(producer(p), f"producer-{p}") for p in range(PRODUCERS)]
    try:
        crew.join(producers, "producers")
    finally:
        ch.close()
    crew.join(consumers, "consumers")
    crew.raise_errors()

    _check_exactly_once(received, per)
    stats = ch.statistics()
    assert (stats.length, stats.waiting_senders, stats.waiting_receivers) == (0, 0, 0)
    assert stats.closed


# Small timeouts, 0 (a poll) included, so that operations time out often
# while peers are racing to complete them.
_TIMEOUTS = (0.0, 0.0, 1e-5, 1e-4, 5e-4, 2e-3)


@pytest.mark.stress
@pytest.mark.timeout(110)
@pytest.mark.parametrize("capacity", [0, 1, 16, 1024])
def test_timeouts_injected_every_value_once_in_order(capacity: int) -> None:
    per = _per_producer(100_000)
    ch: Chan[int] = Chan(capacity)
    crew = Crew()
    received: list[list[int]] = [[] for _ in range(CONSUMERS)]
    send_timeouts = [0] * PRODUCERS
    recv_timeouts = [0] * CONSUMERS

    def producer(p: int) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(1000 + p)
            base = p * per
            for seq in range(per):
                while True:
                    timeout = rng.choice(_TIMEOUTS) if rng.random() < 0.5 else None
                    try:
                        ch.send(base + seq, timeout=timeout)
                    except TimeoutError:
                        # Must not have been delivered: send the same value
                        # again; a duplicate would show in the count.
                        send_timeouts[p] += 1
                        continue
                    break

        return run

    def consumer(c: int) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(2000 + c)
            out = received[c]
            while True:
                timeout = rng.choice(_TIMEOUTS) if rng.random() < 0.5 else None
                try:
                    out.append(ch.recv(timeout=timeout))
                except TimeoutError:
                    recv_timeouts[c] += 1
                except Closed:
                    return

        return run

    consumers = [crew.start(consumer(c), f"consumer-{c}") for c in range(CONSUMERS)]
    producers = [crew.start(producer(p), f"producer-{p}") for p in range(PRODUCERS)]
    try:
        crew.join(producers, "producers")
    finally:
        ch.close()
    crew.join(consumers, "consumers")
    crew.raise_errors()

    _check_exactly_once(received, per)
    # The injection did something: some operations really timed out.
    assert sum(send_timeouts) + sum(recv_timeouts) > 0
    stats = ch.statistics()
    assert (stats.length, stats.waiting_senders, stats.waiting_receivers) == (0, 0, 0)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("capacity", [0, 3])
def test_close_while_blocked_ends_every_thread(capacity: int) -> None:
    """Closing wakes every blocked sender (Closed) and every receiver (end of loop).

    The values that were handed over before the close are each received
    exactly once; a sender that got Closed did not deliver its value.
    """
    ch: Chan[int] = Chan(capacity)
    crew = Crew()
    delivered: list[list[int]] = [[] for _ in range(PRODUCERS)]
    refused: list[int] = []
    refused_lock = threading.Lock()
    gate = threading.Barrier(PRODUCERS + 1)

    def producer(p: int) -> Callable[[], None]:
        def run() -> None:
            gate.wait(JOIN_SECONDS)
            seq = 0
            while True:
                v = p * 1_000_000 + seq
                try:
                    ch.send(v)
                except Closed:
                    with refused_lock:
                        refused.append(v)
                    return
                delivered[p].append(v)
                seq += 1

        return run

    producers = [crew.start(producer(p), f"producer-{p}") for p in range(PRODUCERS)]
    gate.wait(JOIN_SECONDS)
    # Let a few values through, then close while senders are blocked.
    early = [ch.recv(timeout=JOIN_SECONDS) for _ in range(50)]
    try:
        # Wait until every producer is parked (the buffer, if any, is full).
        for _ in range(2000):
            if ch.statistics().waiting_senders == PRODUCERS:
                break
            time.sleep(0.005)
        assert ch.statistics().waiting_senders == PRODUCERS
    finally:
        ch.close()
    crew.join(producers, "producers")
    rest = list(ch)
    crew.raise_errors()

    got = sorted(early + rest)
    sent = sorted(v for values in delivered for v in values)
    assert got == sent, "values delivered before close were lost or duplicated"
    assert len(refused) == PRODUCERS
    assert not set(refused) & set(got), "a send that raised Closed delivered its value"
    assert len(ch) == 0
