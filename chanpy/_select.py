"""``select`` and its cases.

``recv``, ``send`` and ``select`` are C functions of ``fast`` (a poll costs
no cffi call); a select that must wait goes to the thread parker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from chanpy._errors import Closed, WouldBlock
from chanpy._ffi import fast
from chanpy._park import threads
from chanpy._scope import current_scope

if TYPE_CHECKING:
    from chanpy._channel import Chan

__all__ = ["Case", "Selected", "recv", "select", "send"]

T = TypeVar("T")


# A blocking send, recv or select that must wait calls the thread parker
# directly: (cases, timeout, api). Inside a Context scope (the contextvar
# is set) a blocking call goes there without polling first.
fast._setup(Closed, WouldBlock, threads.wait_select, current_scope)

if TYPE_CHECKING:

    class Case(Generic[T]):
        """One case of a select; built by ``recv(chan)`` or ``send(chan, value)``."""

        @property
        def chan(self) -> Chan[T] | None: ...
        @property
        def value(self) -> T | None: ...
        @property
        def is_send(self) -> bool: ...

    class Selected:
        """What ``select`` did: which case fired, what it received, and whether ``ok``."""

        @property
        def index(self) -> int: ...
        @property
        def value(self) -> Any: ...
        @property
        def ok(self) -> bool: ...

    def recv(chan: Chan[T] | None) -> Case[T]:
        """A case receiving from ``chan`` (``None``: never ready). TypeError otherwise."""

    def send(chan: Chan[T] | None, value: T) -> Case[T]:
        """A case sending ``value`` on ``chan`` (``None``: never ready). TypeError otherwise."""

    def select(*cases: Case[Any], timeout: float | None = None, block: bool = True) -> Selected:
        """Complete exactly one case, chosen uniformly among the ready ones.

        Blocks until one is ready unless ``block=False`` (WouldBlock) or
        ``timeout`` passes (TimeoutError; ``timeout=0`` polls). A send case on
        a closed channel raises Closed; a recv case on a closed, drained
        channel fires with ``ok=False``. TypeError / ValueError for bad
        arguments, raised before any channel is touched.
        """

else:
    Case = fast.Case
    Selected = fast.Selected
    recv = fast.recv
    send = fast.send
    select = fast.select
