"""Go's own channels as the ceiling: build and run bench/go/chanbench.go.

The Go program lives in the repository's ``bench/go/``; it is built on the
fly into a temporary directory when a ``go`` toolchain is on PATH. Anything
missing (no ``go``, no source tree, a failed build) makes Go "skipped" with
the reason, never an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GoBench", "find_source"]

SOURCE_NAME = "chanbench.go"


def find_source() -> Path | None:
    """bench/go/chanbench.go of the source tree chanpy runs from, if any."""
    here = Path(__file__).resolve()
    # chanpy/bench/gobench.py -> repository root two levels above chanpy/.
    candidate = here.parents[2] / "bench" / "go" / SOURCE_NAME
    return candidate if candidate.is_file() else None


@dataclass
class GoBench:
    """A built chanbench binary, or the reason there is none."""

    binary: Path | None = None
    version: str | None = None
    skipped: str | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, timeout: float = 300.0) -> GoBench:
        go = shutil.which("go")
        if go is None:
            return cls(skipped="go not on PATH")
        source = find_source()
        if source is None:
            return cls(
                skipped=f"bench/go/{SOURCE_NAME} not found (it ships in chanpy's source tree)"
            )
        try:
            version = subprocess.run(
                [go, "version"], capture_output=True, text=True, timeout=60, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            return cls(skipped=f"`go version` failed: {exc}")
        tmp = tempfile.TemporaryDirectory(prefix="chanpy-bench-go-")
        binary = Path(tmp.name) / "chanbench"
        env = dict(os.environ)
        if not any(env.get(name) for name in ("GOCACHE", "XDG_CACHE_HOME", "HOME")):
            # go build needs a build cache and finds none without HOME (a
            # bare CI or service environment): use a throwaway one.
            env["GOCACHE"] = str(Path(tmp.name) / "gocache")
        try:
            proc = subprocess.run(
                [go, "build", "-o", str(binary), SOURCE_NAME],
                cwd=source.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            tmp.cleanup()
            return cls(skipped=f"go build failed: {exc}")
        if proc.returncode != 0:
            tmp.cleanup()
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return cls(skipped=f"go build failed: {last}")
        return cls(binary=binary, version=version, _tmp=tmp)

    def run(self, scenario: str, ops: int, rounds: int, timeout: float = 600.0) -> list[float]:
        """ns/op of each round of ``scenario``; RuntimeError if the program fails."""
        if self.binary is None:
            raise RuntimeError(self.skipped or "Go benchmark not built")
        proc = subprocess.run(
            [str(self.binary), "-scenario", scenario, "-n", str(ops), "-rounds", str(rounds)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"chanbench {scenario} failed: {proc.stderr.strip()}")
        data = json.loads(proc.stdout)
        return [float(x) for x in data["ns_per_op"]]

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.binary = None
