"""The fleet benchmark's subprocess path: ``--one`` prints one run as JSON.

Tiny runs (200 bots for half a second) of the hand-written pool and of the
Fleet; nothing about speed is asserted, only the shape of what a run reports
and that no accepted message went missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from chanpy.bench import cli
from chanpy_patterns.bench_fleet import run_one
from chanpy_patterns.bench_peers import FleetRun

N = 200
SECONDS = 0.5
WARMUP = 0.2
TIMEOUT_S = 30.0


def _one(impl: str) -> dict[str, object]:
    """Run ``--one impl`` in a subprocess and parse the JSON line it prints."""
    cmd = [sys.executable, "-m", "chanpy_patterns.bench_fleet", "--one", impl, str(N)]
    cmd += [str(SECONDS), "--warmup", str(WARMUP)]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, proc.stdout + proc.stderr
    data = json.loads(lines[-1])
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("impl", ["pool", "chanpy"])
def test_one_run_reports_every_field_and_loses_nothing(impl: str) -> None:
    """A tiny --one run reports every FleetRun field, and nothing accepted is lost."""
    data = _one(impl)
    assert data["status"] == "ok", data.get("error")
    run = data["run"]
    assert isinstance(run, dict)
    assert {f.name for f in fields(FleetRun)} | {"ticks_pct"} <= set(run)
    assert run["impl"] == impl
    assert run["n"] == N
    assert run["lost"] == 0
    assert run["duplicated"] == 0
    assert run["sent"] == run["handled"] > 0
    assert run["ticks"] > 0
    assert run["tick_lag_p99_ms"] is not None


def test_run_one_parses_the_subprocess_output() -> None:
    """run_one turns the subprocess's JSON line into an Outcome with a FleetRun."""
    o = run_one("pool", N, SECONDS, WARMUP, TIMEOUT_S)
    assert o.status == "ok", o.error
    assert o.run is not None
    assert o.run.lost == 0


def test_chanpy_bench_dispatches_the_fleet_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """chanpy-bench --scenario fleet hands the other arguments to the fleet benchmark."""
    assert cli.main(["--scenario", "fleet", "--list"]) == 0
    out = capsys.readouterr().out
    for impl in ("chanpy", "asyncio", "trio", "threads", "pykka", "pool"):
        assert impl in out


def test_grid_with_json(tmp_path: Path) -> None:
    """A one-run grid through chanpy-bench writes the JSON report."""
    out = tmp_path / "fleet.json"
    argv = ["--n", str(N), "--impl", "pool", "--seconds", str(SECONDS)]
    argv += ["--warmup", str(WARMUP), "--json", str(out), "--plain", "--no-progress"]
    assert cli.main(["--scenario=fleet", *argv]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "chanpy-bench-fleet/1"
    assert [r["status"] for r in doc["runs"]] == ["ok"]
    assert doc["largest_n"] == {"pool": N}
