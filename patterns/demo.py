"""``python -m chanpy_patterns demo``: a small simulated world of bots, watched live.

Bots walk a 2-D grid (a torus) one step per tick, greet a neighbour now
and then by message, and crash at a chosen rate per handled event; their
``Restart`` policy brings them back. A few clients outside the fleet ask
random bots where they are. A dashboard (rich, on a terminal) or one plain
line per second (otherwise) shows how the fleet keeps up, from successive
``Fleet.stats()`` snapshots; ``--plot`` saves the run as a PNG.

What the demo shows about using a fleet well:

- handlers never block: a greeting is ``send_nowait``, and a full mailbox
  (WouldBlock) is counted and dropped, not waited for;
- ``ask`` comes from outside the fleet (client threads or tasks), as an ask
  from a handler would hold up every bot of its runner while it waits;
- state that must survive a crash lives outside the bot (here the walker's
  position is in the shared grid): a restart builds a fresh instance;
- under ``--world trio|asyncio`` some bots' ticks are ``async def`` and
  await simulated I/O, which the fleet runs without holding up the others.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import statistics
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, TextIO

from chanpy import Closed, WouldBlock

from . import Bot, BotFailed, BotRef, Fleet, FleetStats, Restart

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["main"]

PROG: Final = "python -m chanpy_patterns demo"
WORLDS: Final = ("threads", "trio", "asyncio")

TICK: Final = 0.1  # seconds between a bot's ticks
DENSITY: Final = 0.25  # share of grid cells with a walker: ~2 neighbours each
GREET_CHANCE: Final = 0.1  # per tick: greet one neighbour
HIGH_EVERY: Final = 10  # every 10th bot is high priority: the throttle never skips its ticks
MAILBOX: Final = 16
RESTART: Final = Restart(max_restarts=5, within=5.0, backoff=(0.01, 1.0))
# Async worlds: the share of bots whose tick may await simulated I/O, how often, how long.
IO_SHARE: Final = 0.1
IO_CHANCE: Final = 0.2
IO_DELAY: Final = (0.001, 0.02)
ASK_TIMEOUT: Final = 0.5
ASK_PAUSE: Final = 0.01  # between one client's asks
SAMPLE_EVERY: Final = 0.25  # dashboard refresh and stats snapshot period
RATE_WINDOW: Final = 1.0  # rates are over the last second of snapshots
WHERE: Final = "where"
STEPS: Final = tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1))
NEIGHBOURS: Final = tuple(s for s in STEPS if s != (0, 0))


class SimulatedCrash(Exception):
    """What a bot raises at ``--crash-rate``: the fleet restarts it."""


# -- the world ----------------------------------------------------------------


class Counters:
    """What the bots and clients count besides the fleet's own stats.

    Several runner threads update these, so increments take a lock (they
    are rare next to ticks: a lost update would make the numbers lie).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.crashes = 0  # SimulatedCrash raised
        self.mailbox_full = 0  # greetings dropped: WouldBlock
        self.target_gone = 0  # greetings to a bot that had stopped for good
        self.io_waits = 0  # simulated I/O awaited
        self.asks_ok = 0
        self.ask_timeouts = 0
        self.ask_crashed = 0  # the ask's own handler crashed (the ask re-raised it)
        self.ask_gone = 0  # the asked bot had stopped
        self.ask_latency: deque[float] = deque(maxlen=2048)

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name``."""
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def asked(self, latency: float) -> None:
        """Record an answered ask and how long it took."""
        with self.lock:
            self.asks_ok += 1
            self.ask_latency.append(latency)

    def snapshot(self) -> dict[str, int]:
        """The integer counters now."""
        with self.lock:
            return {k: v for k, v in vars(self).items() if isinstance(v, int)}

    def ask_p99(self) -> float:
        """The 99th percentile of recent ask latencies, seconds (0.0 if none)."""
        with self.lock:
            recent = sorted(self.ask_latency)
        return recent[min(len(recent) - 1, int(0.99 * len(recent)))] if recent else 0.0


class World:
    """The grid the bots walk, shared by all of them.

    ``cells[c]`` is the index of the bot on cell ``c`` (-1: empty), ``pos[i]``
    the cell of bot ``i``. The grid outlives bot instances, so a restarted
    walker carries on from where it crashed. Moves are best effort: runner
    threads may race for a cell, and two walkers briefly sharing one is
    harmless here (no lock on the hot path).
    """

    def __init__(self, bots: int, crash_rate: float, rng: random.Random) -> None:
        self.side = max(2, math.ceil(math.sqrt(bots / DENSITY)))
        self.cells = [-1] * (self.side * self.side)
        self.pos = rng.sample(range(len(self.cells)), bots)
        self.refs: list[BotRef] = []
        self.crash_rate = crash_rate
        self.counters = Counters()
        self.sleep: Callable[[float], Awaitable[Any]] | None = None  # async worlds

    def place(self, idx: int, ref: BotRef) -> None:
        """Make bot ``idx`` reachable: its ref, then its cell (neighbours look it up)."""
        self.refs.append(ref)
        self.cells[self.pos[idx]] = idx

    def maybe_crash(self, idx: int, event: str) -> None:
        """Raise SimulatedCrash with probability ``crash_rate``."""
        if self.crash_rate and random.random() < self.crash_rate:
            self.counters.add("crashes")
            raise SimulatedCrash(f"bot {idx} crashed on purpose while handling a {event}")

    def step(self, idx: int) -> None:
        """Move bot ``idx`` one step in a random direction, if that cell is free."""
        side, cells = self.side, self.cells
        c = self.pos[idx]
        dx, dy = random.choice(STEPS)
        n = ((c // side + dy) % side) * side + (c % side + dx) % side
        if cells[n] == -1:
            cells[n] = idx
            if cells[c] == idx:
                cells[c] = -1
            self.pos[idx] = n

    def where(self, idx: int) -> tuple[int, int]:
        """Bot ``idx``'s position (x, y)."""
        c = self.pos[idx]
        return c % self.side, c // self.side

    def greet(self, idx: int) -> None:
        """Send one neighbour of bot ``idx`` a greeting, without ever waiting."""
        side, cells, refs = self.side, self.cells, self.refs
        c = self.pos[idx]
        x, y = c % side, c // side
        start = random.randrange(len(NEIGHBOURS))
        for k in range(len(NEIGHBOURS)):
            dx, dy = NEIGHBOURS[(start + k) % len(NEIGHBOURS)]
            other = cells[((y + dy) % side) * side + (x + dx) % side]
            # refs grows while bots spawn: a cell may name a bot whose ref is not in yet.
            if other < 0 or other == idx or other >= len(refs):
                continue
            try:
                refs[other].send_nowait(("hi", idx))
            except WouldBlock:
                self.counters.add("mailbox_full")
            except Closed:  # BotStopped: it failed for good, or the fleet is stopping
                self.counters.add("target_gone")
            return


