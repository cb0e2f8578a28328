"""The documentation's examples run: every ```python block in docs/*.md and README.md.

Blocks of one page run in page order in one shared namespace, so a page may
build on names its earlier blocks defined (each page says so). Each page gets
a fresh interpreter with warnings turned into errors and a time limit; a
failing example's traceback names the page and the line of the page it is on.
Only fences opened with exactly ```python are run; ```sh, ```text, ```c and
the rest are prose. (The cookbook's programs are run by test_cookbook.py.)

The last tests build the site as CI does (``mkdocs build --strict``, where
the docs extra is installed) and check that the generated API references
have an entry for every name in ``chanpy.__all__`` and for every name of
the bot runtime's ``chanpy_patterns.__all__``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGE_TIMEOUT = 60  # seconds for all the examples of one page

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")

# Runs in the child: read (page, [(first line, code), ...]) from stdin and
# exec each block. Padding each block with newlines makes the traceback's
# line numbers those of the Markdown file. If an example hangs, faulthandler
# prints every thread's stack before the parent gives up on it.
_RUNNER = """
import faulthandler, json, sys
faulthandler.dump_traceback_later(float(sys.argv[1]), exit=True)
page, blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for first_line, code in blocks:
    exec(compile("\\n" * (first_line - 1) + code, page, "exec"), namespace)
faulthandler.cancel_dump_traceback_later()
"""


def python_blocks(markdown: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown text: (line of the block's first code line, code).

    A fence may be indented (inside a list item); its block is dedented by the
    fence's indentation. A block is closed by a fence of at least as many
    backticks and nothing else on the line. Raises ValueError for an
    unterminated fence.
    """
    blocks: list[tuple[int, str]] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        i += 1
        if opening is None:
            continue
        ticks = opening["ticks"]
        first = i
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if (
                closing is not None
                and closing["info"].strip() == ""
                and len(closing["ticks"]) >= len(ticks)
            ):
                break
            i += 1
        else:
            raise ValueError(f"line {first}: a ``` fence is never closed")
        if opening["info"].strip() == "python":
            code = textwrap.dedent("\n".join(lines[first:i])) + "\n"
            blocks.append((first + 1, code))
        i += 1  # past the closing fence
    return blocks


def _pages_with_examples() -> list[Path]:
    pages = [*sorted(DOCS.glob("*.md")), DOCS.parent / "README.md"]
    return [p for p in pages if python_blocks(p.read_text())]


def test_python_blocks_finds_only_python_fences_with_page_line_numbers() -> None:
    text = (
        "# Title\n"  # line 1
        "```python\n"
        "x = 1\n"  # line 3
        "```\n"
        "```sh\n"
        "pip install chanpy\n"
        "```\n"
        "* item\n"
        "\n"
        "  ```python\n"
        "  y = x + 1\n"  # line 11
        "  ```\n"
    )
    assert python_blocks(text) == [(3, "x = 1\n"), (11, "y = x + 1\n")]


def test_python_blocks_rejects_an_unclosed_fence() -> None:
    with pytest.raises(ValueError, match="never closed"):
        python_blocks("```python\nx = 1\n")


def test_the_user_pages_have_examples() -> None:
    pages = {p.name for p in _pages_with_examples()}
    assert {"index.md", "getting-started.md"} <= pages


@pytest.mark.timeout(PAGE_TIMEOUT + 30)
@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.name)
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    blocks = python_blocks(page.read_text())
    label = f"docs/{page.name}"
    try:
        proc = subprocess.run(
            [sys.executable, "-W", "error", "-c", _RUNNER, str(PAGE_TIMEOUT - 5)],
            input=json.dumps([label, blocks]),
            capture_output=True,
            text=True,
            timeout=PAGE_TIMEOUT,
            cwd=tmp_path,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{label}: the examples did not finish in {PAGE_TIMEOUT} s\n{exc.stderr!r}")
    if proc.returncode != 0:
        pytest.fail(
            f"{label}: an example failed (exit {proc.returncode})\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as CI builds it (``mkdocs build --strict``), once for the module."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path_factory.mktemp("docs") / "site"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
            capture_output=True,
            text=True,
            timeout=150,
            cwd=DOCS.parent,  # mkdocs.yml, and the snippets' base path
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mkdocs build did not finish in 150 s\n{exc.stderr!r}")
    assert proc.returncode == 0, f"mkdocs build --strict failed\n{proc.stderr}"
    return site


def _anchors(page: Path, package: str) -> set[str]:
    return set(re.findall(rf'id="({package}\.[\w.]+)"', page.read_text()))


@pytest.mark.timeout(180)
def test_the_site_builds_and_the_api_reference_documents_all_of_chanpy_all(site: Path) -> None:
    """Every name of ``chanpy.__all__`` has its entry in the built reference.

    The reference page is generated (``::: chanpy`` in docs/reference.md)
    from the sources by griffe's static analysis, which is what sees the
    typed stubs of the C objects; this checks that it renders them.
    """
    import chanpy

    page = site / "reference" / "index.html"
    anchors = _anchors(page, "chanpy")
    missing = {f"chanpy.{name}" for name in chanpy.__all__} - anchors
    assert not missing, f"docs/reference.md does not document {sorted(missing)}"
    for member in ("Chan.send", "Chan.recv", "Chan.send_nowait", "Chan.asend", "Chan.close"):
        assert f"chanpy.{member}" in anchors
    # The signatures come from the TYPE_CHECKING stubs, not from the C objects.
    text = re.sub(r"<[^>]+>", "", page.read_text())
    assert "timeout: float | None = None" in text
    assert "_ChanBase" not in text


@pytest.mark.timeout(180)
def test_the_bot_runtime_reference_documents_chanpy_patterns(site: Path) -> None:
    """docs/patterns-reference.md (``::: chanpy_patterns``) has an entry for each of
    its own exports; griffe finds the package, whose folder is ``patterns/``,
    by its installed name. (WouldBlock is chanpy's, documented with chanpy.)"""
    import chanpy
    import chanpy_patterns

    anchors = _anchors(site / "patterns-reference" / "index.html", "chanpy_patterns")
    own = set(chanpy_patterns.__all__) - set(chanpy.__all__)
    missing = {f"chanpy_patterns.{name}" for name in own} - anchors
    assert not missing, f"docs/patterns-reference.md does not document {sorted(missing)}"
    for member in ("Fleet.spawn", "Fleet.stats", "BotRef.ask", "BotRef.aask", "Bot.on_tick"):
        assert f"chanpy_patterns.{member}" in anchors
