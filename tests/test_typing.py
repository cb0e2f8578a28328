"""The public API is typed precisely: mypy --strict accepts good use, refuses misuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

pytestmark = pytest.mark.timeout(300)

GOOD = """
import asyncio
from chanpy import Chan, ChanStatistics, Selected, Ticker, after, aselect, recv, select, send, tick

ints: Chan[int] = Chan(4)
ints.send(1, timeout=0.5)
n: int = ints.recv()
m: int = ints.recv_nowait()
first: bool = ints.close()
stats: ChanStatistics = ints.statistics()
size: int = len(ints) + ints.capacity
r: Selected = select(recv(ints), send(ints, 2), recv(None), timeout=1, block=False)
idx: int = r.index
stamp: float = after(0.1).recv()
ticker: Ticker = tick(0.1)
ticker.stop()
for v in ints:
    total: int = v

async def task() -> int:
    await ints.asend(3)
    got: int = await ints.arecv(timeout=1)
    async for w in ints:
        got += w
    sel: Selected = await aselect(recv(ints), timeout=0)
    return got + sel.index
"""

BAD = """
from chanpy import Chan, recv, select

a: Chan[int] = Chan[str]()
b: int = Chan[str]()
c: Chan[int] = Chan(3)
c.send("x")
s: str = c.recv()
c.no_such_method()
select(recv(c), timeout="soon")
"""


def check(tmp_path: Path, source: str) -> list[str]:
    path = tmp_path / "snippet.py"
    path.write_text(source)
    out, _err, _status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "c"), str(path)]
    )
    return [line for line in out.splitlines() if ": error:" in line]


def test_good_use_type_checks(tmp_path: Path) -> None:
    assert check(tmp_path, GOOD) == []


def test_misuse_is_refused(tmp_path: Path) -> None:
    errors = check(tmp_path, BAD)
    lines = sorted({int(e.split(":")[1]) for e in errors})
    # One error per bad line (4..10), none elsewhere.
    assert lines == [4, 5, 7, 8, 9, 10], errors
