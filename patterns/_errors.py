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
        super().__init__(
            f"bot {name!r} crashed {crashes} times within {within:g}s after "
            f"{restarts} restarts and was stopped for good"
        )
        self.name = name
        self.restarts = restarts
