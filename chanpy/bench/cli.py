"""``python -m chanpy.bench`` / ``chanpy-bench``: compare chanpy with its peers."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from chanpy.bench.gobench import GoBench
from chanpy.bench.report import environment, render_table, to_json, write_plot
from chanpy.bench.runner import ScenarioResult, Settings, check_targets, planned_runs, run_scenario
from chanpy.bench.scenarios import SCENARIOS, Scenario

__all__ = ["main"]

QUICK_ROUNDS = 3
QUICK_SCALE = 0.1
QUICK_BUDGET_S = 0.04
FULL_ROUNDS = 7
FULL_BUDGET_S = 0.3
QUICK_BUSY_BUDGET_S = 0.2
QUICK_ALLOWANCE_S = 1.5
FULL_ALLOWANCE_S = 15.0

EXIT_USAGE = 2
# The bot-fleet scenario runs on its own (a subprocess per run): chanpy_patterns.bench_fleet.
FLEET = "fleet"


class ProgressBar:
    """What is running, on stderr: one redrawn line on a terminal, else a line per step group."""

    def __init__(self, total: int, stream: TextIO, *, enabled: bool = True) -> None:
        self.total = max(1, total)
        self.done = 0
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.heading = ""
        self.start = time.monotonic()

    def section(self, heading: str) -> None:
        self.heading = heading
        if self.enabled and not self.tty:
            pct = 100 * self.done // self.total
            print(f"[{pct:3d}% {self._elapsed()}] {heading}", file=self.stream, flush=True)

    def step(self, label: str) -> None:
        if label and self.tty:
            self._draw(label)
        self.done = min(self.total, self.done + 1)

    def _elapsed(self) -> str:
        s = int(time.monotonic() - self.start)
        return f"{s // 60}:{s % 60:02d}"

    def _draw(self, label: str) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        frac = self.done / self.total
        bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
        text = f"[{bar}] {100 * frac:3.0f}% {self._elapsed()}  {self.heading} · {label}"
        text = text[: width - 1]
        self.stream.write("\r" + text.ljust(width - 1))
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
        elif self.enabled:
            print(f"[100% {self._elapsed()}] done", file=self.stream, flush=True)


def _parser(prog: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Benchmark chanpy's channels, groups and pipeline stages against what you "
            "would use otherwise (queue.Queue, trio, asyncio, janus, culsans, aiologic, "
            "pygolang, concurrent.futures, pypeln, aiostream, Go). chanpy and each "
            "installed peer run interleaved "
            "in this process; every result is a ratio to a peer measured in the same "
            "run. Missing peers are reported as skipped: install them with "
            "pip install 'chanpy[bench]'."
        ),
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"fewer ops ({QUICK_SCALE:g}x) and {QUICK_ROUNDS} rounds: a rough picture in minutes",
    )
    p.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        default=None,
        help="run only this scenario (repeatable; see --list)",
    )
    p.add_argument("--list", action="store_true", help="list the scenarios and peers, then exit")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument(
        "--plot", metavar="FILE.png", help="also draw a chart of the ratios (matplotlib)"
    )
    p.add_argument("--rounds", type=int, metavar="N", help="interleaved rounds per scenario")
    p.add_argument(
        "--scale",
        type=float,
        metavar="X",
        help="multiply every scenario's op count by X (e.g. 0.01 for a smoke run)",
    )
    p.add_argument(
        "--no-busy", action="store_true", help="skip the variants beside a busy Python thread"
    )
    p.add_argument("--no-go", action="store_true", help="do not build and run the Go ceiling")
    p.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
    return p


def _list(out: TextIO) -> None:
    for s in SCENARIOS:
        print(f"{s.name:<16} {s.title}", file=out)
        print(f"{'':<16}   {s.description}", file=out)
        peers = []
        for impl in s.peers:
            reason = impl.unavailable()
            peers.append(impl.name + (f" (skipped: {reason})" if reason else ""))
        if s.go:
            peers.append("Go")
        mine = s.chanpy.unavailable()
        if mine:
            print(f"{'':<16}   chanpy: skipped: {mine}", file=out)
        print(f"{'':<16}   vs {', '.join(peers)}", file=out)
    print(f"{FLEET:<16} Bot fleet: N bots ticking at 10 Hz, N msg/s (chanpy_patterns)", file=out)
    print(f"{'':<16}   runs on its own: --scenario {FLEET} [--quick] [--n N] [--impl X]", file=out)
    print(f"{'':<16}   vs asyncio, trio, a thread per bot, pykka, a hand-written pool", file=out)


def _fleet_argv(argv: Sequence[str]) -> list[str] | None:
    """The other arguments if ``argv`` asks for ``--scenario fleet``, else None."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--scenario" and args[i + 1 : i + 2] == [FLEET]:
            return args[:i] + args[i + 2 :]
        if arg == f"--scenario={FLEET}":
            return args[:i] + args[i + 1 :]
    return None


