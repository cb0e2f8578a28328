"""What a run produced, as a table, as JSON and as a chart."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chanpy.bench.runner import GO, ImplResult, Ratio, ScenarioResult, Settings, TargetCheck

__all__ = ["SCHEMA", "environment", "render_table", "to_json", "write_plot"]

SCHEMA = "chanpy-bench/1"

# Distributions whose versions a report records (module name -> distribution).
_DISTRIBUTIONS = {
    "chanpy": "chanpy",
    "trio": "trio",
    "janus": "janus",
    "culsans": "culsans",
    "aiologic": "aiologic",
    "pygolang": "pygolang",
    "pypeln": "pypeln",
    "aiostream": "aiostream",
    "cffi": "cffi",
}


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _commit() -> str | None:
    """The git commit of the source tree chanpy runs from, if it is one."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def environment(go_version: str | None) -> dict[str, Any]:
    """Machine, Python, library versions and commit of this run."""
    versions: dict[str, str | None] = {}
    for name, dist in _DISTRIBUTIONS.items():
        try:
            versions[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["go"] = go_version
    gil = getattr(sys, "_is_gil_enabled", None)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "system": f"{platform.system()} {platform.release()}",
            "arch": platform.machine(),
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
        },
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "gil": True if gil is None else bool(gil()),
        },
        "versions": versions,
        "commit": _commit(),
    }


def _impl_json(r: ImplResult) -> dict[str, Any]:
    m = r.measured
    return {
        "name": r.name,
        "status": r.status,
        "reason": r.reason,
        "ops_per_run": r.ops,
        "note": r.note,
        "ns_per_op": {
            "median": r.median,
            "min": min(m) if m else None,
            "max": max(m) if m else None,
            "rounds": r.ns_per_op,
        },
        "latency_ns": ({"p50": r.p50_ns, "p99": r.p99_ns} if r.p50_ns is not None else None),
    }


def _ratio_json(r: Ratio) -> dict[str, Any]:
    return {
        "peer": r.peer,
        "ratio": r.median,
        "min": r.min,
        "max": r.max,
        "chanpy_faster": r.median < 1.0,
    }


def to_json(
    results: Sequence[ScenarioResult],
    checks: Sequence[TargetCheck],
    env: dict[str, Any],
    settings: Settings,
    quick: bool,
) -> dict[str, Any]:
    """The whole run as one JSON-ready object (schema ``chanpy-bench/1``)."""
    return {
        "schema": SCHEMA,
        "ratio_definition": "chanpy time / peer time per op; below 1 means chanpy is faster",
        "environment": env,
        "settings": {
            "quick": quick,
            "rounds": settings.rounds,
            "scale": settings.scale,
            "budget_s": settings.budget_s,
            "latency_rounds": settings.latency_rounds,
            "allowance_s": settings.allowance_s,
        },
        "results": [
            {
                "scenario": r.scenario.name,
                "title": r.scenario.title,
                "variant": r.variant,
                "unit": r.scenario.unit,
                "max_ops_per_run": r.ops,
                "rounds": r.rounds,
                "implementations": [_impl_json(i) for i in r.impls],
                "ratios": [_ratio_json(x) for x in r.ratios],
            }
            for r in results
        ],
        "targets": [
            {"scenario": c.scenario, "goal": c.goal, "value": c.value, "met": c.met} for c in checks
        ],
    }


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------


def _ns(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}"