class Walker(Bot):
    """A bot that walks the grid and greets its neighbours; answers "where" asks."""

    def __init__(self, world: World, idx: int) -> None:
        self.world = world
        self.idx = idx
        self.greeted = 0  # lost on a crash, unlike the position: it lives in the bot

    def on_tick(self, now: float) -> None:
        """Step, and greet a neighbour now and then."""
        w = self.world
        w.maybe_crash(self.idx, "tick")
        w.step(self.idx)
        if random.random() < GREET_CHANCE:
            w.greet(self.idx)

    def on_message(self, msg: object) -> object:
        """A greeting (``("hi", sender)``) or ``"where"``: answer (x, y, greetings)."""
        self.world.maybe_crash(self.idx, "message")
        if msg == WHERE:
            x, y = self.world.where(self.idx)
            return x, y, self.greeted
        if isinstance(msg, tuple) and msg[:1] == ("hi",):
            self.greeted += 1
            return None
        raise ValueError(f"{type(self).__name__} {self.idx} got an unknown message {msg!r}")


class Fetcher(Walker):
    """A walker whose tick sometimes awaits simulated I/O first (async worlds only)."""

    async def on_tick(self, now: float) -> None:  # type: ignore[override]
        """Await a short sleep (an I/O call, say) now and then, then walk as usual."""
        sleep = self.world.sleep
        if sleep is not None and random.random() < IO_CHANCE:
            self.world.counters.add("io_waits")
            await sleep(random.uniform(*IO_DELAY))
        super().on_tick(now)


