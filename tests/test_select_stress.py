"""Select stress: many threads selecting over shared channels.

Values flow producer -> stage 1 -> relay -> stage 2 -> consumer, every hop a
``select`` mixing send and receive cases over shared channels (unbuffered
and buffered), cases on ``None`` (never ready), timeouts, polls and
``block=False``. A select that sends counts its value as delivered only
when it returned that send case's index; the value must then arrive, once,
on exactly the channel of that case. Values whose select timed out and that
the producer gave up on must never arrive anywhere.

Counts scale with CHANPY_STRESS_SCALE (default 1).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from chanpy import Case, Chan, Closed, Selected, WouldBlock, recv, select, send
from tests.crew import JOIN_SECONDS, Crew, stress_scale


def _scaled(n: int) -> int:
    return max(1, int(n * stress_scale()))


class _Timing:
    """A random way to wait: forever, a small timeout, a poll, or block=False."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def select(self, cases: Sequence[Case[Any]]) -> Selected | None:
        """Run one select; None if it timed out or would have blocked."""
        roll = self.rng.random()
        try:
            if roll < 0.45:
                return select(*cases)
            if roll < 0.80:
                return select(*cases, timeout=self.rng.choice((1e-5, 1e-4, 1e-3)))
            if roll < 0.90:
                return select(*cases, timeout=0)
            return select(*cases, block=False)
        except (TimeoutError, WouldBlock):
            return None


def _never(value: object = None) -> Case[Any]:
    """A case on None: never ready; alternate send and recv forms."""
    return send(None, value) if value is not None else recv(None)


@pytest.mark.stress
@pytest.mark.timeout(110)
def test_pipeline_of_selects_loses_and_duplicates_nothing() -> None:
    n_producers, n_relays, n_consumers = 4, 4, 4
    per = _scaled(40_000)
    stage1: list[Chan[int]] = [Chan(0), Chan(1), Chan(16)]
    stage2: list[Chan[int]] = [Chan(0), Chan(8)]
    crew = Crew()

    # What each side says happened, as (channel number, value) pairs.
    produced: list[list[tuple[int, int]]] = [[] for _ in range(n_producers)]
    abandoned: list[list[int]] = [[] for _ in range(n_producers)]
    relay_in: list[list[tuple[int, int]]] = [[] for _ in range(n_relays)]
    relay_out: list[list[tuple[int, int]]] = [[] for _ in range(n_relays)]
    consumed: list[list[tuple[int, int]]] = [[] for _ in range(n_consumers)]

    def producer(p: int) -> Callable[[], None]:
        def run() -> None:
            timing = _Timing(100 + p)
            rng = timing.rng
            order = [0, 1, 2]
            for seq in range(per):
                v = p * per + seq
                while True:
                    rng.shuffle(order)
                    # Cases: three real sends, a nil send, a nil recv.
                    cases: list[Case[Any]] = [send(stage1[i], v) for i in order]
                    targets: list[int | None] = list(order)
                    cases.insert(1, send(None, v))
                    targets.insert(1, None)
                    cases.append(recv(None))
                    targets.append(None)
                    r = timing.select(cases)
                    if r is not None:
                        target = targets[r.index]
                        assert target is not None, f"a None case fired: index {r.index}"
                        assert r.ok
                        assert r.value is None
                        produced[p].append((target, v))
                        break
                    if rng.random() < 0.3:
                        # Give up: this value must never show up anywhere.
                        abandoned[p].append(v)
                        break

        return run

    def relay(k: int) -> Callable[[], None]:
        def run() -> None:
            timing = _Timing(200 + k)
            open_in = [True] * len(stage1)
            pending: deque[int] = deque()
            while any(open_in) or pending:
                cases: list[Case[Any]] = []
                meaning: list[tuple[str, int]] = []
                for i, ch in enumerate(stage1):
                    room = len(pending) < 4
                    cases.append(recv(ch if open_in[i] and room else None))
                    meaning.append(("in", i))
                for i, ch in enumerate(stage2):
                    cases.append(send(ch, pending[0]) if pending else send(None, -1))
                    meaning.append(("out", i))
                cases.append(_never())
                meaning.append(("never", -1))
                r = timing.select(cases)
                if r is None:
                    continue
                kind, i = meaning[r.index]
                assert kind != "never", "a None case fired"
                if kind == "in":
                    if r.ok:
                        relay_in[k].append((i, r.value))
                        pending.append(r.value)
                    else:
                        assert stage1[i].closed, "ok=False from an open channel"
                        assert r.value is None
                        open_in[i] = False
                else:
                    assert pending, "a send case fired with nothing to send"
                    relay_out[k].append((i, pending.popleft()))

        return run

    def consumer(c: int) -> Callable[[], None]:
        def run() -> None:
            timing = _Timing(300 + c)
            open_in = [True] * len(stage2)
            while any(open_in):
                # Stage 2's first channel twice: two cases on one channel.
                cases = [
                    recv(stage2[0] if open_in[0] else None),
                    recv(None),
                    recv(stage2[1] if open_in[1] else None),
                    recv(stage2[0] if open_in[0] else None),
                ]
                where = [0, None, 1, 0]
                r = timing.select(cases)
                if r is None:
                    continue
                i = where[r.index]
                assert i is not None, "a None case fired"
                if r.ok:
                    consumed[c].append((i, r.value))
                else:
                    assert stage2[i].closed, "ok=False from an open channel"
                    open_in[i] = False

        return run

    consumers = [crew.start(consumer(c), f"consumer-{c}") for c in range(n_consumers)]
    relays = [crew.start(relay(k), f"relay-{k}") for k in range(n_relays)]
    producers = [crew.start(producer(p), f"producer-{p}") for p in range(n_producers)]
    try:
        crew.join(producers, "producers")
    finally:
        for ch in stage1:
            ch.close()
    try:
        crew.join(relays, "relays")
    finally:
        for ch in stage2:
            ch.close()
    crew.join(consumers, "consumers")

    sent1 = Counter(pair for pairs in produced for pair in pairs)
    got1 = Counter(pair for pairs in relay_in for pair in pairs)
    sent2 = Counter(pair for pairs in relay_out for pair in pairs)
    got2 = Counter(pair for pairs in consumed for pair in pairs)
    gave_up = {v for values in abandoned for v in values}

    # Every value accounted for: delivered or given up, never both.
    delivered_values = Counter(v for _, v in sent1)
    assert max(delivered_values.values()) == 1, "a producer counted a value twice"
    assert not gave_up & set(delivered_values)
    assert len(delivered_values) + len(gave_up) == n_producers * per

    # Hop 1: each value arrived once, on the channel whose case index fired.
    assert got1 == sent1, _diff("stage 1", sent1, got1)
    # Hop 2 likewise.
    assert sent2.keys() <= {(i, v) for i in range(len(stage2)) for v in delivered_values}
    assert got2 == sent2, _diff("stage 2", sent2, got2)
    end_to_end = Counter(v for _, v in got2)
    assert end_to_end == delivered_values
    assert not gave_up & set(end_to_end), "a select that timed out delivered its value"
    assert gave_up, "the timeouts never fired: the give-up path went untested"
    for ch in stage1 + stage2:
        stats = ch.statistics()
        assert (stats.length, stats.waiting_senders, stats.waiting_receivers) == (0, 0, 0)


