"""The fleet benchmark: chanpy_patterns' Fleet against what users write today.

The scenario (see ``chanpy_patterns.bench_peers``): N bots ticking at 10 Hz
on a fixed grid, N messages per second from outside (10% of them asks).
Every (implementation, N) runs in its own subprocess, so its memory and
garbage-collector numbers are its own and one collapse cannot spoil the next
run; a run that hangs is killed after a timeout and reported.

    python -m chanpy_patterns.bench_fleet                 # the grid, about 5 minutes
    python -m chanpy_patterns.bench_fleet --quick         # N = 1000 and 10000, 2 s each
    python -m chanpy_patterns.bench_fleet --n 5000 --impl chanpy --impl pool --json out.json
    chanpy-bench --scenario fleet [the same options]

Targets for the Fleet: at N = 10000 a p99 tick lag <= 10 ms on <= 1 CPU
core with <= 3 KB per bot and a message p99 <= 10 ms; a p99 tick lag <= 10
ms at N = 20000; no message lost at any N.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from time import monotonic
from typing import Any, Final

from . import Bot, BotRef, Fleet, WouldBlock
from .bench_peers import (
    ASK_SENDERS,
    ASK_TIMEOUT,
    MAILBOX,
    PEERS,
    PERIOD,
    FleetRun,
    Msg,
    Recorder,
    SendStats,
    StopFlag,
    ask_sender_async,
    drive_async,
    drive_threads,
    tell_sender_async,
    trace_phases,
    wait_started,
    wait_started_async,
)

__all__ = ["GRID", "IMPLS", "Impl", "Outcome", "main", "run_chanpy", "run_one"]

GRID: Final = (1000, 5000, 10000, 20000)
QUICK_GRID: Final = (1000, 10000)
SECONDS: Final = 5.0
WARMUP: Final = 1.5
QUICK_SECONDS: Final = 2.0
QUICK_WARMUP: Final = 1.0
WORKERS: Final = 2  # the Fleet's runners
LAG_TARGET_MS: Final = 10.0
TICKS_OK_PCT: Final = 99.0  # a run "keeps up" with at least this share of its ticks
CORES_TARGET: Final = 1.0
BYTES_TARGET: Final = 3 * 1024
MSG_TARGET_MS: Final = 10.0
SCHEMA: Final = "chanpy-bench-fleet/1"
COOL_DOWN_S: Final = 1.0  # pause between two runs
EXIT_USAGE: Final = 2


# -- the Fleet, the same workload


def _fleet_bot(rec: Recorder) -> type[Bot]:
    """The benchmark's bot class for the Fleet: the peers' Walker state and handlers."""

    class Walker(Bot):
        """The benchmark bot: a counter and a fold, like the peers' Walker."""

        def __init__(self) -> None:
            """Empty state."""
            self.x = 0
            self.ticks = 0

        def on_start(self) -> None:
            """Count the bot as started."""
            rec.bot_started()

        def on_tick(self, now: float) -> None:
            """Record the tick's lag (now is its due time) and update the state."""
            rec.tick(monotonic() - now)
            self.ticks += 1
            self.x += 1

        def on_message(self, msg: Msg) -> int:
            """Record the message's latency, fold it into the state, answer with the state."""
            rec.handled(msg[0])
            self.x = (self.x + msg[1]) & 0xFFFF
            return self.x

    return Walker


def _fleet_extra(rec: Recorder, fleet: Fleet) -> None:
    """Keep the fleet's own view of the run (its stats) beside the measured numbers."""
    s = fleet.stats()
    rec.extra.update(
        fleet_tick_lag_p99_ms=1e3 * s.tick_lag_p99,
        fleet_tick_lag_max_ms=1e3 * s.tick_lag_max,
        fleet_skipped_ticks=float(s.skipped_ticks),
        fleet_bytes_per_bot=float(s.bytes_per_bot),
        fleet_mailbox_high_water=float(s.mailbox_high_water),
        fleet_stalls=float(s.stalls),
        fleet_dead_letters=float(s.dead_letters),
        fleet_restarts=float(s.restarts),
    )


