"""``Context``: a cancellation tree shared by threads, trio tasks and asyncio tasks.

A context is cancelled once, by ``cancel()``, by its deadline or by its
parent, and then stays cancelled; its ``done`` channel is closed at that
moment, so ``recv(ctx.done)`` is a select case in every world. A *scope*
(``with ctx`` in a thread, ``async with ctx`` in a task) makes the context
the current one (a contextvar) and ties chanpy's waits to it:

- in a thread, the parkers read the contextvar: inside a scope a blocking
  call checks for cancellation before touching any channel and waits on
  ``done`` as one more case (see ``chanpy._park.threads``);
- in a task, the scope cancels the task natively (a trio cancel scope, or
  ``Task.cancel`` under asyncio) from whichever thread cancels the context,
  and turns that cancellation into ``Cancelled`` as it leaves the block.

No context active costs the channel operations one contextvar read.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable
from time import monotonic
from types import TracebackType

from chanpy._channel import Chan
from chanpy._errors import Cancelled
from chanpy._scope import Scope, current_scope
from chanpy._timer import _Entry, _timers

__all__ = ["Context", "current_context"]


def current_context() -> Context | None:
    """The context of the innermost active scope (``with ctx`` / ``async with ctx``), or None.

    Never blocks. Each thread and each task sees its own (a contextvar);
    a new thread starts with none.
    """
    scope = current_scope.get()
    return None if scope is None else scope.context


def _check_number(name: str, value: object) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"Context({name}=...) takes a number of seconds, got {value!r}")
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError(f"Context({name}=...) needs a number, got NaN")
    return seconds


class Context:
    """A node of a cancellation tree: cancelled by ``cancel()``, its deadline or its parent.

    ``Context()`` is a root; ``Context(parent)`` a child, cancelled (with the
    parent's cause) whenever the parent is. ``timeout=s`` sets the deadline
    ``s`` seconds from now, ``deadline=t`` at ``time.monotonic() == t``; when
    it passes, the context is cancelled with cause ``TimeoutError()``. A child
    keeps the earlier of its own and its parent's deadline. The deadline is
    one entry on chanpy's shared timer, not a thread.

    Raises TypeError for a parent that is not a Context or a non-numeric
    timeout/deadline, ValueError for both timeout and deadline or a NaN.
    Never blocks. Safe to share between any threads and tasks.

    As in Go, cancel a child you no longer need (a parent remembers its
    children until they are cancelled, or until it is).
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_cancelled",
        "_cause",
        "_children",
        "_deadline",
        "_done",
        "_lock",
        "_parent",
        "_timer",
    )
    _deadline: float | None

    def __init__(
        self,
        parent: Context | None = None,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> None:
        if parent is not None and not isinstance(parent, Context):
            raise TypeError(
                f"Context(parent) takes a Context or None, got {type(parent).__name__}; "
                "use chanpy.current_context() for the active one"
            )
        if timeout is not None and deadline is not None:
            raise ValueError("Context() takes timeout= or deadline=, not both")
        own: float | None = None
        if timeout is not None:
            own = monotonic() + _check_number("timeout", timeout)
        elif deadline is not None:
            own = _check_number("deadline", deadline)
        inherited = parent is not None and parent._deadline is not None
        if parent is not None and parent._deadline is not None:
            if own is None or parent._deadline <= own:
                own = parent._deadline  # the parent's timer cancels us
            else:
                inherited = False
        self._lock = threading.Lock()
        self._done: Chan[None] = Chan()
        self._cancelled = False
        self._cause: BaseException | None = None
        self._children: dict[int, Context] = {}
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._deadline = own
        self._parent = parent
        self._timer: _Entry | None = None
        if parent is not None and not parent._adopt(self):
            self.cancel(parent._cause)
            return
        if own is not None and not inherited:
            if own == math.inf:
                return
            if own <= monotonic():
                self.cancel(TimeoutError(f"the context's deadline passed ({own:.6f})"))
                return
            self._timer = _Entry.call_at(own, self._expire)
            _timers.add(self._timer)

    # -- the tree ---------------------------------------------------------

    def _adopt(self, child: Context) -> bool:
        """Register ``child``; False if this context is already cancelled."""
        with self._lock:
            if self._cancelled:
                return False
            self._children[id(child)] = child
            return True

    def _detach(self) -> None:
        """Leave the parent's list of children (a finished Group's context)."""
        if self._parent is not None:
            self._parent._forget(self)

    def _forget(self, child: Context) -> None:
        with self._lock:
            self._children.pop(id(child), None)

    def _expire(self) -> None:
        self.cancel(TimeoutError(f"the context's deadline passed ({self._deadline:.6f})"))

    def cancel(self, cause: BaseException | None = None) -> bool:
        """Cancel this context and every descendant; True if this call cancelled it.

        Idempotent: a later call changes nothing and returns False. ``cause``
        (an exception instance, or None) is what ``.cause`` and every
        resulting ``Cancelled`` carry. Never blocks; safe from any thread or
        task, and from a signal handler's thread. Raises TypeError if
        ``cause`` is not an exception.
        """
        if cause is not None and not isinstance(cause, BaseException):
            raise TypeError(f"cancel(cause) takes an exception instance or None, got {cause!r}")
        with self._lock:
            if self._cancelled:
                return False
            self._cancelled = True
            self._cause = cause
            children = list(self._children.values())
            callbacks = list(self._callbacks.values())
            self._children.clear()
            self._callbacks.clear()
        # Order: done first (selects see it), then the subtree, then the
        # scopes' native cancels. None of these may block or raise.
        self._done.close()
        if self._timer is not None:
            _timers.discard(self._timer)
        if self._parent is not None:
            self._parent._forget(self)
        for child in children:
            child.cancel(cause)
        for callback in callbacks:
            callback()
        return True

    def _on_cancel(self, key: int, callback: Callable[[], None]) -> bool:
        """Call ``callback`` (from the cancelling thread) once cancelled.

        False if already cancelled (the callback is not kept).
        """
        with self._lock:
            if self._cancelled:
                return False
            self._callbacks[key] = callback
            return True

    def _off_cancel(self, key: int) -> None:
        with self._lock:
            self._callbacks.pop(key, None)

    # -- state ------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once cancelled (by cancel(), the deadline or an ancestor)."""
        return self._cancelled

    @property
    def cause(self) -> BaseException | None:
        """What it was cancelled with (TimeoutError for a deadline); None if not cancelled."""
        return self._cause

    @property
    def deadline(self) -> float | None:
        """When it cancels itself, on ``time.monotonic()``; None for no deadline."""
        return self._deadline

    @property
    def parent(self) -> Context | None:
        """The parent context, or None for a root."""
        return self._parent

    @property
    def done(self) -> Chan[None]:
        """A channel closed once the context is cancelled (never sent on).

        ``recv(ctx.done)`` fires with ``ok=False`` then, in any select of
        any world; ``ctx.done.recv()`` raises Closed.
        """
        return self._done

    def remaining(self) -> float | None:
        """Seconds until the deadline (0.0 once past), or None without one."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - monotonic())

    def check(self) -> None:
        """Raise ``Cancelled`` if cancelled; else return at once (a cancellation point)."""
        if self._cancelled:
            raise Cancelled(self, self._cause)

    def __repr__(self) -> str:
        state = "cancelled" if self._cancelled else "active"
        extra = "" if self._deadline is None else f" deadline={self._deadline:.3f}"
        return f"<Context {state}{extra} at {id(self):#x}>"

    # -- scopes -----------------------------------------------------------

    def __enter__(self) -> Context:
        """Enter a thread scope: chanpy's blocking calls inside raise ``Cancelled``.

        Scopes nest (the innermost is current). Never blocks. Entering a
        cancelled context is allowed: the first blocking call raises.
        """
        scope = Scope(self)
        scope.token = current_scope.set(scope)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _leave(self)

    async def __aenter__(self) -> Context:
        """Enter a task scope under trio or asyncio; never waits.

        While inside, cancelling this context (from any thread or task)
        cancels the task natively; ``Cancelled`` is what leaves the block.
        Raises RuntimeError outside a trio or asyncio task.
        """
        from chanpy._task_scope import enter_task_scope

        enter_task_scope(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        scope = _leave(self)
        if scope.task is None:
            raise RuntimeError("`async with` left a Context scope entered by `with`")
        await scope.task.exit(exc)


def _leave(context: Context) -> Scope:
    """End the innermost scope, which must be ``context``'s."""
    scope = current_scope.get()
    if scope is None or scope.context is not context or scope.token is None:
        raise RuntimeError("a Context scope was left out of order (scopes must nest)")
    current_scope.reset(scope.token)
    return scope