def spawn_all(fleet: Fleet, world: World, bots: int, *, async_world: bool) -> None:
    """Spawn the bots: walkers, a share of them fetchers in an async world."""
    io_every = round(1 / IO_SHARE)
    for i in range(bots):
        cls: type[Walker] = Fetcher if async_world and i % io_every == 1 else Walker
        ref = fleet.spawn(
            cls,
            world,
            i,
            name=f"bot{i}",
            tick=TICK,
            mailbox=MAILBOX,
            restart=RESTART,
            priority="high" if i % HIGH_EVERY == 0 else "normal",
        )
        world.place(i, ref)


# -- clients: ask from outside the fleet ----------------------------------------


def _asked(world: World, t0: float, outcome: BaseException | None) -> None:
    c = world.counters
    if outcome is None:
        c.asked(time.perf_counter() - t0)
    elif isinstance(outcome, TimeoutError):
        c.add("ask_timeouts")
    elif isinstance(outcome, SimulatedCrash):
        c.add("ask_crashed")
    else:  # BotStopped, BotFailed: the bot is gone
        c.add("ask_gone")


def client_thread(world: World, stop: threading.Event) -> None:
    """Ask random bots where they are until ``stop`` is set (threads world)."""
    while not stop.is_set():
        ref = random.choice(world.refs)
        t0 = time.perf_counter()
        try:
            ref.ask(WHERE, timeout=ASK_TIMEOUT)
        except (TimeoutError, SimulatedCrash, Closed, BotFailed) as exc:
            _asked(world, t0, exc)
        else:
            _asked(world, t0, None)
        stop.wait(ASK_PAUSE)


async def client_task(world: World, stop: threading.Event) -> None:
    """Ask random bots where they are until ``stop`` is set (trio and asyncio worlds)."""
    assert world.sleep is not None
    while not stop.is_set():
        ref = random.choice(world.refs)
        t0 = time.perf_counter()
        try:
            await ref.aask(WHERE, timeout=ASK_TIMEOUT)
        except (TimeoutError, SimulatedCrash, Closed, BotFailed) as exc:
            _asked(world, t0, exc)
        else:
            _asked(world, t0, None)
        await world.sleep(ASK_PAUSE)


# -- watching -------------------------------------------------------------------


def rss_bytes() -> int | None:
    """The process's resident set size now, in bytes (None where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    # Elsewhere only the peak is known (bytes on macOS, KiB on the BSDs): close enough here.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@dataclass(frozen=True)
class Sample:
    """One snapshot: the fleet's stats, the demo's counters, RSS, at ``t`` seconds."""

    t: float
    stats: FleetStats
    counters: dict[str, int]
    rss: int | None


@dataclass(frozen=True)
class Point:
    """One point of the run's history (for the plot), rates over the last second."""

    t: float
    lag_p50: float
    lag_p99: float
    lag_max: float
    ticks_per_s: float
    msgs_per_s: float
    restarts: int