def _sender(refs: list[BotRef]) -> Callable[[int, Msg], bool]:
    """``send(bot, msg)`` for the Fleet: ``send_nowait``, False when the mailbox is full."""

    def send(i: int, msg: Msg) -> bool:
        """Offer ``msg`` to bot ``i``; False if its mailbox is full."""
        try:
            refs[i].send_nowait(msg)
        except WouldBlock:
            return False
        return True

    return send


def run_chanpy(n: int, seconds: float, warmup: float) -> FleetRun:
    """chanpy_patterns' Fleet: ``with Fleet(workers=2)``, N bots spawned with ``tick=0.1``.

    Tells go through ``send_nowait``, asks through ``ask(msg, timeout=...)``
    (a timed-out ask may have timed out waiting for mailbox room: then it
    was never accepted, and counts as lost).
    """
    rec = Recorder("chanpy", n)
    bot = _fleet_bot(rec)
    with Fleet(workers=WORKERS) as fleet:
        rec.before_bots()
        refs = [fleet.spawn(bot, tick=PERIOD, mailbox=MAILBOX) for _ in range(n)]
        wait_started(rec)

        def ask(i: int, msg: Msg) -> object:
            """Ask bot ``i`` for at most ASK_TIMEOUT."""
            return refs[i].ask(msg, timeout=ASK_TIMEOUT)

        stats = drive_threads(rec, n, seconds, warmup, _sender(refs), ask)
        _fleet_extra(rec, fleet)
        t0 = monotonic()
    return rec.result(stats, monotonic() - t0)


Sleep = Callable[[float], Awaitable[None]]
Gather = Callable[[list[Coroutine[Any, Any, None]]], Awaitable[None]]


async def _chanpy_async(
    rec: Recorder, n: int, seconds: float, warmup: float, sleep: Sleep, gather: Gather
) -> tuple[list[SendStats], float]:
    """The Fleet under ``async with`` (trio or asyncio): senders are tasks of its loop."""
    bot = _fleet_bot(rec)
    stop = StopFlag()
    stats = [SendStats() for _ in range(1 + ASK_SENDERS)]
    async with Fleet(workers=WORKERS) as fleet:
        rec.before_bots()
        refs = [fleet.spawn(bot, tick=PERIOD, mailbox=MAILBOX) for _ in range(n)]
        await wait_started_async(rec, sleep)

        async def ask(i: int, msg: Msg) -> object:
            """Ask bot ``i`` from a task, for at most ASK_TIMEOUT."""
            return await refs[i].aask(msg, timeout=ASK_TIMEOUT)

        send = _sender(refs)
        coros = [tell_sender_async(n, send, stop, stats[0], sleep)]
        coros += [
            ask_sender_async(k, n, ask, stop, stats[1 + k], rec, sleep) for k in range(ASK_SENDERS)
        ]
        coros.append(drive_async(rec, stop, stats, seconds, warmup, sleep))
        await gather(coros)
        _fleet_extra(rec, fleet)
        t0 = monotonic()
    return stats, monotonic() - t0


