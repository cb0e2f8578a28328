"""The active Context scope of the calling thread or task: one contextvar.

Kept apart from ``chanpy._context`` so the parkers (and the C fast path,
which reads the contextvar itself) depend on nothing else.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from chanpy._ffi import fast

if TYPE_CHECKING:
    from chanpy._context import Context

_scopes_used = fast._scopes_used

__all__ = ["Scope", "current_scope"]


class Scope:
    """What the contextvar holds while a scope is active.

    ``task`` is None for a thread scope; for ``async with ctx`` it is the
    task scope (``chanpy._task_scope``), whose ``deliver()`` cancels the task
    natively at once, from the task itself. ``token`` resets the contextvar
    when the scope ends.
    """

    __slots__ = ("context", "done", "task", "token")

    def __init__(self, context: Context, task: Any = None) -> None:
        _scopes_used()  # from now on the C fast path reads current_scope
        self.context = context
        self.done = context.done  # read by the C fast path: closed = cancelled
        self.task = task
        self.token: Token[Scope | None] | None = None


current_scope: ContextVar[Scope | None] = ContextVar("chanpy_scope", default=None)
