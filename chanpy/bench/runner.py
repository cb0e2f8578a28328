"""Running scenarios: interleaved rounds, warm-up, medians, the busy thread.

Method (the same for every scenario):

* every implementation runs once untimed (warm-up); its speed there sizes
  its measured runs to about ``budget_s`` each, between the scenario's
  ``min_messages`` and its op count (so a slow peer does not take minutes);
* then ``rounds`` rounds, each running chanpy and every installed peer once,
  interleaved (A B C, B C A, C A B, ...) so that a drift of the machine's
  speed hits all of them alike;
* ns/op is reported as the median over rounds with min and max; the ratio
  chanpy/peer is the median over rounds of (chanpy's time / the peer's time
  in the same round), with its min and max;
* the "busy" variant repeats this with an unrelated Python thread spinning
  for the whole scenario; there every implementation's runs are sized to
  ``busy_budget_s`` whatever their op count (starting and joining threads beside
  the spinner costs milliseconds that a fixed op count would charge the
  fastest implementation most), and its last ``latency_rounds`` rounds also make a
  stamped run of each implementation whose per-op latencies give p50 and p99
  (send call to receive return, so in a saturated buffered pipeline it
  includes the time a message waits behind the buffer's other messages);
* the garbage collector is collected before and disabled during each run.

Go (when available) runs its own rounds in a separate process; its ratio is
chanpy's median over Go's median.
"""

from __future__ import annotations

import gc
import statistics
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace

from chanpy.bench.gobench import GoBench
from chanpy.bench.scenarios import Impl, Measurement, Scenario

__all__ = [
    "GO",
    "ImplResult",
    "Ratio",
    "ScenarioResult",
    "Settings",
    "TargetCheck",
    "busy_thread",
    "check_targets",
    "percentile",
    "run_scenario",
    "warm_up",
]

GO = "Go"
BUSY_TOLERANCE = 1.2
"""With the busy thread a ratio "holds" if it is at most 20% worse."""


@dataclass(frozen=True)
class Settings:
    rounds: int = 7
    """Measured rounds per scenario and variant."""
    scale: float = 1.0
    """Multiplies every scenario's largest op count."""
    budget_s: float = 0.3
    """Aimed wall time of one run: slow implementations do fewer ops (never
    fewer than the scenario's ``min_messages``), fast ones stop at the
    scenario's op count."""
    latency_rounds: int = 2
    """Beside the busy thread: how many rounds also make a stamped run."""
    allowance_s: float = 15.0
    """Time one implementation may take in one scenario variant. One that
    would take longer (some peers need milliseconds per op beside a busy
    thread) does fewer ops per run and skips rounds once it is spent."""
    busy: bool = True
    busy_budget_s: float = 0.3
    """``budget_s`` beside the busy thread, where every run is sized by time:
    long enough that starting and joining its threads (10-16 ms there) is a
    small share of every implementation's run."""


@dataclass
class ImplResult:
    name: str
    status: str = "ok"
    """"ok", "skipped" (not installed / not applicable) or "failed"."""
    reason: str | None = None
    ops: int = 0
    """Ops per measured run."""
    ns_per_op: list[float | None] = field(default_factory=list)
    """One entry per round (None where the run did not happen)."""
    p50_ns: float | None = None
    p99_ns: float | None = None
    note: str | None = None
    """Set when the time allowance cut this implementation's runs short."""

    @property
    def measured(self) -> list[float]:
        return [x for x in self.ns_per_op if x is not None]

    @property
    def median(self) -> float | None:
        m = self.measured
        return statistics.median(m) if m else None


@dataclass
class Ratio:
    """chanpy's time over a peer's: below 1 means chanpy is faster."""

    peer: str
    median: float
    min: float
    max: float

    @property
    def speedup(self) -> float:
        """How many times faster chanpy is (below 1: slower)."""
        return 1.0 / self.median


@dataclass
class ScenarioResult:
    scenario: Scenario
    variant: str
    """"plain" or "busy"."""
    ops: int
    rounds: int
    impls: list[ImplResult]
    ratios: list[Ratio]

    def impl(self, name: str) -> ImplResult | None:
        for r in self.impls:
            if r.name == name:
                return r
        return None

    def ratio(self, peer: str) -> Ratio | None:
        for r in self.ratios:
            if r.peer == peer:
                return r
        return None


@contextmanager
def busy_thread() -> Iterator[None]:
    """An unrelated Python thread spinning (never blocking) meanwhile."""
    running = [True]

    def spin() -> None:
        x = 0
        while running[0]:
            x += 1

    t = threading.Thread(target=spin, name="chanpy-bench-busy", daemon=True)
    t.start()
    try:
        yield
    finally:
        running[0] = False
        t.join()


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by nearest rank over sorted samples."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return float(ordered[k])


def _measure(impl: Impl, ops: int, stamped: bool) -> Measurement:
    gc.collect()
    gc.disable()
    try:
        return impl.run(ops, stamped)
    finally:
        gc.enable()


