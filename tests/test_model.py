"""A stateful test: one channel against a reference model.

Hypothesis drives one channel (capacity 0..4) from a single thread with
random non-blocking operations -- ``send_nowait``, ``recv_nowait``, polls
(``timeout=0``), ``select(block=False)``, ``close`` and iteration once
closed -- and checks every outcome, plus ``len``, ``closed``, ``capacity``
and ``statistics()`` after every step, against a model that is a deque and
a closed flag.

With no other thread, an unbuffered channel never has a partner: every
non-blocking operation on it is WouldBlock (TimeoutError for a poll) unless
the channel is closed. On a closed channel the non-blocking forms raise
Closed (a receive only once drained), never WouldBlock.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from chanpy import Case, Chan, ChanStatistics, Closed, WouldBlock, recv, select, send

# Values are fresh objects (identity is checked, not just equality), None
# and small ints included.
values = st.one_of(st.none(), st.integers(-3, 3), st.builds(object), st.text(max_size=3))


class ChannelModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ch: Chan[Any] = Chan()
        self.capacity = 0
        self.buffer: deque[Any] = deque()
        self.is_closed = False

    @initialize(capacity=st.integers(0, 4))
    def make_channel(self, capacity: int) -> None:
        self.ch = Chan(capacity)
        self.capacity = capacity

    # --- what the model says ---------------------------------------------

    def _can_send(self) -> bool:
        return len(self.buffer) < self.capacity

    def _expect_recv(self, got: Any) -> None:
        assert self.buffer, f"received {got!r} from a channel the model says is empty"
        want = self.buffer.popleft()
        assert got is want, f"received {got!r}, expected {want!r} (FIFO)"

    # --- sends -------------------------------------------------------------

    @rule(value=values)
    def send_nowait(self, value: Any) -> None:
        if self.is_closed:
            with pytest.raises(Closed):
                self.ch.send_nowait(value)
        elif self._can_send():
            self.ch.send_nowait(value)
            self.buffer.append(value)
        else:
            with pytest.raises(WouldBlock):
                self.ch.send_nowait(value)

    @rule(value=values)
    def send_poll(self, value: Any) -> None:
        if self.is_closed:
            with pytest.raises(Closed):
                self.ch.send(value, timeout=0)
        elif self._can_send():
            self.ch.send(value, timeout=0)
            self.buffer.append(value)
        else:
            with pytest.raises(TimeoutError):
                self.ch.send(value, timeout=0)

    @rule(value=values)
    def select_send_nowait(self, value: Any) -> None:
        cases: tuple[Case[Any], ...] = (send(None, value), send(self.ch, value), recv(None))
        if self.is_closed:
            with pytest.raises(Closed):
                select(*cases, block=False)
        elif self._can_send():
            r = select(*cases, block=False)
            assert (r.index, r.value, r.ok) == (1, None, True)
            self.buffer.append(value)
        else:
            with pytest.raises(WouldBlock):
                select(*cases, block=False)

    # --- receives ------------------------------------------------------------

    @rule()
    def recv_nowait(self) -> None:
        if self.buffer:
            self._expect_recv(self.ch.recv_nowait())
        elif self.is_closed:
            with pytest.raises(Closed):
                self.ch.recv_nowait()
        else:
            with pytest.raises(WouldBlock):
                self.ch.recv_nowait()

    @rule()
    def recv_poll(self) -> None:
        if self.buffer:
            self._expect_recv(self.ch.recv(timeout=0))
        elif self.is_closed:
            with pytest.raises(Closed):
                self.ch.recv(timeout=0)
        else:
            with pytest.raises(TimeoutError):
                self.ch.recv(timeout=0)

    @rule()
    def select_recv_nowait(self) -> None:
        cases: tuple[Case[Any], ...] = (recv(None), recv(self.ch))
        if self.buffer:
            r = select(*cases, block=False)
            assert (r.index, r.ok) == (1, True)
            self._expect_recv(r.value)
        elif self.is_closed:
            r = select(*cases, block=False)
            assert (r.index, r.value, r.ok) == (1, None, False)
        else:
            with pytest.raises(WouldBlock):
                select(*cases, block=False)

    # --- close and what follows -----------------------------------------------

    @rule()
    def close(self) -> None:
        first = self.ch.close()
        assert first is (not self.is_closed), "close() must say whether this call closed it"
        self.is_closed = True

    @precondition(lambda self: self.is_closed)
    @rule()
    def iterate_to_the_end(self) -> None:
        got = list(self.ch)
        assert len(got) == len(self.buffer)
        for value in got:
            self._expect_recv(value)

    # --- what can be observed at any time ---------------------------------------

    @invariant()
    def observable_state_matches(self) -> None:
        assert len(self.ch) == len(self.buffer)
        assert self.ch.closed is self.is_closed
        assert self.ch.capacity == self.capacity
        assert self.ch.statistics() == ChanStatistics(
            length=len(self.buffer),
            capacity=self.capacity,
            waiting_senders=0,
            waiting_receivers=0,
            closed=self.is_closed,
        )


ChannelModel.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_channel_against_model = ChannelModel.TestCase
