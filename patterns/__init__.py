"""chanpy_patterns: thousands of supervised, backpressured bots on a few runners.

Built only from chanpy's public API (channels, select, Context, Group).

>>> from chanpy_patterns import Bot, Fleet
>>> class Echo(Bot):
...     def on_message(self, msg: object) -> object:
...         return msg
>>> with Fleet(workers=1) as fleet:
...     fleet.spawn(Echo, name="echo").ask("hi", timeout=5)
'hi'
"""

from chanpy import WouldBlock

from ._bot import Bot, BotRef, DeadLetter
from ._errors import BotFailed, BotStopped
from ._fleet import Fleet
from ._restart import Restart
from ._stats import FleetStats
from ._team import Team

__all__ = [
    "Bot",
    "BotFailed",
    "BotRef",
    "BotStopped",
    "DeadLetter",
    "Fleet",
    "FleetStats",
    "Restart",
    "Team",
    "WouldBlock",
]
