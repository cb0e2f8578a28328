"""A griffe extension for the API reference page (docs/reference.md).

Two pieces of noise are left out of the generated reference:

* ``Chan`` derives from a private alias (``_ChanBase``: the C core at run
  time, ``object`` for type checkers), an implementation detail; only the
  public bases of a class are listed.
* Special methods without a docstring (``__len__``, ``__enter__``,
  ``__repr__``...) say nothing their class's docstring does not; those
  with one (``__next__``, ``__anext__``) stay, and so does ``__init__``,
  whose signature is shown as the class's.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe


def _special(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name != "__init__"


class ChanpyReference(griffe.Extension):
    """Hide private base classes and undocumented special methods."""

    def on_class_members(
        self, *, node: ast.AST | griffe.ObjectNode, cls: griffe.Class, **kwargs: Any
    ) -> None:
        cls.bases = [base for base in cls.bases if not str(base).startswith("_")]
        for name, member in list(cls.members.items()):
            if _special(name) and isinstance(member, griffe.Function) and not member.docstring:
                del cls.members[name]
