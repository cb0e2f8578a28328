"""``python -m chanpy_patterns demo``: it runs in every world, reports, plots, and
rejects bad arguments.

Each world runs once, in a subprocess without a terminal (so it prints
lines, not the dashboard), with a few hundred bots for two seconds. No
timing is asserted beyond plausibility (the machine may be loaded): ticks
happen, never faster than the bots' period allows, every bot is alive at the
end, and the demo's own count of crashes explains the fleet's restarts.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chanpy_patterns import __main__ as cli
from chanpy_patterns import demo

BOTS = 300
SECONDS = 2
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
_LINE = re.compile(
    r"^t=(?P<t>\d+)s bots=(?P<bots>\d+) ticks/s=(?P<ticks>\d+) msgs/s=(?P<msgs>\d+) "
)
_PAIR = re.compile(r"(\S+)=(\S+)")


def _fields(line: str) -> dict[str, str]:
    """The ``key=value`` pairs of a line (the lag's are ``p50``, ``p99``, ``max``)."""
    return dict(_PAIR.findall(line))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("world", demo.WORLDS)
def test_demo_runs_and_reports(world: str, tmp_path: Path) -> None:
    plot = tmp_path / "demo.png"
    argv = [sys.executable, "-m", "chanpy_patterns", "demo", "--world", world]
    argv += ["--bots", str(BOTS), "--seconds", str(SECONDS), "--crash-rate", "0.001"]
    want_plot = world == "threads" and HAVE_MATPLOTLIB  # one plot is enough
    if want_plot:
        argv += ["--plot", str(plot)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()

    assert lines[0].startswith(f"demo: world={world} bots={BOTS} ")
    per_second = [m for line in lines if (m := _LINE.match(line))]
    seconds = [int(m["t"]) for m in per_second]
    # A second may be skipped on a loaded machine, but they come in order, up to the end.
    assert seconds == sorted(set(seconds)), done.stdout
    assert seconds[0] >= 1, done.stdout
    assert seconds[-1] >= SECONDS, done.stdout
    full_rate = BOTS / demo.TICK
    for m in per_second:
        assert int(m["bots"]) == BOTS, m.string
        assert 0 < int(m["ticks"]) < 1.5 * full_rate, m.string

    summaries = [line for line in lines if line.startswith("summary: ")]
    assert len(summaries) == 1, done.stdout
    s = _fields(summaries[0])
    assert s["world"] == world
    assert int(s["bots"]) == int(s["spawned"]) == BOTS
    assert 0 < int(s["ticks"]) < 1.5 * full_rate * SECONDS
    assert int(s["msgs"]) > 0
    assert int(s["asks"]) >= 0
    assert s["failed"] == "0"
    # Every restart was a crash the demo made (some crashes may still be in backoff).
    assert int(s["restarts"]) <= int(s["crashes"])
    assert float(s["p99"].removesuffix("ms")) >= 0.0
    assert s["mem/bot"].endswith("KB")

    if want_plot:
        assert plot.read_bytes().startswith(PNG_MAGIC)
        assert f"demo: plot saved to {plot}" in lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bots", "0"], "--bots: must be at least 1"),
        (["--bots", "many"], "--bots: takes a whole number"),
        (["--seconds", "-1"], "--seconds: must be finite and > 0"),
        (["--seconds", "inf"], "--seconds: must be finite and > 0"),
        (["--crash-rate", "1.5"], "--crash-rate: must be a probability"),
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--world", "go"], "--world: invalid choice"),
        (["--plot", "out.svg"], "--plot: must name a .png file"),
        (["--plot", "no/such/dir/out.png"], "does not exist"),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", *args]) == 2
    assert message in capsys.readouterr().err


def test_commands(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    assert cli.main(["frob"]) == 2
    assert "unknown command 'frob'" in capsys.readouterr().err
    assert cli.main(["demo", "--help"]) == 0
    assert "--crash-rate" in capsys.readouterr().out
    # A command whose module is not installed is reported, not a traceback.
    commands = {**cli.COMMANDS, "bench": ("chanpy_patterns.no_such_module", "main", "-")}
    monkeypatch.setattr(cli, "COMMANDS", commands)
    assert cli.main(["bench"]) == 2
    assert "'bench' command is not available" in capsys.readouterr().err


def test_sparkline() -> None:
    assert demo.sparkline([]) == ""
    assert demo.sparkline([1.0, 1.0]) == "▁▁"
    assert demo.sparkline([0.0, 0.5, 1.0]) == "▁▅█"