Progress = Callable[[str], None]
"""Told what is about to run (one call per run)."""


def planned_runs(scenario: Scenario, settings: Settings, variant: str) -> int:
    """How many progress steps ``run_scenario`` will report."""
    per_impl = 1 + settings.rounds
    if variant == "busy":
        per_impl += min(settings.latency_rounds, settings.rounds)
    steps = len(scenario.impls) * per_impl
    if variant == "plain" and scenario.go is not None:
        steps += 1
    return steps


START_OPS = 32
"""Calibration starts this small, so a very slow implementation costs little."""

BUSY_OPS_CEILING = 50_000_000
"""Beside the busy thread runs are sized by time alone; this only bounds them."""


def warm_up(
    scenario: Scenario, impl: Impl, most: int, settings: Settings, *, to_budget: bool = False
) -> tuple[float, float]:
    """Run ``impl`` untimed with growing op counts; (ns/op of the last run, seconds spent).

    Starts at ``START_OPS`` and grows 4x up to the scenario's ``min_messages``
    (or ``most``; with ``to_budget``, up to ``most`` itself), stopping early
    once a run takes ``budget_s`` or the runs took a quarter of
    ``allowance_s``: a very slow implementation is found out cheaply.
    Exceptions from the implementation propagate.
    """
    target = most if to_budget else min(most, scenario.min_messages)
    n = scenario.round(min(target, START_OPS))
    spent = 0.0
    while True:
        m = _measure(impl, n, False)
        spent += m.elapsed_ns / 1e9
        if n >= target or m.elapsed_ns >= settings.budget_s * 1e9:
            break
        if spent >= settings.allowance_s / 4:
            break
        n = scenario.round(min(target, n * 4))
    return max(m.ns_per_op, 1.0), spent


def run_scenario(
    scenario: Scenario,
    variant: str,
    settings: Settings,
    go: GoBench | None = None,
    progress: Progress | None = None,
) -> ScenarioResult:
    """Run one scenario in one variant ("plain" or "busy")."""
    busy = variant == "busy"
    # Beside the busy thread, starting and joining a run's threads costs a few
    # switch intervals (10-16 ms measured for 2-8 threads) before the first op
    # and after the last. Runs of a fixed op count would charge the faster
    # implementation a larger share of it and pull every ratio toward 1, so
    # there each implementation's run is sized to the same wall time (the
    # budget, at least ``busy_budget_s``): the op count is then no ceiling.
    most = BUSY_OPS_CEILING if busy else scenario.ops(busy=False, scale=settings.scale)
    if busy:
        settings = replace(settings, budget_s=max(settings.budget_s, settings.busy_budget_s))
    rounds = settings.rounds
    latency_rounds = min(settings.latency_rounds, rounds) if busy else 0
    runs_per_impl = rounds + latency_rounds
    tell = progress or (lambda _: None)
    results = {impl.name: ImplResult(impl.name) for impl in scenario.impls}
    runnable: list[Impl] = []
    for impl in scenario.impls:
        reason = impl.unavailable()
        if reason is None:
            runnable.append(impl)
        else:
            results[impl.name].status = "skipped"
            results[impl.name].reason = reason
            for _ in range(1 + runs_per_impl):
                tell("")
    latencies: dict[str, list[int]] = {impl.name: [] for impl in runnable}
    spent: dict[str, float] = {impl.name: 0.0 for impl in runnable}
    cut: dict[str, int] = {impl.name: 0 for impl in runnable}

    def attempt(impl: Impl, n: int, stamped: bool) -> Measurement | None:
        res = results[impl.name]
        if res.status != "ok":
            return None
        try:
            m = _measure(impl, n, stamped)
        except Exception as exc:
            res.status = "failed"
            res.reason = f"{type(exc).__name__}: {exc}"
            return None
        spent[impl.name] += m.elapsed_ns / 1e9
        return m

    def calibrate(impl: Impl) -> None:
        """Warm up; size the measured runs to the budget and the allowance."""
        res = results[impl.name]
        try:
            per_op, took = warm_up(scenario, impl, most, settings, to_budget=busy)
        except Exception as exc:
            res.status = "failed"
            res.reason = f"{type(exc).__name__}: {exc}"
            return
        spent[impl.name] += took
        ops = min(most, max(scenario.min_messages, settings.budget_s * 1e9 / per_op))
        left = settings.allowance_s - spent[impl.name]
        affordable = left * 1e9 / per_op / runs_per_impl
        if ops > affordable:
            ops = max(min(most, START_OPS), affordable)
            res.note = "too slow for full-size runs: fewer ops per run"
        res.ops = scenario.round(ops)

    def over(impl: Impl) -> bool:
        """Spent its allowance (after at least one measured round)?"""
        res = results[impl.name]
        if res.measured and spent[impl.name] > settings.allowance_s:
            cut[impl.name] += 1
            return True
        return False

    with busy_thread() if busy else nullcontext():
        for impl in runnable:
            tell(f"warm-up: {impl.name}")
            calibrate(impl)
        for r in range(rounds):
            k = r % len(runnable) if runnable else 0
            for impl in runnable[k:] + runnable[:k]:
                res = results[impl.name]
                tell(f"round {r + 1}/{rounds}: {impl.name}")
                m = None if over(impl) else attempt(impl, res.ops, False)
                res.ns_per_op.append(m.ns_per_op if m else None)
                if r >= rounds - latency_rounds:
                    tell(f"round {r + 1}/{rounds}: {impl.name}, latency")
                    if latencies[impl.name] and over(impl):
                        continue
                    m = attempt(impl, res.ops, True)
                    if m is not None and m.latencies_ns:
                        latencies[impl.name].extend(m.latencies_ns)

    for name, n_cut in cut.items():
        if n_cut:
            done = len(results[name].measured)
            extra = f"measured in {done} of {rounds} rounds (time allowance spent)"
            note = results[name].note
            results[name].note = f"{note}; {extra}" if note else extra

    for name, lat in latencies.items():
        if lat and results[name].status == "ok":
            results[name].p50_ns = percentile(lat, 50)
            results[name].p99_ns = percentile(lat, 99)

    impl_results = [results[impl.name] for impl in scenario.impls]
    ratios = _ratios(impl_results)

    if not busy and scenario.go is not None:
        tell(f"Go: {scenario.go}")
        go_ops = impl_results[0].ops or most
        impl_results.append(_run_go(go, scenario.go, go_ops, rounds))
        chanpy_median = impl_results[0].median
        go_median = impl_results[-1].median
        if chanpy_median is not None and go_median:
            x = chanpy_median / go_median
            ratios.append(Ratio(GO, x, x, x))

    largest = max((r.ops for r in impl_results), default=0) if busy else most
    return ScenarioResult(scenario, variant, largest, rounds, impl_results, ratios)


