"""pytest-benchmark suite: thin wrappers over chanpy.bench's scenario objects.

Run it with ``pytest bench`` (``make bench``). Options:

* ``--bench-scale X``: multiply every scenario's op count (default 0.25);
* ``--bench-rounds N``: measured rounds per benchmark (default 5);
* ``--bench-limit S``: skip an implementation whose rounds would take more
  than S seconds in all (default 60), e.g. a peer needing milliseconds per op
  beside the busy thread; ``python -m chanpy.bench`` still measures those.

Every implementation of a scenario (variant) runs the same op count, so the
groups of pytest-benchmark's table compare like with like; ``extra_info``
holds ns per op and, for the busy variant, p50/p99 latency. For ratios
measured interleaved in one run, use ``python -m chanpy.bench``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class BenchOptions:
    scale: float
    rounds: int
    limit_s: float


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chanpy-bench")
    group.addoption("--bench-scale", type=float, default=0.25, help="op count multiplier")
    group.addoption("--bench-rounds", type=int, default=5, help="rounds per benchmark")
    group.addoption(
        "--bench-limit", type=float, default=60.0, help="skip implementations slower than this (s)"
    )


@pytest.fixture(scope="session")
def bench_options(request: pytest.FixtureRequest) -> BenchOptions:
    config = request.config
    return BenchOptions(
        scale=float(config.getoption("--bench-scale")),
        rounds=int(config.getoption("--bench-rounds")),
        limit_s=float(config.getoption("--bench-limit")),
    )
