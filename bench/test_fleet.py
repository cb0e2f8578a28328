"""The fleet scenario through pytest-benchmark: the Fleet and the hand-written pool.

One small run each (1000 bots, 2 s measured), in its own subprocess as
``python -m chanpy_patterns.bench_fleet`` runs them; the time pytest-benchmark
reports is the whole run's, the scenario's numbers are in ``extra_info``.
For the full grid and every peer: ``chanpy-bench --scenario fleet``.
"""

from __future__ import annotations

from typing import Any

import pytest

from chanpy_patterns.bench_fleet import Outcome, run_one, timeout_for

N = 1000
SECONDS = 2.0
WARMUP = 1.0


@pytest.mark.parametrize("impl", ["chanpy", "pool"])
def test_fleet(benchmark: Any, impl: str) -> None:
    """One fleet run of ``impl``; its numbers go to extra_info."""
    outcomes: list[Outcome] = []

    def run() -> None:
        """The measured call: one run in a subprocess."""
        outcomes.append(run_one(impl, N, SECONDS, WARMUP, timeout_for(N, SECONDS, WARMUP)))

    benchmark.group = f"fleet: {N:,} bots at 10 Hz, {N:,} msg/s, {SECONDS:g} s measured"
    benchmark.pedantic(run, rounds=1, iterations=1)
    (o,) = outcomes
    assert o.run is not None, f"{impl}: {o.status}: {o.error}"
    benchmark.extra_info.update(o.run.to_json())