def _diff(where: str, sent: Counter[tuple[int, int]], got: Counter[tuple[int, int]]) -> str:
    lost = list((sent - got).elements())[:10]
    extra = list((got - sent).elements())[:10]
    return f"{where}: lost or misrouted {lost}; duplicated or misrouted {extra}"


@pytest.mark.stress
@pytest.mark.timeout(110)
@pytest.mark.parametrize("capacity", [0, 2])
def test_send_and_recv_on_one_channel_in_one_select(capacity: int) -> None:
    """Threads select over ``send(ch, mine)`` and ``recv(ch)`` on the same channel.

    Each worker offers its own values and takes others' (or, when buffered,
    possibly its own back) through the same channel; a drainer receives the
    rest. A select reporting the recv case must not also have sent (and vice
    versa), and an unbuffered select must never pair with itself.
    """
    n_workers = 6
    per = _scaled(20_000)
    ch: Chan[int] = Chan(capacity)
    crew = Crew()
    sent: list[list[int]] = [[] for _ in range(n_workers)]
    got: list[list[int]] = [[] for _ in range(n_workers + 1)]

    def worker(w: int) -> Callable[[], None]:
        def run() -> None:
            timing = _Timing(400 + w)
            seq = 0
            while seq < per:
                v = w * per + seq
                cases: list[Case[Any]] = [send(ch, v), recv(None), recv(ch)]
                if timing.rng.random() < 0.5:
                    cases.reverse()
                r = timing.select(cases)
                if r is None:
                    continue
                case = cases[r.index]
                assert case.chan is ch, "a None case fired"
                if case.is_send:
                    sent[w].append(v)
                    seq += 1
                else:
                    assert r.ok
                    if capacity == 0:
                        assert r.value // per != w, "an unbuffered select paired with itself"
                    got[w].append(r.value)

        return run

    def drainer() -> None:
        for v in ch:
            got[n_workers].append(v)

    drain = crew.start(drainer, "drainer")
    workers = [crew.start(worker(w), f"worker-{w}") for w in range(n_workers)]
    try:
        crew.join(workers, "workers")
    finally:
        ch.close()
    crew.join([drain], "drainer")

    all_sent = Counter(v for values in sent for v in values)
    all_got = Counter(v for values in got for v in values)
    assert all_sent == Counter(range(n_workers * per)), "a worker lost track of its sends"
    lost = sorted((all_sent - all_got).elements())[:10]
    extra = sorted((all_got - all_sent).elements())[:10]
    assert not lost, f"values lost: {lost}"
    assert not extra, f"values received twice or never sent: {extra}"
    assert sum(len(values) for values in got[:n_workers]) > 0, "workers never received"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("n_receivers", "n_senders"), [(6, 3), (3, 6)])