def _check_writable(path: str) -> str | None:
    """Why ``path`` cannot be written, or None. Leaves no file behind."""
    if os.path.isdir(path):
        return f"{path} is a directory"
    existed = os.path.exists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror or exc}"
    if not existed:
        os.unlink(path)
    return None


def _check_plot(path: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return "--plot needs matplotlib: pip install matplotlib (or 'chanpy[bench]')"
    formats = Figure().canvas.get_supported_filetypes()
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in formats:
        return (
            f"--plot {path}: unknown image format {ext!r}; use one of {', '.join(sorted(formats))}"
        )
    return None


def _select(names: Sequence[str] | None, parser: argparse.ArgumentParser) -> list[Scenario]:
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    chosen: list[Scenario] = []
    for name in names:
        if name not in known:
            every = ", ".join([*known, FLEET])
            parser.error(f"unknown scenario {name!r}; known scenarios: {every}")
        if known[name] not in chosen:
            chosen.append(known[name])
    return chosen


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command; returns the exit status (2: bad arguments, 1: chanpy failed)."""
    fleet_argv = _fleet_argv(sys.argv[1:] if argv is None else argv)
    if fleet_argv is not None:
        from chanpy_patterns.bench_fleet import main as fleet_main

        return fleet_main(fleet_argv, f"{prog or 'chanpy-bench'} --scenario {FLEET}")
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.list:
        _list(sys.stdout)
        return 0
    scenarios = _select(args.scenario, parser)
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.scale is not None and not args.scale > 0:
        parser.error(f"--scale must be a number > 0, got {args.scale}")
    if args.json:
        problem = _check_writable(args.json)
        if problem:
            parser.error(f"--json: {problem}")
    if args.plot:
        problem = _check_plot(args.plot) or _check_writable(args.plot)
        if problem:
            parser.error(problem if problem.startswith("--plot") else f"--plot: {problem}")

    settings = Settings(
        rounds=args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS),
        scale=args.scale or (QUICK_SCALE if args.quick else 1.0),
        budget_s=QUICK_BUDGET_S if args.quick else FULL_BUDGET_S,
        latency_rounds=1 if args.quick else 2,
        allowance_s=QUICK_ALLOWANCE_S if args.quick else FULL_ALLOWANCE_S,
        busy=not args.no_busy,
        busy_budget_s=QUICK_BUSY_BUDGET_S if args.quick else FULL_BUDGET_S,
    )
    variants = ["plain"] + (["busy"] if settings.busy else [])
    plan = [(s, v) for s in scenarios for v in variants]

    go: GoBench | None = None
    if not args.no_go and any(s.go for s in scenarios):
        go = GoBench.build()

    bar = ProgressBar(
        sum(planned_runs(s, settings, v) for s, v in plan),
        sys.stderr,
        enabled=not args.no_progress,
    )
    results: list[ScenarioResult] = []
    try:
        for i, (s, v) in enumerate(plan, 1):
            bar.section(f"({i}/{len(plan)}) {s.name}{' + busy thread' if v == 'busy' else ''}")
            results.append(run_scenario(s, v, settings, go, bar.step))
    finally:
        bar.finish()
        go_version = go.version if go else None
        if go is not None:
            go.close()

    env = environment(go_version)
    if go is not None and go.skipped:
        env["go_skipped"] = go.skipped
    checks = check_targets(results)
    print(render_table(results, checks, env, settings, args.quick))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(to_json(results, checks, env, settings, args.quick), f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    if args.plot:
        write_plot(results, env, args.plot)
        print(f"wrote {args.plot}")
    chanpy_failed = [r for r in results if r.impls[0].status == "failed"]
    return 1 if chanpy_failed else 0