def _ratios(impls: list[ImplResult]) -> list[Ratio]:
    chanpy, peers = impls[0], impls[1:]
    out = []
    for peer in peers:
        pairs = [
            a / b
            for a, b in zip(chanpy.ns_per_op, peer.ns_per_op, strict=False)
            if a is not None and b
        ]
        if pairs and chanpy.status == "ok" and peer.status == "ok":
            out.append(Ratio(peer.name, statistics.median(pairs), min(pairs), max(pairs)))
    return out


def _run_go(go: GoBench | None, name: str, ops: int, rounds: int) -> ImplResult:
    if go is None:
        return ImplResult(GO, "skipped", "--no-go")
    if go.binary is None:
        return ImplResult(GO, "skipped", go.skipped)
    try:
        # Go is far faster: give it at least as many ops as chanpy did.
        values: list[float | None] = list(go.run(name, max(ops, 10_000), rounds))
    except Exception as exc:
        return ImplResult(GO, "failed", f"{type(exc).__name__}: {exc}")
    return ImplResult(GO, "ok", None, ops, values)


@dataclass(frozen=True)
class TargetCheck:
    """One of the project's performance goals, checked against a run."""

    scenario: str
    goal: str
    value: str
    met: bool | None
    """None: could not be checked (variant not run, peer missing)."""


def check_targets(results: Sequence[ScenarioResult]) -> list[TargetCheck]:
    """Evaluate every scenario's targets that this run can speak to."""
    checks: list[TargetCheck] = []
    by_key = {(r.scenario.name, r.variant): r for r in results}
    seen: list[str] = []
    for res in results:
        s = res.scenario
        if s.name in seen or not s.targets:
            continue
        seen.append(s.name)
        plain, busy = by_key.get((s.name, "plain")), by_key.get((s.name, "busy"))
        for t in s.targets:
            pr = plain.ratio(t.peer) if plain else None
            if plain is not None:
                checks.append(
                    TargetCheck(
                        s.name,
                        f"{t.text} (chanpy/{t.peer} ≤ {t.max_ratio:.2g})",
                        f"{pr.median:.3g}" if pr else "n/a",
                        None if pr is None else pr.median <= t.max_ratio,
                    )
                )
            if busy is None:
                continue
            br = busy.ratio(t.peer)
            if pr is not None and br is not None:
                checks.append(
                    TargetCheck(
                        s.name,
                        f"busy thread: ratio to {t.peer} holds within 20%",
                        f"{br.median:.3g} vs {pr.median:.3g} without",
                        br.median <= pr.median * BUSY_TOLERANCE,
                    )
                )
            mine, theirs = busy.impl("chanpy"), busy.impl(t.peer)
            if t.p99 and mine and theirs and mine.p99_ns is not None and theirs.p99_ns is not None:
                checks.append(
                    TargetCheck(
                        s.name,
                        f"busy thread: p99 latency no worse than {t.peer}'s",
                        f"{mine.p99_ns / 1000:,.1f} µs vs {theirs.p99_ns / 1000:,.1f} µs",
                        mine.p99_ns <= theirs.p99_ns,
                    )
                )
    return checks
