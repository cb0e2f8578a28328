"""chanpy: Go-style channels and select for threads, trio tasks and asyncio tasks.

>>> from chanpy import Chan, select, recv, send
>>> ch: Chan[int] = Chan(1)
>>> ch.send(42)
>>> ch.recv()
42
"""

from chanpy._async import aselect
from chanpy._channel import Chan
from chanpy._errors import Closed, WouldBlock
from chanpy._select import Case, Selected, recv, select, send
from chanpy._stats import ChanStatistics
from chanpy._timer import Ticker, after, tick
from chanpy._version import __version__

__all__ = [
    "Case",
    "Chan",
    "ChanStatistics",
    "Closed",
    "Selected",
    "Ticker",
    "WouldBlock",
    "__version__",
    "after",
    "aselect",
    "recv",
    "select",
    "send",
    "tick",
]