class Monitor:
    """Successive snapshots, and what is derived from them: rates, history, summaries."""

    def __init__(
        self, world: World, world_name: str, bots: int, seconds: float, workers: int
    ) -> None:
        self.world = world
        self.world_name = world_name
        self.bots = bots
        self.seconds = seconds
        self.workers = workers
        self.rss_before = rss_bytes()  # before the bots: RSS/bot counts only their growth
        self.spawn_time = 0.0
        self.stop_time: float | None = None
        self.start = time.monotonic()
        self.recent: deque[Sample] = deque()
        self.history: list[Point] = []
        self.first: Sample | None = None
        self.last: Sample | None = None
        self.last_dead_letter = ""

    def begin(self) -> None:
        """The bots are spawned: the run's clock starts now."""
        self.spawn_time = time.monotonic() - self.start
        self.start = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the bots were spawned."""
        return time.monotonic() - self.start

    def record(self, fleet: Fleet) -> Sample:
        """Take a snapshot; keep the last second of them for rates."""
        s = Sample(self.elapsed(), fleet.stats(), self.world.counters.snapshot(), rss_bytes())
        self._drain_dead_letters(fleet)
        if self.first is None:
            self.first = s
        self.last = s
        self.recent.append(s)
        while len(self.recent) > 2 and s.t - self.recent[1].t >= RATE_WINDOW:
            self.recent.popleft()
        self.history.append(
            Point(
                s.t,
                s.stats.tick_lag_p50,
                s.stats.tick_lag_p99,
                s.stats.tick_lag_max,
                self.rate("ticks"),
                self.rate("messages"),
                s.stats.restarts,
            )
        )
        return s

    def _drain_dead_letters(self, fleet: Fleet) -> None:
        # Nobody else reads them here: keep the newest one to show, and keep the channel empty.
        while True:
            try:
                letter = fleet.dead_letters.recv_nowait()
            except (WouldBlock, Closed):
                return
            err = f": {letter.error}" if letter.error is not None else ""
            self.last_dead_letter = f"{letter.bot} {letter.reason} on {letter.message!r}{err}"

    def rate(self, stat: str) -> float:
        """Per second over the recent snapshots: a FleetStats field or a counter."""
        if len(self.recent) < 2:
            return 0.0
        old, new = self.recent[0], self.recent[-1]
        dt = new.t - old.t
        return (_value(new, stat) - _value(old, stat)) / dt if dt > 0 else 0.0

    def mem_per_bot(self, s: Sample) -> tuple[float, float | None]:
        """(fleet bytes per bot, RSS growth since before spawning per bot)."""
        growth = None
        if s.rss is not None and self.rss_before is not None and s.stats.bots:
            growth = (s.rss - self.rss_before) / s.stats.bots
        return s.stats.bytes_per_bot, growth

    def line(self, s: Sample) -> str:
        """The plain per-second line (a stable, greppable format); ``t`` is the whole
        seconds run so far."""
        st = s.stats
        fleet_b, rss_b = self.mem_per_bot(s)
        return (
            f"t={int(s.t)}s bots={st.bots} ticks/s={self.rate('ticks'):.0f} "
            f"msgs/s={self.rate('messages'):.0f} asks/s={self.rate('asks_ok'):.0f} "
            f"lag p50={_ms(st.tick_lag_p50)} p99={_ms(st.tick_lag_p99)} "
            f"max={_ms(st.tick_lag_max)} restarts={st.restarts} failed={st.failed} "
            f"dead={st.dead_letters} full={s.counters['mailbox_full']} "
            f"throttled={st.throttled:.0%} mem/bot={_bytes(fleet_b)} rss/bot={_bytes(rss_b)}"
        )

    def summary(self) -> str:
        """The final line: totals and rates over the whole run, typical and worst lags."""
        assert self.first is not None
        assert self.last is not None
        first, last = self.first, self.last
        st, c = last.stats, last.counters
        dt = max(last.t - first.t, 1e-9)
        p50 = statistics.median(p.lag_p50 for p in self.history)
        p99 = statistics.median(p.lag_p99 for p in self.history)
        worst = max(p.lag_max for p in self.history)
        fleet_b, rss_b = self.mem_per_bot(last)
        asks = c["asks_ok"]
        stop = "n/a" if self.stop_time is None else f"{self.stop_time:.2f}s"
        return (
            f"summary: world={self.world_name} seconds={last.t:.1f} bots={st.bots} "
            f"spawned={st.spawned} runners={st.runners} "
            f"ticks={st.ticks} ticks/s={(st.ticks - first.stats.ticks) / dt:.0f} "
            f"skipped={st.skipped_ticks} msgs={st.messages} "
            f"msgs/s={(st.messages - first.stats.messages) / dt:.0f} "
            f"lag p50={_ms(p50)} p99={_ms(p99)} max={_ms(worst)} "
            f"restarts={st.restarts} crashes={c['crashes']} failed={st.failed} "
            f"dead={st.dead_letters} full={c['mailbox_full']} stalls={st.stalls} "
            f"asks={asks} ask_timeouts={c['ask_timeouts']} ask_crashed={c['ask_crashed']} "
            f"ask_gone={c['ask_gone']} "
            f"mem/bot={_bytes(fleet_b)} rss/bot={_bytes(rss_b)} "
            f"spawn={self.spawn_time:.2f}s stop={stop}"
        )


def _value(s: Sample, stat: str) -> float:
    if stat in s.counters:
        return float(s.counters[stat])
    return float(getattr(s.stats, stat))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}ms"


def _bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    if abs(n) >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f}MB"
    return f"{n / 1024:.1f}KB"


# -- output: a dashboard on a terminal, lines otherwise ---------------------------


class PlainOutput:
    """One line per second of the run, then the summary (for pipes, logs and CI)."""

    def __init__(self, monitor: Monitor, stream: TextIO) -> None:
        self.monitor = monitor
        self.stream = stream
        self.printed = 0  # seconds already reported

    def begin(self) -> None:
        """Say what runs."""
        m = self.monitor
        print(
            f"demo: world={m.world_name} bots={m.bots} runners={m.workers} "
            f"seconds={m.seconds:g} spawned in {m.spawn_time:.2f}s",
            file=self.stream,
            flush=True,
        )

    def update(self, s: Sample) -> None:
        """Print a line once a new whole second has passed."""
        if int(s.t) > self.printed:
            self.printed = int(s.t)
            print(self.monitor.line(s), file=self.stream, flush=True)

    def end(self) -> None:
        """Nothing to tear down."""


class LiveOutput:
    """A rich dashboard redrawn with each snapshot (about 4 times a second)."""

    def __init__(self, monitor: Monitor) -> None:
        from rich.console import Console
        from rich.live import Live

        self.monitor = monitor
        self.console = Console()
        # Redrawn by update() after each snapshot: no refresh thread competing for the GIL.
        self.live = Live(console=self.console, auto_refresh=False, transient=False)

    def begin(self) -> None:
        """Start drawing."""
        self.live.start()

    def update(self, s: Sample) -> None:
        """Redraw from the newest snapshot."""
        self.live.update(render_dashboard(self.monitor, s), refresh=True)

    def end(self) -> None:
        """Leave the last frame on screen."""
        self.live.stop()


_SPARKS: Final = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """Block characters scaled between the values' minimum and maximum."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = hi - lo
    top = len(_SPARKS) - 1
    return "".join(_SPARKS[round((v - lo) / span * top) if span else 0] for v in values)


