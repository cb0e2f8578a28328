"""The bot runtime's exceptions."""

from __future__ import annotations

from chanpy import Closed


class BotStopped(Closed):
    """The bot is stopping or has stopped: it accepts no more messages.

    A subclass of chanpy's Closed, as a bot's mailbox is a channel that
    was closed.
    """


class BotFailed(Exception):
    """A bot crashed more often than its Restart policy allows and stopped for good.

    ``name`` is the bot's name, ``restarts`` how often it was restarted;
    the last crash is ``__cause__``.
    """

    def __init__(self, name: str, restarts: int, crashes: int, within: float) -> None:
        times = "once" if crashes == 1 else f"{crashes} times"
        after = f" within {within:g}s" if within else ""
        done = "" if restarts == 0 else f" after {restarts} restart{'s' if restarts != 1 else ''}"
        super().__init__(f"bot {name!r} crashed {times}{after}{done} and was stopped for good")
        self.name = name
        self.restarts = restarts