def test_close_wakes_blocked_selects(n_receivers: int, n_senders: int) -> None:
    """Closing a channel many selects wait on: pending receive cases fire
    with ok=False, pending send cases raise Closed; the pairs completed
    before the close each moved exactly the value the sender's index says."""
    a: Chan[int] = Chan()
    crew = Crew()
    lock = threading.Lock()
    received: list[Selected] = []
    sent: list[int] = []
    refused: list[int] = []

    def receiver() -> None:
        r = select(recv(None), recv(a), recv(a))
        with lock:
            received.append(r)

    def sender(k: int) -> Callable[[], None]:
        def run() -> None:
            offers = (1000 + k, -1, 2000 + k)
            try:
                r = select(send(a, offers[0]), send(None, offers[1]), send(a, offers[2]))
            except Closed:
                with lock:
                    refused.append(k)
                return
            assert r.index in (0, 2)
            with lock:
                sent.append(offers[r.index])

        return run

    threads = [crew.start(receiver, f"receiver-{k}") for k in range(n_receivers)]
    threads += [crew.start(sender(k), f"sender-{k}") for k in range(n_senders)]
    pairs = min(n_receivers, n_senders)
    excess_receivers = n_receivers - pairs
    excess_senders = n_senders - pairs
    try:
        for _ in range(4000):
            stats = a.statistics()
            with lock:
                done = len(received) + len(sent)
            # Each waiting select has two cases registered on ``a``.
            if (
                done == 2 * pairs
                and stats.waiting_receivers == 2 * excess_receivers
                and stats.waiting_senders == 2 * excess_senders
            ):
                break
            time.sleep(0.005)
        else:
            pytest.fail(f"selects never settled: {a.statistics()}, {done} done")
    finally:
        a.close()
    crew.join(threads, "selectors")

    ok_values = sorted(r.value for r in received if r.ok)
    assert ok_values == sorted(sent), "a completed send did not arrive exactly once"
    assert len(sent) == pairs
    closed_cases = [r for r in received if not r.ok]
    assert len(closed_cases) == excess_receivers
    assert all(r.index in (1, 2) and r.value is None for r in closed_cases)
    assert len(refused) == excess_senders
    stats = a.statistics()
    assert (stats.waiting_senders, stats.waiting_receivers, stats.closed) == (0, 0, True)


@pytest.mark.timeout(30)
def test_a_select_never_pairs_with_itself() -> None:
    u: Chan[str] = Chan()
    with pytest.raises(TimeoutError):
        select(send(u, "me"), recv(u), send(u, "me too"), timeout=0.05)
    stats = u.statistics()
    assert (stats.waiting_senders, stats.waiting_receivers) == (0, 0)
    with pytest.raises(WouldBlock):
        u.recv_nowait()


@pytest.mark.timeout(60)
def test_two_selects_offering_and_taking_pair_consistently() -> None:
    """Two threads both select ``send(u, own)`` / ``recv(u)`` on one unbuffered
    channel: whenever they pair, one reports its send and the other reports
    receiving exactly that value."""
    u: Chan[str] = Chan()
    crew = Crew()
    rounds = 300
    theirs: list[Selected] = []

    def other() -> None:
        for _ in range(rounds):
            theirs.append(select(recv(u), send(u, "them"), timeout=JOIN_SECONDS))

    thread = crew.start(other, "other")
    mine: list[Selected] = []
    for _ in range(rounds):
        mine.append(select(send(u, "me"), recv(u), timeout=JOIN_SECONDS))
    crew.join([thread], "other")

    assert len(theirs) == rounds
    for k, (m, t) in enumerate(zip(mine, theirs, strict=True)):
        if m.index == 0:
            assert (t.index, t.value) == (0, "me"), f"round {k}: {m} vs {t}"
        else:
            assert (m.index, m.value) == (1, "them"), f"round {k}: {m} vs {t}"
            assert t.index == 1, f"round {k}: {m} vs {t}"