def render_dashboard(m: Monitor, s: Sample) -> RenderableType:
    """The dashboard for snapshot ``s``: four columns of figures, trend lines, the last
    dead letter. One flat table: nested tables cost the GIL several times as much to draw."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    st, c = s.stats, s.counters
    fleet_b, rss_b = m.mem_per_bot(s)

    lag_style = "red" if st.tick_lag_p99 > TICK / 2 else "green"
    sections: list[tuple[str, list[tuple[str, str]]]] = [
        (
            "Ticks",
            [
                ("lag p50", _ms(st.tick_lag_p50)),
                ("lag p99", f"[{lag_style}]{_ms(st.tick_lag_p99)}[/]"),
                ("lag max", _ms(st.tick_lag_max)),
                ("ticks/s", f"{m.rate('ticks'):,.0f}"),
                ("skipped/s", f"{m.rate('skipped_ticks'):,.0f}"),
                ("throttled", f"{st.throttled:.0%}"),
            ],
        ),
        (
            "Messages",
            [
                ("messages/s", f"{m.rate('messages'):,.0f}"),
                ("mailbox full/s", f"{m.rate('mailbox_full'):,.0f}"),
                ("mailbox high water", f"{st.mailbox_high_water}/{MAILBOX}"),
                ("asks/s", f"{m.rate('asks_ok'):,.0f}"),
                ("ask p99", _ms(m.world.counters.ask_p99())),
                ("ask timeouts", f"{c['ask_timeouts']:,}"),
            ],
        ),
        (
            "Health",
            [
                ("bots alive", f"{st.bots:,}/{st.spawned:,}"),
                ("restarts", f"{st.restarts:,}"),
                ("crashes injected", f"{c['crashes']:,}"),
                ("failed for good", f"{st.failed:,}"),
                ("dead letters", f"{st.dead_letters:,}"),
                ("stalls", f"{st.stalls:,}"),
            ],
        ),
        (
            "Memory",
            [
                ("fleet bytes/bot", _bytes(fleet_b)),
                ("RSS growth/bot", _bytes(rss_b)),
                ("RSS", _bytes(s.rss)),
                ("runners", str(st.runners)),
                ("uptime", f"{st.uptime:.1f}s"),
                ("I/O waits", f"{c['io_waits']:,}"),
            ],
        ),
    ]
    grid = Table(box=box.SIMPLE_HEAD, padding=(0, 1), header_style="bold")
    for title, _ in sections:
        grid.add_column(title, style="dim", no_wrap=True)
        grid.add_column("", justify="right", no_wrap=True)
    for i in range(max(len(rows) for _, rows in sections)):
        grid.add_row(*(x for _, rows in sections for x in rows[i]))
    recent = m.history[1:][-60:]  # the first snapshot has no rates
    trends = Table.grid(padding=(0, 1))
    trends.add_column(style="dim")
    trends.add_column()
    trends.add_row("lag p99", sparkline([p.lag_p99 for p in recent]))
    trends.add_row("ticks/s", sparkline([p.ticks_per_s for p in recent]))
    trends.add_row("msgs/s", sparkline([p.msgs_per_s for p in recent]))
    parts: list[RenderableType] = [grid, trends]
    if m.last_dead_letter:
        parts.append(
            Text(f"last dead letter: {m.last_dead_letter}", style="dim", overflow="ellipsis")
        )
    return Panel(
        Group(*parts),
        title=f"chanpy_patterns demo: {m.bots:,} bots, {m.world_name} world",
        subtitle=f"{s.t:.1f}s of {m.seconds:g}s (Ctrl-C stops early)",
    )


# -- plot -------------------------------------------------------------------------


def write_plot(m: Monitor, path: Path) -> None:
    """Save tick lag percentiles and throughput over time, restarts marked, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h = m.history
    t = [p.t for p in h]
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    FigureCanvasAgg(fig)  # Agg, whatever backend the user's matplotlib is set to
    lag_ax, rate_ax = fig.subplots(2, 1, sharex=True)
    for label, values in (
        ("p50", [p.lag_p50 for p in h]),
        ("p99", [p.lag_p99 for p in h]),
        ("max", [p.lag_max for p in h]),
    ):
        lag_ax.plot(t, [v * 1000 for v in values], label=label)
    lag_ax.set_ylabel("tick lag (ms)")
    lag_ax.set_title(
        f"{m.bots:,} bots, {m.world_name} world, {m.workers} runners: tick lag (recent window)"
    )
    # The first snapshot has no rate yet: it starts at the second.
    rt = t[1:]
    rate_ax.plot(rt, [p.ticks_per_s for p in h[1:]], label="ticks/s")
    rate_ax.plot(rt, [p.msgs_per_s for p in h[1:]], label="messages/s")
    rate_ax.set_ylabel("per second")
    rate_ax.set_xlabel("seconds since the bots were spawned")
    lag_ax.legend(loc="upper right")
    # Restarts as marks: how many happened since the snapshot before, on their own scale.
    marks = [(b.t, b.restarts - a.restarts) for a, b in pairwise(h) if b.restarts > a.restarts]
    restart_ax = rate_ax.twinx()
    restart_ax.set_ylabel("restarts per snapshot", color="tab:red")
    if marks:
        restart_ax.plot(*zip(*marks, strict=True), "x", color="tab:red", label="restarts")
    restart_ax.set_ylim(bottom=0)
    handles, labels = rate_ax.get_legend_handles_labels()
    more_h, more_l = restart_ax.get_legend_handles_labels()
    rate_ax.legend(handles + more_h, labels + more_l, loc="best")
    for ax in (lag_ax, rate_ax):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=100)