def _latency(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 1_000_000:
        return f"{x / 1e6:.1f} ms"
    if x >= 1_000:
        return f"{x / 1e3:.1f} µs"
    return f"{x:.0f} ns"


def verdict(ratio: float) -> str:
    """ "12x faster", "1.4x slower", "same" for chanpy time / peer time."""
    if 0.95 <= ratio <= 1.05:
        return "about the same"
    times = 1 / ratio if ratio < 1 else ratio
    text = f"{times:,.0f}x" if times >= 100 else f"{times:.3g}x"
    return f"{text} faster" if ratio < 1 else f"{text} slower"


def render_table(
    results: Sequence[ScenarioResult],
    checks: Sequence[TargetCheck],
    env: dict[str, Any],
    settings: Settings,
    quick: bool,
) -> str:
    lines: list[str] = []
    m, py, v = env["machine"], env["python"], env["versions"]
    lines.append(
        f"chanpy {v.get('chanpy')} (commit {env.get('commit') or 'unknown'}) · "
        f"{py['implementation']} {py['version']} · {m['cpus']} CPUs "
        f"{m['cpu'] or m['arch']} · {m['system']}"
    )
    mode = "quick" if quick else "full"
    lines.append(
        f"{mode} run: {settings.rounds} interleaved rounds per scenario after a warm-up, "
        f"runs of ~{settings.budget_s:g} s at most (scale {settings.scale:g})"
    )
    if any(r.variant == "busy" for r in results):
        lines.append(
            "busy thread: an unrelated Python thread spins meanwhile; latency = from the send "
            "call to the receive returning (includes time queued in a full buffer), or one "
            "round trip / one select"
        )
    lines.append(
        "ns/op = median over rounds [min - max]; "
        "chanpy/peer = median of chanpy's time / the peer's in the same round (< 1: chanpy faster)"
    )
    for res in results:
        s = res.scenario
        busy = res.variant == "busy"
        lines.append("")
        label = " + busy Python thread" if busy else ""
        lines.append(f"{s.name}{label} — {s.title}")
        if busy and s.latency:
            lines.append(f"  latency: {s.latency}")
        header = f"  {'implementation':<34} {s.unit + 's/run':>13} {'ns/' + s.unit:>14}  "
        header += f"{'[min - max]':<21}"
        if busy:
            header += f" {'p50 / p99 latency':<21}"
        header += " chanpy/peer"
        lines.append(header)
        ratios = {r.peer: r for r in res.ratios}
        for impl in res.impls:
            name = impl.name + (" (ceiling)" if impl.name == GO else "")
            if impl.status != "ok":
                lines.append(f"  {name:<34} {impl.status}: {impl.reason}")
                continue
            meas = impl.measured
            span = f"[{_ns(min(meas))} - {_ns(max(meas))}]" if meas else ""
            row = f"  {name:<34} {impl.ops:>13,} {_ns(impl.median):>14}  {span:<21}"
            if busy:
                lat = (
                    f"{_latency(impl.p50_ns)} / {_latency(impl.p99_ns)}"
                    if impl.p50_ns is not None
                    else "-"
                )
                row += f" {lat:<21}"
            r = ratios.get(impl.name)
            if r is not None:
                row += f" {r.median:.3g}x  {verdict(r.median)}"
            lines.append(row.rstrip())
            if impl.note:
                lines.append(f"  {'':<34} ({impl.note})")
    if checks:
        lines.append("")
        lines.append("targets:")
        for c in checks:
            mark = {True: "met    ", False: "NOT MET", None: "n/a    "}[c.met]
            lines.append(f"  {mark} {c.scenario}: {c.goal} — {c.value}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# The chart
# --------------------------------------------------------------------------


def write_plot(results: Sequence[ScenarioResult], env: dict[str, Any], path: str) -> None:
    """A chart of chanpy's speed relative to each peer, readable on its own.

    One row per (scenario, peer); one panel per variant (alone, beside a
    busy thread). Bars start at 1x on a log scale: green to the right where
    chanpy is faster, red to the left where it is slower, each labelled.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows: list[tuple[str, str]] = []
    values: dict[str, dict[tuple[str, str], float]] = {}
    for res in results:
        for r in res.ratios:
            key = (res.scenario.name, r.peer)
            if key not in rows:
                rows.append(key)
            values.setdefault(res.variant, {})[key] = r.speedup
    variants = [v for v in ("plain", "busy") if v in values]
    titles = {"plain": "alone", "busy": "beside a busy Python thread"}
    faster, slower = "#2e8b57", "#c0392b"

    height = max(3.5, 0.27 * len(rows) + 2.2)
    fig, axes = plt.subplots(
        1, max(1, len(variants)), figsize=(7 + 4.5 * len(variants), height), sharey=True
    )
    axs = list(axes) if len(variants) > 1 else [axes]
    ys = list(range(len(rows)))[::-1]
    y_of = dict(zip(rows, ys, strict=True))
    for ax, variant in zip(axs, variants or ["plain"], strict=False):
        got = values.get(variant, {})
        if not got:
            ax.text(0.5, 0.5, "no ratios measured", ha="center", va="center")
            ax.set_axis_off()
            continue
        xs = list(got.values())
        lo = min(min(xs) / 6, 0.3)
        hi = max(max(xs) * 6, 3.0)
        for key, x in got.items():
            y = y_of[key]
            ax.barh(y, x - 1, left=1, color=faster if x >= 1 else slower, height=0.7)
            ax.text(
                x,
                y,
                f" {verdict(1 / x)} ",
                va="center",
                ha="left" if x >= 1 else "right",
                fontsize=7,
            )
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ticks = [10.0**k for k in range(-6, 7) if lo <= 10.0**k <= hi]
        ax.set_xticks(ticks)
        ax.set_xticklabels([_tick(t) for t in ticks], fontsize=8)
        ax.minorticks_off()
        ax.axvline(1, color="black", linewidth=1.2)
        ax.set_title(f"chanpy {titles[variant]}", fontsize=10)
        ax.set_xlabel("chanpy's speed relative to the peer (log scale)", fontsize=8)
        for i in range(1, len(rows)):
            if rows[i][0] != rows[i - 1][0]:
                ax.axhline(ys[i] + 0.5, color="#bbbbbb", linewidth=0.6)
    axs[0].set_yticks(ys)
    axs[0].set_yticklabels([f"{sc}  vs  {peer}" for sc, peer in rows], fontsize=8)
    axs[0].set_ylim(-0.7, len(rows) - 0.3)
    axs[-1].legend(
        handles=[
            Patch(color=faster, label="chanpy faster than the peer"),
            Patch(color=slower, label="chanpy slower than the peer"),
        ],
        loc="lower right",
        fontsize=8,
    )
    m, py = env["machine"], env["python"]
    fig.suptitle(
        "chanpy vs peers, measured side by side in one run: how many times faster or slower\n"
        f"{py['implementation']} {py['version']} · {m['cpus']} CPUs {m['cpu'] or m['arch']} · "
        f"chanpy {env['versions'].get('chanpy')} (commit {env.get('commit') or 'unknown'}) · "
        f"{env['date'][:10]}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _tick(t: float) -> str:
    if t == 1:
        return "1x"
    if t > 1:
        return f"{t:,.0f}x faster"
    return f"{1 / t:,.0f}x slower"
