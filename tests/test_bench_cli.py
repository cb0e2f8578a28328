"""``python -m chanpy.bench``: arguments, output, JSON schema and skips.

One tiny run (a few hundred messages, one round) feeds most checks. No
timing is asserted anywhere: only that the command runs end to end and
reports what it measured in the promised shapes.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chanpy.bench import cli
from chanpy.bench.scenarios import SCENARIOS

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Implementations made to look "not installed" in the tiny run.
HIDDEN = "culsans"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    data: dict[str, Any]
    plot: Path | None


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("bench")
    out_json = tmp / "result.json"
    out_png = tmp / "ratios.png"
    argv = [
        "--quick",
        "--scenario",
        "threads-1to1",
        "--scale",
        "0.002",
        "--rounds",
        "1",
        "--json",
        str(out_json),
    ]
    if HAVE_MATPLOTLIB:
        argv += ["--plot", str(out_png)]
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == HIDDEN else real_find_spec(name, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(importlib.util, "find_spec", find_spec)
        mp.setattr(shutil, "which", lambda *_args, **_kw: None)  # as if no `go` on PATH
        cap = _Capture()
        with cap:
            code = cli.main(argv)
    data = json.loads(out_json.read_text(encoding="utf-8"))
    return Run(code, cap.out, cap.err, data, out_png if HAVE_MATPLOTLIB else None)


class _Capture:
    """Capture sys.stdout/sys.stderr around an in-process run."""

    def __enter__(self) -> None:
        import io

        self._saved = (sys.stdout, sys.stderr)
        self._out, self._err = io.StringIO(), io.StringIO()
        sys.stdout, sys.stderr = self._out, self._err

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self._saved
        self.out, self.err = self._out.getvalue(), self._err.getvalue()


def _main_exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    return int(info.value.code or 0), capsys.readouterr().err


def test_list_names_every_scenario() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "chanpy.bench", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for s in SCENARIOS:
        assert s.name in proc.stdout
    assert "queue.Queue" in proc.stdout
    assert "ThreadPoolExecutor" in proc.stdout


def test_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main_exit(["--scenario", "no-such-thing"], capsys)
    assert code == 2
    assert "unknown scenario 'no-such-thing'" in err
    assert "threads-1to1" in err  # names the known ones


def test_unwritable_json_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, err = _main_exit(["--scenario", "pingpong", "--json", str(blocker / "out.json")], capsys)
    assert code == 2
    assert "--json" in err
    assert "cannot write" in err


def test_directory_as_json_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _main_exit(["--json", str(tmp_path)], capsys)
    assert code == 2
    assert "is a directory" in err


def test_bad_rounds_and_scale_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert _main_exit(["--rounds", "0"], capsys)[0] == 2
    code, err = _main_exit(["--scale", "-1"], capsys)
    assert code == 2
    assert "--scale" in err


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib not installed")
def test_unknown_plot_format_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _main_exit(["--plot", str(tmp_path / "chart.nope")], capsys)
    assert code == 2
    assert "image format" in err


def test_tiny_run_succeeds_and_reports_progress(tiny_run: Run) -> None:
    assert tiny_run.code == 0, tiny_run.err
    assert "threads-1to1" in tiny_run.err  # the progress says what runs
    assert "done" in tiny_run.err


def test_table_shows_ratios_and_skips(tiny_run: Run) -> None:
    out = tiny_run.out
    assert "chanpy/peer" in out
    assert "threads-1to1 + busy Python thread" in out
    assert "p50 / p99 latency" in out
    assert "queue.Queue" in out
    assert any(word in out for word in ("faster", "slower", "about the same"))
    assert f"skipped: {HIDDEN} not installed" in out
    assert "Go (ceiling)" in out
    assert "skipped: go not on PATH" in out
    assert "targets:" in out


def test_json_schema(tiny_run: Run) -> None:
    data = tiny_run.data
    assert data["schema"] == "chanpy-bench/1"
    env = data["environment"]
    assert {"date", "machine", "python", "versions", "commit"} <= set(env)
    assert env["machine"]["cpus"] >= 1
    assert env["python"]["version"]
    assert env["versions"]["chanpy"]
    assert data["settings"]["rounds"] == 1
    variants = {r["variant"] for r in data["results"]}
    assert variants == {"plain", "busy"}
    for result in data["results"]:
        assert result["scenario"] == "threads-1to1"
        assert result["unit"] == "message"
        impls = {i["name"]: i for i in result["implementations"]}
        chanpy = impls["chanpy"]
        assert chanpy["status"] == "ok"
        assert chanpy["ops_per_run"] > 0
        assert chanpy["ns_per_op"]["median"] > 0
        assert len(chanpy["ns_per_op"]["rounds"]) == 1
        assert impls[HIDDEN]["status"] == "skipped"
        assert impls[HIDDEN]["reason"] == f"{HIDDEN} not installed"
        if result["variant"] == "busy":
            assert chanpy["latency_ns"]["p50"] > 0
            assert chanpy["latency_ns"]["p99"] >= chanpy["latency_ns"]["p50"]
        else:
            assert impls["Go"]["status"] == "skipped"
        peers = {r["peer"]: r for r in result["ratios"]}
        assert "queue.Queue" in peers
        assert HIDDEN not in peers
        for ratio in peers.values():
            assert ratio["ratio"] > 0
            assert ratio["min"] <= ratio["ratio"] <= ratio["max"]
            assert ratio["chanpy_faster"] == (ratio["ratio"] < 1)
    for target in data["targets"]:
        assert target["scenario"] == "threads-1to1"
        assert target["met"] in (True, False, None)


def test_plot_is_a_png(tiny_run: Run) -> None:
    if tiny_run.plot is None:
        pytest.skip("matplotlib not installed")
    assert tiny_run.plot.read_bytes()[:8] == PNG_MAGIC


def _synthetic(fixed_ns: int, per_op_ns: int) -> Any:
    """A run that reports ``fixed_ns + n * per_op_ns`` without doing anything:
    the fixed part stands for starting and joining threads beside the busy
    thread, which costs the same whatever the op count."""
    from chanpy.bench.scenarios import Measurement

    def run(n: int, stamped: bool) -> Measurement:
        return Measurement(n, fixed_ns + n * per_op_ns, [per_op_ns] * n if stamped else None)

    return run


def test_busy_runs_are_sized_by_time_so_a_fixed_cost_does_not_skew_ratios() -> None:
    """Beside the busy thread each implementation's runs fill the same wall
    time whatever the scenario's op count, so a fixed per-run cost (15 ms
    here) is an equal small share of each and the ratio stays the true one
    (100 ns / 2000 ns = 0.05). Runs of the scenario's 10,000 ops would read
    (15 + 1) / (15 + 20) = 0.46."""
    from chanpy.bench.runner import Settings, run_scenario
    from chanpy.bench.scenarios import Impl, Scenario

    fixed = 15_000_000
    scenario = Scenario(
        name="synthetic",
        title="synthetic",
        description="a fixed cost per run plus a cost per op",
        unit="message",
        chanpy=Impl("chanpy", _synthetic(fixed, 100)),
        peers=(Impl("peer", _synthetic(fixed, 2000)),),
        messages=10_000,
        busy_messages=10_000,
    )
    settings = Settings(rounds=3, budget_s=0.04, busy_budget_s=0.3, latency_rounds=1)
    busy = run_scenario(scenario, "busy", settings)
    ratio = busy.ratio("peer")
    assert ratio is not None
    assert 0.04 <= ratio.median <= 0.06, ratio
    chanpy_ops = busy.impls[0].ops
    peer_ops = busy.impls[1].ops
    for ops, per_op in ((chanpy_ops, 100), (peer_ops, 2000)):
        run_s = (fixed + ops * per_op) / 1e9
        assert 0.25 <= run_s <= 0.4, (ops, run_s)  # about busy_budget_s, not 10,000 ops

    # Alone, the scenario's op count stays the ceiling.
    plain = run_scenario(scenario, "plain", settings)
    assert all(0 < r.ops <= 10_000 for r in plain.impls)
    assert chanpy_ops > 10_000