async def _gather_asyncio(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` as asyncio tasks until all are done."""
    import asyncio

    await asyncio.gather(*coros)


async def _gather_trio(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` as trio tasks until all are done."""
    import trio

    async def run(c: Coroutine[Any, Any, None]) -> None:
        """Await one coroutine (trio's start_soon takes a function)."""
        await c

    async with trio.open_nursery() as nursery:
        for c in coros:
            nursery.start_soon(run, c)


def run_chanpy_asyncio(n: int, seconds: float, warmup: float) -> FleetRun:
    """chanpy_patterns' Fleet under ``async with`` in asyncio: runners are tasks."""
    import asyncio

    rec = Recorder("chanpy-asyncio", n)
    stats, teardown = asyncio.run(
        _chanpy_async(rec, n, seconds, warmup, asyncio.sleep, _gather_asyncio)
    )
    return rec.result(stats, teardown)


def run_chanpy_trio(n: int, seconds: float, warmup: float) -> FleetRun:
    """chanpy_patterns' Fleet under ``async with`` in trio: runners are tasks."""
    import trio

    rec = Recorder("chanpy-trio", n)
    stats, teardown = trio.run(_chanpy_async, rec, n, seconds, warmup, trio.sleep, _gather_trio)
    return rec.result(stats, teardown)


# -- the implementations


@dataclass(frozen=True)
class Impl:
    """One implementation of the scenario: its key, its label, and what it needs installed."""

    key: str
    title: str
    run: Callable[[int, float, float], FleetRun]
    requires: tuple[str, ...] = ()
    ours: bool = False

    def unavailable(self) -> str | None:
        """Why it cannot run here (a missing module), or None."""
        for mod in self.requires:
            if importlib.util.find_spec(mod) is None:
                return f"{mod} is not installed (pip install 'chanpy[bench]')"
        return None


IMPLS: Final = {
    i.key: i
    for i in (
        Impl("chanpy", f"chanpy Fleet, {WORKERS} runner threads", run_chanpy, ours=True),
        Impl("chanpy-asyncio", "chanpy Fleet, async with (asyncio)", run_chanpy_asyncio, ours=True),
        Impl("chanpy-trio", "chanpy Fleet, async with (trio)", run_chanpy_trio, ("trio",), True),
        Impl("asyncio", "asyncio: task + Queue per bot", PEERS["asyncio"]),
        Impl("trio", "trio: task + memory channel per bot", PEERS["trio"], ("trio",)),
        Impl("threads", "thread + queue.Queue per bot", PEERS["threads"]),
        Impl("pykka", "pykka: ThreadingActor per bot", PEERS["pykka"], ("pykka",)),
        Impl("pool", "hand-written: 4 threads, heap timer, deques", PEERS["pool"]),
    )
}
MAIN_IMPL: Final = "chanpy"  # the one the targets and ratios are about


# -- one run, in a subprocess


@dataclass(frozen=True)
class Outcome:
    """What became of one (implementation, N): status ok / failed / timeout / skipped."""

    impl: str
    n: int
    status: str
    run: FleetRun | None = None
    error: str | None = None
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The outcome as a JSON-ready dict."""
        return {
            "impl": self.impl,
            "n": self.n,
            "status": self.status,
            "error": self.error,
            "wall_s": self.wall_s,
            "run": self.run.to_json() if self.run else None,
        }


def timeout_for(n: int, seconds: float, warmup: float) -> float:
    """How long one run may take before it is killed: start-up, window, drain, teardown."""
    return 60.0 + 3.0 * (seconds + warmup) + n * 2.5e-3


def run_one(impl: str, n: int, seconds: float, warmup: float, timeout: float) -> Outcome:
    """Run one (implementation, N) in a fresh interpreter, killed after ``timeout`` s."""
    cmd = [sys.executable, "-m", "chanpy_patterns.bench_fleet", "--one", impl, str(n)]
    cmd += [repr(seconds), "--warmup", repr(warmup)]
    t0 = monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        last = (err or "").strip().splitlines()
        where = f" (last phase: {last[-1]})" if last else ""
        return Outcome(
            impl,
            n,
            "timeout",
            error=f"killed after {timeout:.0f} s{where}",
            wall_s=monotonic() - t0,
        )
    wall = monotonic() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return Outcome(impl, n, "failed", error=tail, wall_s=wall)
    data = json.loads(lines[-1])
    if data.get("status") != "ok":
        return Outcome(impl, n, "failed", error=str(data.get("error")), wall_s=wall)
    return Outcome(impl, n, "ok", run=FleetRun.from_json(data["run"]), wall_s=wall)


def _one(impl: str, n: int, seconds: float, warmup: float) -> int:
    """``--one``: run in this process, print one JSON line, and leave without clean-up."""
    trace_phases(sys.stderr)
    try:
        run = IMPLS[impl].run(n, seconds, warmup)
    except Exception as exc:  # reported to the parent, which prints it
        out: dict[str, Any] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    else:
        out = {"status": "ok", "run": run.to_json()}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # thousands of daemon threads need no orderly interpreter shutdown


# -- the report


def _f(x: float | None, digits: int = 1) -> str:
    """A number for the table, or a dash."""
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def _notes(r: FleetRun) -> str:
    """What the table's number columns do not say about a run."""
    notes = []
    if r.refused:
        notes.append(f"{r.refused:,} refused (mailbox full)")
    if r.ask_timeouts:
        notes.append(f"{r.ask_timeouts:,} ask timeouts")
    if r.lost:
        notes.append("lost: backlog not drained")
    if r.duplicated:
        notes.append(f"{r.duplicated:,} handled twice")
    for key in ("threads_not_stopped", "actors_not_stopped"):
        if r.extra.get(key):
            notes.append(f"{r.extra[key]:,.0f} {key.replace('_', ' ')}")
    return "; ".join(notes)


def _row(o: Outcome) -> list[str]:
    """One table row for an outcome."""
    if o.run is None:
        return [o.impl, f"{o.n:,}"] + ["-"] * (len(HEADERS) - 3) + [f"{o.status}: {o.error}"]
    r = o.run
    return [
        o.impl,
        f"{r.n:,}",
        _f(r.tick_lag_p50_ms, 2),
        _f(r.tick_lag_p99_ms),
        _f(r.tick_lag_max_ms),
        f"{r.ticks_pct:.1f}",
        f"{r.cpu_cores:.2f}",
        f"{r.bytes_per_bot:,.0f}",
        _f(r.msg_p99_ms),
        _f(r.ask_p99_ms),
        f"{r.lost:,}",
        f"{100 * r.gc_share:.1f}",
        _notes(r),
    ]


HEADERS: Final = [
    "implementation",
    "N",
    "lag p50 ms",
    "lag p99 ms",
    "lag max ms",
    "ticks %",
    "CPU cores",
    "bytes/bot",
    "msg p99 ms",
    "ask p99 ms",
    "lost",
    "GC %",
    "notes",
]

# Metrics compared between the Fleet and the best peer:
# (label, getter, higher is better, compared only with peers that kept up).
RATIO_METRICS: Final[list[tuple[str, Callable[[FleetRun], float | None], bool, bool]]] = [
    ("lag p99 ms", lambda r: r.tick_lag_p99_ms, False, True),
    ("lag max ms", lambda r: r.tick_lag_max_ms, False, True),
    ("ticks %", lambda r: r.ticks_pct, True, False),
    ("CPU cores", lambda r: r.cpu_cores, False, True),
    ("bytes/bot", lambda r: r.bytes_per_bot, False, False),
    ("msg p99 ms", lambda r: r.msg_p99_ms, False, True),
    ("ask p99 ms", lambda r: r.ask_p99_ms, False, True),
    ("GC share", lambda r: r.gc_share, False, True),
]


def keeps_up(r: FleetRun) -> bool:
    """p99 tick lag within the target while running (almost) every tick."""
    p99 = r.tick_lag_p99_ms
    return p99 is not None and p99 <= LAG_TARGET_MS and r.ticks_pct >= TICKS_OK_PCT


def did_the_work(r: FleetRun) -> bool:
    """Ran (almost) every tick and handled every accepted message: its costs compare."""
    return r.ticks_pct >= TICKS_OK_PCT and r.lost == 0


def largest_n(outcomes: Sequence[Outcome]) -> dict[str, int | None]:
    """Per implementation: the largest N whose run kept up (see ``keeps_up``)."""
    best: dict[str, int | None] = {}
    for o in outcomes:
        best.setdefault(o.impl, None)
        if o.run is not None and keeps_up(o.run):
            prev = best[o.impl]
            best[o.impl] = o.n if prev is None else max(prev, o.n)
    return best


@dataclass(frozen=True)
class Ratio:
    """The Fleet's number over the best peer's at one N, for one metric."""

    n: int
    metric: str
    ours: float
    best: float
    peer: str

    @property
    def ratio(self) -> float:
        """ours / best (inf when the best is 0 and ours is not; 1 when both are 0)."""
        if self.best == 0:
            return 1.0 if self.ours == 0 else math.inf
        return self.ours / self.best


def ratios(outcomes: Sequence[Outcome], ours: str = MAIN_IMPL) -> list[Ratio]:
    """Per N and metric: the Fleet against the best of the peers (not other Fleet variants).

    Latency, CPU and GC are compared with the peers that did the work at
    that N (ran >= 99% of the ticks and lost nothing: a collapsed peer's
    numbers are no standard), or with all of them when none did; ticks and
    bytes per bot with every peer.
    """
    out: list[Ratio] = []
    by_n: dict[int, list[Outcome]] = {}
    for o in outcomes:
        by_n.setdefault(o.n, []).append(o)
    for n, group in sorted(by_n.items()):
        mine = next((o.run for o in group if o.impl == ours and o.run), None)
        peers = [o.run for o in group if o.run and o.impl in IMPLS and not IMPLS[o.impl].ours]
        if mine is None or not peers:
            continue
        steady = [p for p in peers if did_the_work(p)] or peers
        for label, get, higher, only_steady in RATIO_METRICS:
            v = get(mine)
            pool = steady if only_steady else peers
            cands = [(x, p.impl) for p in pool if (x := get(p)) is not None]
            if v is None or not cands:
                continue
            best, peer = (max if higher else min)(cands)
            out.append(Ratio(n, label, v, best, peer))
    return out


@dataclass(frozen=True)
class Target:
    """One of the Fleet's targets and whether this run met it (None: not measured)."""

    text: str
    measured: str
    met: bool | None


def targets(outcomes: Sequence[Outcome], ours: str = MAIN_IMPL) -> list[Target]:
    """Check the Fleet's targets against this run."""
    runs = {o.n: o for o in outcomes if o.impl == ours}

    def at(n: int) -> FleetRun | None:
        """The Fleet's run at N, if it ran."""
        o = runs.get(n)
        return o.run if o else None

    out: list[Target] = []

    def check(
        text: str, n: int, get: Callable[[FleetRun], float | None], limit: float, unit: str
    ) -> None:
        """Add the target ``text``: met if ``get`` of the run at ``n`` is within ``limit``."""
        r = at(n)
        value = get(r) if r is not None else None
        if value is None:
            out.append(Target(text, "not measured", None))
        else:
            out.append(Target(text, f"{value:,.2f} {unit}", value <= limit))

    def lag(r: FleetRun) -> float | None:
        """p99 tick lag of a run."""
        return r.tick_lag_p99_ms

    check("N=10000: p99 tick lag <= 10 ms", 10000, lag, LAG_TARGET_MS, "ms")
    check("N=10000: <= 1 CPU core", 10000, lambda r: r.cpu_cores, CORES_TARGET, "cores")
    check("N=10000: <= 3 KB per bot", 10000, lambda r: r.bytes_per_bot, BYTES_TARGET, "B")
    check("N=10000: message p99 <= 10 ms", 10000, lambda r: r.msg_p99_ms, MSG_TARGET_MS, "ms")
    check("N=20000: p99 tick lag <= 10 ms", 20000, lag, LAG_TARGET_MS, "ms")
    measured = [o for o in runs.values() if o.run]
    if not measured:
        out.append(Target("no message lost", "not measured", None))
    else:
        lost = sum(o.run.lost for o in measured if o.run)
        out.append(Target("no message lost", f"{lost} lost", lost == 0))
    return out


def render(
    outcomes: Sequence[Outcome], seconds: float, warmup: float, *, plain: bool = False
) -> str:
    """The whole report as text: results, largest N, ratios to the best peer, targets."""
    sections: list[tuple[str, list[str], list[list[str]]]] = []
    rows = [_row(o) for o in sorted(outcomes, key=lambda o: (o.n, _order(o.impl)))]
    sections.append(
        (
            f"Fleet scenario: N bots ticking at 10 Hz, N msg/s (10% asks); "
            f"{seconds:g} s measured after {warmup:g} s warm-up",
            HEADERS,
            rows,
        )
    )
    big = largest_n(outcomes)
    sections.append(
        (
            f"Largest N with p99 tick lag <= {LAG_TARGET_MS:g} ms "
            f"(and >= {TICKS_OK_PCT:g}% of ticks run)",
            ["implementation", "what it is", "largest N"],
            [
                [k, IMPLS[k].title if k in IMPLS else "", f"{v:,}" if v else "none"]
                for k, v in sorted(big.items(), key=lambda kv: _order(kv[0]))
            ],
        )
    )
    rs = ratios(outcomes)
    if rs:
        metrics = [m[0] for m in RATIO_METRICS]
        cells = {(r.n, r.metric): f"{_ratio(r.ratio)} {r.peer}" for r in rs}
        sections.append(
            (
                "chanpy Fleet / the best peer (named) at each N: below 1x is better, "
                "except ticks %; latency, CPU and GC against the peers that ran >= 99% "
                "of the ticks and lost nothing",
                ["N", *metrics],
                [
                    [f"{n:,}", *(cells.get((n, m), "-") for m in metrics)]
                    for n in sorted({r.n for r in rs})
                ],
            )
        )
    ts = targets(outcomes)
    sections.append(
        (
            "Targets (chanpy Fleet, threads)",
            ["target", "measured", "verdict"],
            [
                [t.text, t.measured, "-" if t.met is None else ("met" if t.met else "MISSED")]
                for t in ts
            ],
        )
    )
    notes = (
        "lag: handler start minus the tick's due time on the grid; ticks %: ticks run / "
        "N x 10 x seconds; CPU: process CPU time / wall time; bytes/bot: RSS growth from "
        "creating the N bots / N; msg: send -> handler start; ask: round trip; lost: "
        "accepted but not handled after the drain; GC: share of wall time in the garbage "
        "collector."
    )
    return _render_rich(sections, notes) if not plain else _render_plain(sections, notes)


def _order(key: str) -> int:
    """Position of an implementation in the tables."""
    keys = list(IMPLS)
    return keys.index(key) if key in keys else len(keys)


def _ratio(x: float) -> str:
    """A ratio for the table."""
    return "inf" if math.isinf(x) else f"{x:.2f}x"


_LEFT: Final = frozenset({"notes", "what it is", "target", "verdict"})


def _render_plain(sections: list[tuple[str, list[str], list[list[str]]]], notes: str) -> str:
    """The report as aligned plain text."""
    out: list[str] = []
    for title, headers, rows in sections:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        out.append(title)
        out.append("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        out.append("  ".join("-" * w for w in widths))
        for r in rows:
            cells = [
                c.ljust(w) if i == 0 or headers[i] in _LEFT else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ]
            out.append("  ".join(cells).rstrip())
        out.append("")
    out.append(notes)
    return "\n".join(out)


def _render_rich(sections: list[tuple[str, list[str], list[list[str]]]], notes: str) -> str:
    """The report through rich's tables (plain text when rich is not installed)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return _render_plain(sections, notes)
    width = shutil.get_terminal_size((170, 24)).columns if sys.stdout.isatty() else 170
    console = Console(width=width, record=True, file=io.StringIO())
    for title, headers, rows in sections:
        table = Table(title=title, title_justify="left")
        for i, h in enumerate(headers):
            left = i == 0 or h in _LEFT
            table.add_column(h, justify="left" if left else "right")
        for r in rows:
            table.add_row(*r)
        console.print(table)
    console.print(notes)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def _environment() -> dict[str, Any]:
    """Machine, Python and library versions for the JSON report."""
    from chanpy.bench.report import environment

    env = environment(None)
    for dist in ("pykka", "rich"):
        try:
            env["versions"][dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            env["versions"][dist] = None
    return env


# -- the command


def _parser(prog: str | None) -> argparse.ArgumentParser:
    """The command's arguments."""
    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "The fleet scenario: N long-lived bots ticking at 10 Hz with N msg/s from "
            "outside (10%% asks), on chanpy_patterns' Fleet and on what users write "
            "today (asyncio, trio, a thread per bot, pykka, a hand-written pool). "
            "Each (implementation, N) runs in its own process."
        ),
    )
    p.add_argument("--n", action="append", metavar="N", help="bot counts (repeatable, or a,b,c)")
    p.add_argument(
        "--impl", action="append", metavar="NAME", help=f"implementations: {', '.join(IMPLS)}"
    )
    p.add_argument("--seconds", type=float, help=f"measured seconds per run (default {SECONDS:g})")
    p.add_argument("--warmup", type=float, help=f"warm-up seconds (default {WARMUP:g})")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"N in {', '.join(map(str, QUICK_GRID))}, {QUICK_SECONDS:g} s per run",
    )
    p.add_argument("--plain", action="store_true", help="plain text tables, even with rich")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument("--list", action="store_true", help="list the implementations, then exit")
    p.add_argument("--one", nargs=3, metavar=("IMPL", "N", "SECONDS"), help=argparse.SUPPRESS)
    return p


