"""Fairness of select: a uniformly random choice among the cases ready now.

Each test keeps every case ready for every select (buffered channels,
refilled or drained after each pick) and counts how often each case index
fires over 20 000 selects. With 4 ready cases each must get 25% +- 3%
(the standard deviation of a fair pick is 0.3%, so 3% is ten of them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from chanpy import Case, Chan, recv, select, send

SELECTS = 20_000
TOLERANCE = 0.03


def _assert_uniform(counts: Counter[int], indexes: Sequence[int], total: int) -> None:
    share = 1 / len(indexes)
    for i in indexes:
        got = counts[i] / total
        assert abs(got - share) <= TOLERANCE, (
            f"case {i} chosen {got:.2%} of the time, want {share:.0%} +- {TOLERANCE:.0%}: "
            f"{dict(sorted(counts.items()))}"
        )
    assert sum(counts[i] for i in indexes) == total, f"other cases fired: {counts}"


def _run(
    cases: Sequence[Case[Any]], restore: Callable[[int, Any], None], *, block: bool = True
) -> Counter[int]:
    """Select SELECTS times; after each, ``restore(index, value)`` keeps all cases ready."""
    counts: Counter[int] = Counter()
    for _ in range(SELECTS):
        r = select(*cases, block=block)
        counts[r.index] += 1
        restore(r.index, r.value)
    return counts


def _filled(capacity: int, n: int, value: object = "x") -> Chan[Any]:
    ch: Chan[Any] = Chan(capacity)
    for _ in range(n):
        ch.send_nowait(value)
    return ch


@pytest.mark.parametrize("block", [True, False])
def test_four_ready_recv_cases_are_chosen_equally(block: bool) -> None:
    chans = [_filled(4, 2, value=i) for i in range(4)]
    cases = [recv(ch) for ch in chans]

    def restore(index: int, value: Any) -> None:
        assert value == index, "the value came from another case's channel"
        chans[index].send_nowait(value)

    _assert_uniform(_run(cases, restore, block=block), range(4), SELECTS)
    assert [len(ch) for ch in chans] == [2, 2, 2, 2]


def test_none_cases_never_fire_and_do_not_skew_the_choice() -> None:
    chans = [_filled(4, 2, value=i) for i in range(4)]
    cases: list[Case[Any]] = [recv(None)]
    for ch in chans:
        cases += [recv(ch), send(None, "never")]
    ready = [1, 3, 5, 7]

    def restore(index: int, value: Any) -> None:
        chans[ready.index(index)].send_nowait(value)

    _assert_uniform(_run(cases, restore), ready, SELECTS)


def test_four_cases_on_the_same_channel_are_chosen_equally() -> None:
    ch = _filled(8, 4)
    cases = [recv(ch) for _ in range(4)]

    def restore(index: int, value: Any) -> None:
        ch.send_nowait(value)

    _assert_uniform(_run(cases, restore), range(4), SELECTS)


def test_same_channel_cases_mixed_with_another_channel() -> None:
    """Three cases on one channel and one on another: each case gets 25%,
    so the shared channel is picked 75% of the time, not 50%."""
    a = _filled(8, 4, value="a")
    b = _filled(8, 4, value="b")
    cases = [recv(a), recv(b), recv(a), recv(a)]

    def restore(index: int, value: Any) -> None:
        assert value == ("b" if index == 1 else "a")
        (b if index == 1 else a).send_nowait(value)

    _assert_uniform(_run(cases, restore), range(4), SELECTS)


def test_mix_of_ready_recv_and_send_cases() -> None:
    full = [_filled(4, 2, value=f"r{i}") for i in range(2)]
    room = [_filled(4, 2, value="old") for _ in range(2)]
    cases = [recv(full[0]), send(room[0], "s0"), recv(full[1]), send(room[1], "s1")]

    def restore(index: int, value: Any) -> None:
        if index in (0, 2):
            ch = full[index // 2]
            assert value == f"r{index // 2}"
            ch.send_nowait(value)
        else:
            assert value is None
            ch = room[index // 2]
            assert len(ch) == 3, "the send case did not put its value in its channel"
            ch.recv_nowait()

    _assert_uniform(_run(cases, restore), range(4), SELECTS)
    assert [len(ch) for ch in full + room] == [2, 2, 2, 2]


def test_send_and_recv_cases_on_one_channel() -> None:
    """Two recv and two send cases on one half-full buffered channel."""
    ch = _filled(4, 2, value="old")
    cases = [recv(ch), send(ch, "new"), recv(ch), send(ch, "new")]

    def restore(index: int, value: Any) -> None:
        if index in (0, 2):
            assert len(ch) == 1
            ch.send_nowait("old")
        else:
            assert len(ch) == 3
            # Drop the oldest value; the length is back to 2 either way.
            ch.recv_nowait()

    _assert_uniform(_run(cases, restore), range(4), SELECTS)
    assert len(ch) == 2
