"""Helpers for thread stress tests: a scale knob and a crew of threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

JOIN_SECONDS = 90.0


def stress_scale() -> float:
    """CHANPY_STRESS_SCALE (default 1): multiplies the work of stress tests."""
    raw = os.environ.get("CHANPY_STRESS_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"CHANPY_STRESS_SCALE must be a number, got {raw!r}") from None
    if not scale > 0:
        raise ValueError(f"CHANPY_STRESS_SCALE must be > 0, got {raw!r}")
    return scale


class Crew:
    """Start threads, collect their exceptions, join them with a deadline."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def start(self, target: Callable[[], None], name: str) -> threading.Thread:
        def run() -> None:
            try:
                target()
            except BaseException as exc:
                with self._lock:
                    self.errors.append(exc)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    def join(self, threads: Sequence[threading.Thread], what: str) -> None:
        """Join ``threads``; fail if any is still running or any thread failed."""
        for thread in threads:
            thread.join(JOIN_SECONDS)
        alive = [t.name for t in threads if t.is_alive()]
        assert not alive, f"{what} still running after {JOIN_SECONDS} s: {alive}"
        self.raise_errors()

    def raise_errors(self) -> None:
        if self.errors:
            raise AssertionError(f"{len(self.errors)} thread(s) failed") from self.errors[0]