def _split(values: list[str] | None) -> list[str]:
    """Repeatable options that also take comma-separated lists."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the fleet benchmark; returns the exit status (2: bad arguments, 1: the Fleet failed)."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP if args.quick else WARMUP)
    if args.one:
        impl, n_text, secs_text = args.one
        if impl not in IMPLS:
            parser.error(f"unknown implementation {impl!r}")
        return _one(impl, int(n_text), float(secs_text), warmup)
    if args.list:
        for impl in IMPLS.values():
            reason = impl.unavailable()
            print(f"{impl.key:<16} {impl.title}" + (f" (skipped: {reason})" if reason else ""))
        return 0
    seconds = (
        args.seconds if args.seconds is not None else (QUICK_SECONDS if args.quick else SECONDS)
    )
    if not seconds > 0 or warmup < 0:
        parser.error("--seconds must be > 0 and --warmup >= 0")
    try:
        grid = [int(v) for v in _split(args.n)] or list(QUICK_GRID if args.quick else GRID)
    except ValueError:
        parser.error(f"--n takes whole numbers, got {args.n}")
    if any(n < 1 for n in grid):
        parser.error("--n must be at least 1")
    impls = _split(args.impl) or list(IMPLS)
    unknown = [i for i in impls if i not in IMPLS]
    if unknown:
        parser.error(f"unknown implementation {unknown[0]!r}; known: {', '.join(IMPLS)}")
    if args.json:
        try:
            with open(args.json, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            parser.error(f"--json: cannot write {args.json}: {exc.strerror or exc}")

    outcomes: list[Outcome] = []
    given_up: dict[str, str] = {}  # peer -> why its larger N are not run
    plan = [(n, i) for n in sorted(set(grid)) for i in impls]
    t_start = monotonic()
    for k, (n, key) in enumerate(plan, 1):
        impl = IMPLS[key]
        reason = impl.unavailable()
        if reason is None and key in given_up:
            reason = given_up[key]
        if reason is not None:
            outcomes.append(Outcome(key, n, "skipped", error=reason))
            continue
        if not args.no_progress:
            el = int(monotonic() - t_start)
            print(
                f"[{k}/{len(plan)} {el // 60}:{el % 60:02d}] {impl.title}, N={n:,}",
                file=sys.stderr,
                flush=True,
            )
        time.sleep(COOL_DOWN_S)  # let the system finish tearing down the previous run
        o = run_one(key, n, seconds, warmup, timeout_for(n, seconds, warmup))
        if o.status in ("timeout", "failed") and not impl.ours:
            given_up[key] = f"not run: {o.status} at N={n:,}"
        outcomes.append(o)

    print(render(outcomes, seconds, warmup, plain=args.plain))
    if args.json:
        doc = {
            "schema": SCHEMA,
            "environment": _environment(),
            "settings": {
                "seconds": seconds,
                "warmup": warmup,
                "grid": grid,
                "period_s": PERIOD,
                "mailbox": MAILBOX,
                "ask_share": 0.1,
                "ask_senders": ASK_SENDERS,
                "ask_timeout_s": ASK_TIMEOUT,
                "fleet_workers": WORKERS,
            },
            "runs": [o.to_json() for o in outcomes],
            "largest_n": largest_n(outcomes),
            "ratios": [
                {"n": r.n, "metric": r.metric, "ours": r.ours, "best": r.best, "peer": r.peer}
                for r in ratios(outcomes)
            ],
            "targets": [
                {"target": t.text, "measured": t.measured, "met": t.met} for t in targets(outcomes)
            ],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    mine = [o for o in outcomes if IMPLS[o.impl].ours and o.status in ("failed", "timeout")]
    return 1 if mine else 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m chanpy_patterns.bench_fleet"))
