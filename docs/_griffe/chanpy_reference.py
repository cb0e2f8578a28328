"""A griffe extension for the API reference page (docs/reference.md).

It tidies what mkdocstrings renders from chanpy's sources:

* ``Chan`` derives from a private alias (``_ChanBase``: the C core at run
  time, ``object`` for type checkers), an implementation detail; only the
  public bases of a class are listed.
* Special members without a docstring (``__len__``, ``__enter__``,
  ``__repr__``, ``__slots__``...) say nothing their class's docstring does
  not; those with one (``__next__``, ``__anext__``) stay, and so does
  ``__init__``, whose signature is shown as the class's.
* A doctest session (``>>>`` lines) in a docstring is shown as a ``pycon``
  code block rather than as nested Markdown quotes.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe


def _special(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name != "__init__"


def fence_doctests(text: str) -> str:
    """Wrap each doctest session of a docstring (up to a blank line) in a pycon fence.

    Code already inside a ``` or ~~~ fence is left alone.
    """
    out: list[str] = []
    in_fence = False
    in_session = False
    session_indent = ""
    for line in text.split("\n"):
        stripped = line.lstrip()
        if in_session and not stripped:
            out.append(session_indent + "```")
            in_session = False
        elif not in_session and not in_fence and stripped.startswith(">>>"):
            session_indent = line[: len(line) - len(stripped)]
            out.append(session_indent + "```pycon")
            in_session = True
        elif not in_session and stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        out.append(line)
    if in_session:
        out.append(session_indent + "```")
    return "\n".join(out)


class ChanpyReference(griffe.Extension):
    """Hide private bases and undocumented special members; fence doctests."""

    def on_class_members(
        self, *, node: ast.AST | griffe.ObjectNode, cls: griffe.Class, **kwargs: Any
    ) -> None:
        cls.bases = [base for base in cls.bases if not str(base).startswith("_")]
        for name, member in list(cls.members.items()):
            if _special(name) and not member.is_alias and not member.docstring:
                del cls.members[name]

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        # Every object below the package; the package itself: on_package.
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self.on_object(obj=pkg)