# -- running ------------------------------------------------------------------------


@contextmanager
def _stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C ends the run early but gracefully (a second one interrupts as usual)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class Run:
    """One demo run: its settings and the parts every world shares."""

    args: argparse.Namespace
    world: World
    monitor: Monitor
    output: PlainOutput | LiveOutput
    stop: threading.Event

    def fleet(self) -> Fleet:
        """A fleet as the arguments ask for (not entered yet)."""
        budget = self.args.tick_budget
        return Fleet(workers=self.args.workers, tick_budget=budget if budget > 0 else None)

    def started(self) -> None:
        """The bots are spawned: start the clock and the output."""
        self.monitor.begin()
        self.output.begin()

    def sample(self, fleet: Fleet) -> Sample:
        """Take a snapshot."""
        return self.monitor.record(fleet)

    def wait_after(self, s: Sample) -> float:
        """Seconds until the snapshot after ``s`` (<= 0: the run is over)."""
        seconds: float = self.args.seconds
        if self.stop.is_set() or s.t >= seconds:
            return 0.0
        # On a fixed 0.25 s grid, so the per-second lines fall on whole seconds.
        due = SAMPLE_EVERY * (int(s.t / SAMPLE_EVERY) + 1)
        return max(0.01, min(due, seconds) - self.monitor.elapsed())

    def failed(self, eg: BaseExceptionGroup[BotFailed]) -> None:
        """Bots that crashed too often are a result here, not an error of the demo."""
        names = [e.name for e in eg.exceptions if isinstance(e, BotFailed)]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        print(f"demo: {len(names)} bots failed for good: {shown}", file=sys.stderr)


