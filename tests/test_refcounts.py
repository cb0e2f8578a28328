"""Values crossing into C keep exact reference counts on every path.

Each value handed to the core holds one reference while it is inside; a
send that does not take effect (full, timed out, closed, a select case that
did not fire, a cancelled task) must give it back. A leak or a double
release shows up as a changed ``sys.getrefcount`` of a marker object.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import weakref

import pytest
import trio

import chanpy
from chanpy import Chan, Closed, WouldBlock, recv, send


class Marker:
    """A value whose reference count we watch."""


def refs(obj: object) -> int:
    gc.collect()
    return sys.getrefcount(obj)


def test_nowait_paths() -> None:
    m = Marker()
    before = refs(m)
    for capacity in (0, 1, 4):
        ch: Chan[Marker] = Chan(capacity)
        for _ in range(100):
            try:
                ch.send_nowait(m)
            except WouldBlock:
                pass
            try:
                ch.recv_nowait()
            except WouldBlock:
                pass
        ch.close()
        with pytest.raises(Closed):
            ch.send_nowait(m)
    assert refs(m) == before


def test_blocking_send_timeout_and_close_release_the_value() -> None:
    m = Marker()
    before = refs(m)
    ch: Chan[Marker] = Chan()
    for _ in range(20):
        with pytest.raises(TimeoutError):
            ch.send(m, timeout=0.001)
        with pytest.raises(TimeoutError):
            ch.send(m, timeout=0)
    outcome: list[str] = []

    def blocked_sender() -> None:
        try:
            ch.send(m, timeout=10)
        except Closed:
            outcome.append("closed")

    t = threading.Thread(target=blocked_sender)
    t.start()
    while ch.statistics().waiting_senders == 0:
        pass
    ch.close()
    t.join(10)
    assert outcome == ["closed"]
    assert refs(m) == before


def test_select_cases_that_did_not_fire_release_their_values() -> None:
    m, other = Marker(), Marker()
    before, before_other = refs(m), refs(other)
    full: Chan[Marker] = Chan(1)
    full.send_nowait(other)
    ready: Chan[Marker] = Chan(1)
    for _ in range(50):
        r = chanpy.select(send(full, m), send(None, m), send(ready, m))
        assert r.index == 2
        assert ready.recv_nowait() is m
        with pytest.raises(TimeoutError):
            chanpy.select(send(full, m), timeout=0.001)
        with pytest.raises(WouldBlock):
            chanpy.select(send(full, m), block=False)
    assert full.recv_nowait() is other
    assert refs(m) == before
    assert refs(other) == before_other


def test_values_left_in_a_dropped_channel_are_released() -> None:
    m = Marker()
    before = refs(m)
    ch: Chan[Marker] = Chan(8)
    for _ in range(8):
        ch.send_nowait(m)
    assert refs(m) == before + 8
    del ch
    assert refs(m) == before


def test_handoff_between_threads_keeps_counts() -> None:
    m = Marker()
    before = refs(m)
    ch: Chan[Marker] = Chan()
    out: list[Marker] = []

    def consumer() -> None:
        out.extend(ch)

    t = threading.Thread(target=consumer)
    t.start()
    for _ in range(500):
        ch.send(m, timeout=10)
    ch.close()
    t.join(10)
    assert len(out) == 500
    out.clear()
    assert refs(m) == before


def test_cancelled_tasks_release_their_values() -> None:
    m = Marker()
    before = refs(m)
    ch: Chan[Marker] = Chan()

    async def trio_main() -> None:
        for _ in range(50):
            with trio.move_on_after(0.0005):
                await ch.asend(m)
            with trio.move_on_after(0.0005):
                await chanpy.aselect(send(ch, m), recv(None))

    async def asyncio_main() -> None:
        for _ in range(50):
            try:
                await asyncio.wait_for(ch.asend(m), 0.0005)
            except TimeoutError:
                pass
            task = asyncio.create_task(chanpy.aselect(send(ch, m), send(None, m)))
            await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    trio.run(trio_main)
    asyncio.run(asyncio_main())
    assert ch.statistics().waiting_senders == 0
    assert refs(m) == before


def test_a_cycle_through_a_buffered_value_is_collected() -> None:
    """A value in the buffer that refers back to its channel is not immortal."""

    class Holder:
        chan: Chan[Holder]

    ch: Chan[Holder] = Chan(4)
    h = Holder()
    h.chan = ch
    ch.send_nowait(h)
    chan_ref, holder_ref = weakref.ref(ch), weakref.ref(h)
    del ch, h
    gc.collect()
    assert chan_ref() is None
    assert holder_ref() is None


def test_a_cycle_through_a_select_result_is_collected() -> None:
    class Box:
        result: object

    ch: Chan[Box] = Chan(1)
    ch.send_nowait(Box())
    r = chanpy.select(recv(ch))
    r.value.result = r  # the result's value refers back to the result
    ref = weakref.ref(r.value)
    del r
    gc.collect()
    assert ref() is None
