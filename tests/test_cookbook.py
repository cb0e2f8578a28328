"""The cookbook's recipes run, print what their pages show, and are all on the site.

Every ``docs/cookbook/NN_name.py`` is a whole program. Each one runs in a
fresh interpreter, with warnings turned into errors and a time limit, and
must exit 0 having printed exactly ``NN_name.out``, the output its page
shows. Its page ``NN_name.md`` includes both files (pymdownx.snippets), so
neither the program nor the output on the site can drift from what runs
here; the page must also be in the Cookbook section of mkdocs.yml's nav
and listed on ``docs/cookbook/index.md``, so a recipe cannot be added
without its page.

Pages include files with the block form of a snippet (a ``--8<--`` line,
the path, a ``--8<--`` line): ruff formats the Python fences of Markdown
files, and would rewrite the one-line form ``--8<-- "path"``, which
parses as Python.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COOKBOOK = ROOT / "docs" / "cookbook"
# A hang guard, not a speed test: each recipe is written to finish in well
# under 5 s; this leaves room for a loaded CI machine.
RECIPE_TIMEOUT = 30
RECIPES = sorted(COOKBOOK.glob("*.py"))
# What a recipe may import from: the packages themselves, not their modules.
PUBLIC_PACKAGES = ("chanpy", "chanpy_patterns")
_RECIPE_NAME = re.compile(r"\d\d_[a-z0-9]+(_[a-z0-9]+)*")
_SNIPPET_BLOCK = re.compile(r"^--8<--\n(.*?)\n--8<--$", re.MULTILINE | re.DOTALL)


def _ids(path: Path) -> str:
    return path.stem


def _included_files(page: str) -> list[str]:
    """The files a page includes with block-form snippets, as written (under docs/)."""
    return [
        line.strip()
        for block in _SNIPPET_BLOCK.findall(page)
        for line in block.splitlines()
        if line.strip()
    ]


def _nav_pages() -> set[str]:
    """The pages named in mkdocs.yml's ``nav:`` section (paths under docs/)."""
    pages: set[str] = set()
    in_nav = False
    for line in (ROOT / "mkdocs.yml").read_text().splitlines():
        if re.match(r"\S", line):  # a top-level key starts or ends the section
            in_nav = line.startswith("nav:")
            continue
        if in_nav:
            pages.update(re.findall(r"(\S+\.md)\s*$", line))
    return pages


def test_every_chapter_of_the_cookbook_is_there() -> None:
    """The Go-by-Example order the cookbook promises: core, Layer 2, then the bot fleet."""
    names = {p.stem for p in RECIPES}
    assert {
        "01_channels",
        "02_buffering",
        "03_closing_and_range",
        "04_select",
        "05_timeouts",
        "06_non_blocking",
        "07_timers_and_tickers",
        "08_worker_pools",
        "09_errgroup",
        "10_pipelines",
        "11_fan_in",
        "12_fan_out",
        "13_broadcast",
        "14_rate_limiting",
        "15_graceful_shutdown",
        "16_context_cancellation",
        "17_threads_and_trio",
        "18_threads_and_asyncio",
        "19_first_fleet",
        "20_request_response",
        "21_supervision",
        "22_backpressure",
        "23_throttling",
        "24_async_bots",
        "25_shutting_down",
    } <= names


def test_included_files_reads_snippet_blocks() -> None:
    page = 'Text\n```python\n--8<--\ncookbook/a.py\n--8<--\n```\n--8<-- "b.md"\n'
    assert _included_files(page) == ["cookbook/a.py"]


def test_nav_pages_reads_the_nav_section_only() -> None:
    pages = _nav_pages()
    assert {"index.md", "cookbook/index.md", "cookbook/01_channels.md"} <= pages
    assert all(not page.startswith("/") for page in pages)


@pytest.mark.timeout(RECIPE_TIMEOUT + 30)
@pytest.mark.parametrize("recipe", RECIPES, ids=_ids)
def test_recipe_prints_its_recorded_output(recipe: Path, tmp_path: Path) -> None:
    expected = recipe.with_suffix(".out").read_text()
    label = f"docs/cookbook/{recipe.name}"
    try:
        proc = subprocess.run(
            [sys.executable, "-W", "error", str(recipe)],
            capture_output=True,
            text=True,
            timeout=RECIPE_TIMEOUT,
            cwd=tmp_path,  # a recipe needs nothing from the working directory
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{label} did not finish in {RECIPE_TIMEOUT} s\n"
            f"--- stdout\n{exc.stdout!r}\n--- stderr\n{exc.stderr!r}"
        )
    if proc.returncode != 0:
        pytest.fail(
            f"{label} failed (exit {proc.returncode})\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    assert proc.stdout == expected, f"{label}: the output differs from {recipe.stem}.out"
    assert proc.stderr == ""


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids)
def test_recipe_is_a_documented_public_api_program(recipe: Path) -> None:
    assert _RECIPE_NAME.fullmatch(recipe.stem), f"{recipe.name}: name it NN_words.py"
    source = recipe.read_text()
    tree = ast.parse(source)
    assert ast.get_docstring(tree), f"{recipe.name}: say what the recipe shows, and why"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module in PUBLIC_PACKAGES or not node.module.startswith("chanpy"), (
                f"{recipe.name}: import from {' or '.join(PUBLIC_PACKAGES)} itself "
                f"(the public API), not from {node.module}"
            )
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith(("chanpy.", "chanpy_patterns.")), (
                    f"{recipe.name}: {alias.name}"
                )
    assert 'if __name__ == "__main__":' in source, f"{recipe.name}: a whole program"
    output = recipe.with_suffix(".out")
    assert output.is_file(), f"{recipe.name}: record its output in {output.name}"
    assert output.read_text().endswith("\n")


@pytest.mark.parametrize("recipe", RECIPES, ids=_ids)
def test_recipe_has_its_page_in_the_nav_and_the_index(recipe: Path) -> None:
    page = recipe.with_suffix(".md")
    assert page.is_file(), f"{recipe.name} has no page {page.name}"
    included = _included_files(page.read_text())
    for name in (recipe.name, recipe.with_suffix(".out").name):
        assert included.count(f"cookbook/{name}") == 1, (
            f"{page.name} must include {name} once, with a snippet block:\n"
            f"--8<--\ncookbook/{name}\n--8<--"
        )
    assert f"cookbook/{page.name}" in _nav_pages(), f"mkdocs.yml's nav lacks cookbook/{page.name}"
    assert f"]({page.name})" in (COOKBOOK / "index.md").read_text(), (
        f"docs/cookbook/index.md does not link to {page.name}"
    )


def test_every_cookbook_page_has_its_program() -> None:
    for page in COOKBOOK.glob("*.md"):
        if page.name != "index.md":
            assert page.with_suffix(".py").is_file(), f"{page.name} has no program"
    for out in COOKBOOK.glob("*.out"):
        assert out.with_suffix(".py").is_file(), f"{out.name} has no program"
    assert "cookbook/index.md" in _nav_pages()