def run_threads(run: Run) -> None:
    """The threads world: runner threads, client threads, snapshots on this thread."""
    stopping = 0.0
    try:
        with run.fleet() as fleet:
            spawn_all(fleet, run.world, run.args.bots, async_world=False)
            run.started()
            clients = [
                threading.Thread(target=client_thread, args=(run.world, run.stop), daemon=True)
                for _ in range(run.args.clients)
            ]
            for t in clients:
                t.start()
            while True:
                s = run.sample(fleet)
                run.output.update(s)
                if (wait := run.wait_after(s)) <= 0:
                    break
                run.stop.wait(wait)
            run.stop.set()
            for t in clients:
                t.join()
            stopping = time.monotonic()
    except* BotFailed as eg:
        run.failed(eg)
    if stopping:
        run.monitor.stop_time = time.monotonic() - stopping


async def run_async(
    run: Run,
    sleep: Callable[[float], Awaitable[Any]],
    in_thread: Callable[[Callable[[], None]], Awaitable[None]],
    trio_world: bool,
) -> None:
    """The trio and asyncio worlds: runners and clients are tasks of this loop."""
    run.world.sleep = sleep
    live = isinstance(run.output, LiveOutput)
    stopping = 0.0
    try:
        async with run.fleet() as fleet:
            spawn_all(fleet, run.world, run.args.bots, async_world=True)
            run.started()
            async with _tasks(trio_world) as start:
                for _ in range(run.args.clients):
                    start(client_task(run.world, run.stop))
                while True:
                    s = run.sample(fleet)
                    if live:
                        # Drawing takes milliseconds: off the loop, the runners' tasks
                        # go on meanwhile (sharing the GIL) instead of waiting for it.
                        await in_thread(partial(run.output.update, s))
                    else:
                        run.output.update(s)
                    if (wait := run.wait_after(s)) <= 0:
                        break
                    await sleep(wait)
                run.stop.set()
            stopping = time.monotonic()
    except* BotFailed as eg:
        run.failed(eg)
    if stopping:
        run.monitor.stop_time = time.monotonic() - stopping


@asynccontextmanager
async def _tasks(trio_world: bool) -> AsyncIterator[Callable[[Awaitable[None]], None]]:
    """A nursery (trio) or TaskGroup (asyncio) that starts coroutines; waits for them."""
    if trio_world:
        import trio

        async def _await(aw: Awaitable[None]) -> None:
            await aw

        async with trio.open_nursery() as nursery:
            yield lambda aw: nursery.start_soon(_await, aw)
    else:
        import asyncio

        async def _run(aw: Awaitable[None]) -> None:
            await aw

        async with asyncio.TaskGroup() as tg:

            def start(aw: Awaitable[None]) -> None:
                tg.create_task(_run(aw))

            yield start


