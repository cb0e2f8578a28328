"""chanpy: Go-style channels and select for threads, trio tasks and asyncio tasks.

>>> from chanpy import Chan, select, recv, send
>>> ch: Chan[int] = Chan(1)
>>> ch.send(42)
>>> ch.recv()
42
"""

from chanpy._async import aselect
from chanpy._channel import Chan
from chanpy._context import Context, current_context
from chanpy._errors import Cancelled, Closed, WouldBlock
from chanpy._group import Group
from chanpy._select import Case, Selected, recv, select, send
from chanpy._stages import Broadcast
from chanpy._stats import ChanStatistics
from chanpy._timer import Ticker, after, tick
from chanpy._version import __version__

__all__ = [
    "Broadcast",
    "Cancelled",
    "Case",
    "Chan",
    "ChanStatistics",
    "Closed",
    "Context",
    "Group",
    "Selected",
    "Ticker",
    "WouldBlock",
    "__version__",
    "after",
    "aselect",
    "current_context",
    "recv",
    "select",
    "send",
    "tick",
]
