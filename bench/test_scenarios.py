"""Every scenario of chanpy.bench x every implementation x {alone, busy thread}.

The workloads are chanpy.bench.scenarios' own objects; this file only hands
them to pytest-benchmark. Nothing is asserted about speed.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest

from bench.conftest import BenchOptions
from chanpy.bench.runner import Settings, busy_thread, percentile, warm_up
from chanpy.bench.scenarios import SCENARIOS, Impl, Measurement, Scenario

BUSY_RUN_S = 0.3
"""Beside the busy thread each run lasts about this long (sized by a warm-up)."""

CASES = [
    pytest.param(s, impl, id=f"{s.name}-{impl.name.replace(' ', '_')}")
    for s in SCENARIOS
    for impl in s.impls
]


@pytest.mark.parametrize("variant", ["plain", "busy"])
@pytest.mark.parametrize(("scenario", "impl"), CASES)
def test_scenario(
    benchmark: Any, bench_options: BenchOptions, scenario: Scenario, impl: Impl, variant: str
) -> None:
    reason = impl.unavailable()
    if reason is not None:
        pytest.skip(reason)
    busy = variant == "busy"
    ops = scenario.ops(busy=busy, scale=bench_options.scale)
    rounds = bench_options.rounds
    settings = Settings(budget_s=BUSY_RUN_S if busy else 0.3, allowance_s=20.0)
    runs: list[Measurement] = []

    def run() -> None:
        runs.append(impl.run(ops, False))

    with busy_thread() if busy else nullcontext():
        per_op, _ = warm_up(scenario, impl, ops, settings, to_budget=busy)
        if busy:
            # As in python -m chanpy.bench: beside the busy thread starting and
            # joining threads costs milliseconds per run, so every
            # implementation's runs last the same time, whatever their op count.
            ops = scenario.round(max(scenario.min_messages, BUSY_RUN_S * 1e9 / per_op))
            benchmark.group = f"{scenario.name} [busy]: runs of ~{BUSY_RUN_S} s"
        else:
            benchmark.group = f"{scenario.name} [plain]: {ops:,} {scenario.unit}s per run"
        expected = per_op * ops * (rounds + (1 if busy else 0)) / 1e9
        if expected > bench_options.limit_s:
            pytest.skip(
                f"would take ~{expected:.0f} s ({per_op / 1e3:,.0f} µs per {scenario.unit}"
                f"{' beside a busy thread' if busy else ''}); see python -m chanpy.bench"
            )
        benchmark.pedantic(run, rounds=rounds, iterations=1)
        stamped = impl.run(ops, True) if busy else None

    per_run = sorted(m.ns_per_op for m in runs)
    benchmark.extra_info["ops"] = ops
    benchmark.extra_info["unit"] = scenario.unit
    benchmark.extra_info["ns_per_op_median"] = per_run[len(per_run) // 2]
    if stamped is not None and stamped.latencies_ns:
        benchmark.extra_info["latency_p50_ns"] = percentile(stamped.latencies_ns, 50)
        benchmark.extra_info["latency_p99_ns"] = percentile(stamped.latencies_ns, 99)