def run_world(run: Run) -> None:
    """Run the chosen world to the end (or to Ctrl-C)."""
    name = run.args.world
    with _stop_on_sigint(run.stop):
        if name == "threads":
            run_threads(run)
        elif name == "trio":
            import trio

            trio.run(run_async, run, trio.sleep, trio.to_thread.run_sync, True)
        else:
            import asyncio

            asyncio.run(run_async(run, asyncio.sleep, asyncio.to_thread, False))


# -- arguments ------------------------------------------------------------------------


def _number(
    kind: Callable[[str], float], ok: Callable[[float], bool], need: str
) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)``, rejected with ``need`` unless ``ok``."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes {noun}, got {text!r}") from None
        if not (math.isfinite(v) and ok(v)):
            raise argparse.ArgumentTypeError(f"must be {need}, got {text}")
        return v

    return parse


_positive_int = _number(int, lambda v: v >= 1, "at least 1")
_non_negative_int = _number(int, lambda v: v >= 0, "0 or more")
_seconds = _number(float, lambda v: v > 0, "finite and > 0")
_budget = _number(float, lambda v: v >= 0, "finite and >= 0 (0: no throttle)")
_rate = _number(float, lambda v: 0 <= v <= 1, "a probability between 0 and 1")


def _png(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"must name a .png file, got {text!r}")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the directory of {text!r} does not exist")
    return path


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The demo's command line."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="A simulated world of bots on a chanpy_patterns Fleet, watched live.",
        epilog="On a terminal a dashboard is drawn (needs rich); otherwise, or with --plain, "
        "one line per second and a summary line are printed.",
    )
    p.add_argument("--bots", type=_positive_int, default=10_000, help="bots (default 10000)")
    p.add_argument("--seconds", type=_seconds, default=20.0, help="how long to run (default 20)")
    p.add_argument(
        "--world",
        choices=WORLDS,
        default="threads",
        help="runners as threads, or tasks of trio or asyncio (default threads)",
    )
    p.add_argument(
        "--crash-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="chance that a handled tick or message crashes its bot (default 0)",
    )
    p.add_argument(
        "--workers", type=_positive_int, default=2, metavar="N", help="runners (default 2)"
    )
    p.add_argument(
        "--clients",
        type=_non_negative_int,
        default=4,
        metavar="N",
        help="outside clients asking bots where they are (default 4)",
    )
    p.add_argument(
        "--tick-budget",
        type=_budget,
        default=TICK / 2,
        metavar="S",
        help=f"tick lag at which the fleet throttles normal-priority ticks (default {TICK / 2:g}"
        "; 0: never)",
    )
    p.add_argument("--plot", type=_png, metavar="FILE.png", help="save a plot of the run")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    p.add_argument("--seed", type=int, help="seed of the grid's layout")
    return p


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the demo; returns the exit status (2: bad arguments)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.plot is not None and not _importable("matplotlib"):
        parser.error("--plot needs matplotlib: pip install 'chanpy[demo]'")
    if args.world == "trio" and not _importable("trio"):
        parser.error("--world trio needs trio: pip install trio")
    live = sys.stdout.isatty() and not args.plain
    if live and not _importable("rich"):
        print(
            "demo: rich is not installed: plain lines (pip install 'chanpy[demo]')", file=sys.stderr
        )
        live = False

    world = World(args.bots, args.crash_rate, random.Random(args.seed))
    monitor = Monitor(world, args.world, args.bots, args.seconds, args.workers)
    output: PlainOutput | LiveOutput = (
        LiveOutput(monitor) if live else PlainOutput(monitor, sys.stdout)
    )
    run = Run(args, world, monitor, output, threading.Event())
    try:
        run_world(run)
    finally:
        output.end()
    if monitor.last is None:
        print("demo: stopped before the first snapshot", file=sys.stderr)
        return 1
    print(monitor.summary(), flush=True)
    if args.plot is not None:
        write_plot(monitor, args.plot)
        print(f"demo: plot saved to {args.plot}", flush=True)
    return 0


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    sys.exit(main())
