"""The GIL trap, measured: what one tiny step into C costs, alone and beside a busy thread.

Run ``python bench/gil_trap.py`` (about 20-30 s). Every operation is timed in
batches of 100 calls with ``perf_counter_ns``, first with nothing else running
and then with one other Python thread spinning, all in one process run, so the
rows can be compared with each other. Per-call figures are a batch's time
divided by 100 (so the loop's own overhead is included, the same for every
row); "max" is the slowest batch divided by 100, and "slow" counts batches that
took 1 ms or more, which is where a lost GIL shows.

What the rows are:

* ``cffi chp_chan_len``: a trivial C function called through cffi, which
  releases the GIL around the call and must take it back afterwards.
* ``cffi try_send+try_recv``: a send and a receive on a buffered channel
  through cffi (two calls, two GIL releases).
* ``glue len(ch)``, ``glue send_nowait+recv_nowait``: the same C work through
  chanpy's own entry points, which keep the GIL (docs/design.md).
* ``cdata field read``: reading a field of a cffi struct (no call, no release).
* ``threading.Lock``, ``queue.Queue``, ``builtin len(tuple)``: references.

This script is evidence for a design decision, not a benchmark with a
target: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chanpy import Chan
from chanpy._ffi import ffi, lib

BATCH = 100
SLOW_NS = 1_000_000  # a batch this slow lost the GIL (or the CPU) at least once


@dataclass(frozen=True)
class Result:
    """Per-call times in ns, from batches of ``BATCH`` calls."""

    mean: float
    p50: float
    p99: float
    max: float
    batches: int
    slow: int
    round_means: tuple[float, ...]


def _percentile(ordered: list[int], q: float) -> int:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_batches(batch: Callable[[], None], budget_s: float, max_batches: int) -> list[int]:
    """Time ``batch`` (which makes BATCH calls) until the budget or the count runs out."""
    for _ in range(10):  # warm up caches and any lazy set-up
        batch()
    clock = time.perf_counter_ns
    times: list[int] = []
    stop_at = clock() + int(budget_s * 1e9)
    while len(times) < max_batches:
        t0 = clock()
        batch()
        t1 = clock()
        times.append(t1 - t0)
        if t1 >= stop_at:
            break
    return times


def summarize(rounds: list[list[int]]) -> Result:
    times = [t for r in rounds for t in r]
    ordered = sorted(times)
    return Result(
        mean=sum(times) / len(times) / BATCH,
        p50=_percentile(ordered, 0.50) / BATCH,
        p99=_percentile(ordered, 0.99) / BATCH,
        max=ordered[-1] / BATCH,
        batches=len(times),
        slow=sum(1 for t in times if t >= SLOW_NS),
        round_means=tuple(sum(r) / len(r) / BATCH for r in rounds),
    )


def operations() -> tuple[dict[str, Callable[[], None]], Callable[[], None]]:
    """The batches to time, and a function that releases what they use."""
    reps = range(BATCH)

    # A native channel created and used only through cffi (no chanpy object).
    raw = lib.chp_chan_new(16)
    if raw == ffi.NULL:
        raise MemoryError("chp_chan_new failed")
    chan_len = lib.chp_chan_len
    try_send = lib.chp_chan_try_send
    try_recv = lib.chp_chan_try_recv
    token = ffi.cast("void *", 1)  # any non-NULL pointer: the core never reads it
    woken = ffi.new("chp_waiter_t **")
    out = ffi.new("void **")

    ch: Chan[int] = Chan(16)
    send_nowait = ch.send_nowait
    recv_nowait = ch.recv_nowait

    case = ffi.new("chp_case_t *")
    case.op = 1

    lock = threading.Lock()
    acquire = lock.acquire
    release = lock.release

    q: queue.Queue[int] = queue.Queue(16)
    put_nowait = q.put_nowait
    get_nowait = q.get_nowait

    small = (1, 2, 3)

    def cffi_len() -> None:
        for _ in reps:
            chan_len(raw)

    def cffi_send_recv() -> None:
        for _ in reps:
            try_send(raw, token, ffi.NULL, woken)
            try_recv(raw, out, ffi.NULL, woken)

    def glue_len() -> None:
        for _ in reps:
            len(ch)

    def glue_send_recv() -> None:
        for _ in reps:
            send_nowait(1)
            recv_nowait()

    def cdata_field() -> None:
        for _ in reps:
            case.op  # noqa: B018 - the read is what is being timed

    def lock_pair() -> None:
        for _ in reps:
            acquire()
            release()

    def queue_pair() -> None:
        for _ in reps:
            put_nowait(1)
            get_nowait()

    def builtin_len() -> None:
        for _ in reps:
            len(small)

    def cleanup() -> None:
        # The ring only ever held the token, which needs no release.
        while lib.chp_chan_try_recv(raw, out, ffi.NULL, woken) == lib.CHP_OK:
            pass
        lib.chp_chan_free(raw)

    ops = {
        "cffi chp_chan_len": cffi_len,
        "glue len(ch)": glue_len,
        "cffi try_send+try_recv": cffi_send_recv,
        "glue send_nowait+recv_nowait": glue_send_recv,
        "cdata field read": cdata_field,
        "threading.Lock acq+rel": lock_pair,
        "queue.Queue put+get_nowait": queue_pair,
        "builtin len(tuple)": builtin_len,
    }
    return ops, cleanup


class Spinner:
    """One Python thread doing pure bytecode work, as a busy program has."""

    def __init__(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._spin, name="busy", daemon=True)

    def _spin(self) -> None:
        n = 0
        while self._running:
            n += 1

    def __enter__(self) -> Spinner:
        self._thread.start()
        time.sleep(0.05)  # let it reach its loop and start competing for the GIL
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._running = False
        self._thread.join()


def _fmt(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def table(title: str, results: dict[str, Result], base: dict[str, Result] | None) -> None:
    print(title)
    extra = f"{'x alone':>9}" if base else ""
    print(
        f"{'  operation':<32}{'mean':>9}{'p50':>9}{'p99':>10}{'max':>10}"
        f"{'slow batches':>14}{extra}   mean by round"
    )
    for name, r in results.items():
        rounds = " ".join(_fmt(m) for m in r.round_means)
        slower = f"{r.mean / base[name].mean:>8.1f}x" if base else ""
        print(
            f"  {name:<30}{_fmt(r.mean):>9}{_fmt(r.p50):>9}{_fmt(r.p99):>10}{_fmt(r.max):>10}"
            f"{f'{r.slow}/{r.batches}':>14}{slower}   {rounds}"
        )
    print()


def ratios(alone: dict[str, Result], busy: dict[str, Result]) -> None:
    def line(label: str, a: str, b: str) -> None:
        cells = [
            f"{res[a].mean / res[b].mean:>8.1f}x{res[a].p99 / res[b].p99:>8.1f}x"
            for res in (alone, busy)
        ]
        print(f"  {label:<40}{cells[0]}   {cells[1]}")

    print("Ratios, first row / second row (same run):")
    print(f"  {'':<40}{'alone: mean':>12}{'p99':>6}   {'busy: mean':>11}{'p99':>6}")
    line("cffi chp_chan_len / glue len(ch)", "cffi chp_chan_len", "glue len(ch)")
    line(
        "cffi send+recv / glue send+recv",
        "cffi try_send+try_recv",
        "glue send_nowait+recv_nowait",
    )
    line(
        "queue.Queue put+get / glue send+recv",
        "queue.Queue put+get_nowait",
        "glue send_nowait+recv_nowait",
    )
    line("threading.Lock / glue len(ch)", "threading.Lock acq+rel", "glue len(ch)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--budget", type=float, default=0.35, help="seconds per row, condition and round"
    )
    parser.add_argument(
        "--batches", type=int, default=4000, help="at most this many batches per row and round"
    )
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Python {platform.python_version()} ({sys.implementation.name}), "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load {load:.2f}, "
        f"switch interval {sys.getswitchinterval() * 1e3:g} ms, batches of {BATCH}, "
        f"{args.rounds} rounds"
    )
    print("slow batch: one that took >= 1 ms; max: slowest batch / 100")
    print()
    ops, cleanup = operations()
    alone: dict[str, list[list[int]]] = {name: [] for name in ops}
    busy: dict[str, list[list[int]]] = {name: [] for name in ops}
    try:
        # Conditions and rows alternate round by round, so a change in the
        # machine's load during the run touches every row alike.
        for _ in range(args.rounds):
            for name, fn in ops.items():
                alone[name].append(time_batches(fn, args.budget, args.batches))
            with Spinner():
                for name, fn in ops.items():
                    busy[name].append(time_batches(fn, args.budget, args.batches))
    finally:
        cleanup()
    alone_r = {name: summarize(rounds) for name, rounds in alone.items()}
    busy_r = {name: summarize(rounds) for name, rounds in busy.items()}
    table("Alone (nothing else running in this process):", alone_r, None)
    table("Busy (one other Python thread spinning):", busy_r, alone_r)
    ratios(alone_r, busy_r)


if __name__ == "__main__":
    main()
