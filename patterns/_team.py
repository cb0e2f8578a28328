"""Team: bots that restart together under one policy (OTP's one_for_all, rest_for_one)."""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING, Any, Final, Literal

from ._bot import BACKOFF, DONE, Bot, BotRef, Cell
from ._restart import Intensity, Restart

if TYPE_CHECKING:
    from ._fleet import Fleet
    from ._runner import Runner

Strategy = Literal["one_for_all", "rest_for_one"]
STRATEGIES: Final = ("one_for_all", "rest_for_one")


class Team:
    """Bots supervised together: when one crashes, its teammates restart with it.

    ``strategy="one_for_all"`` restarts every member; ``"rest_for_one"``
    restarts the crashed member and those spawned after it (the ones that
    depend on it, by convention). Restarts happen in spawn order, after one
    backoff, and count once against the team's ``restart`` policy; more
    crashes than it allows stop for good the members a restart would have
    restarted (the whole team for ``one_for_all``; the crashed member and
    those after it for ``rest_for_one``). Teammates being restarted do not
    run ``on_stop``; their mailboxes are kept. All members run on one
    runner, and a teammate inside an async handler is restarted only once
    that handler has returned, so a restart never overlaps a handler.

    Made by ``Fleet.team()``; ``team.spawn`` takes ``Fleet.spawn``'s
    arguments except ``restart``.
    """

    def __init__(self, fleet: Fleet, runner: Runner, strategy: Strategy, restart: Restart) -> None:
        self._fleet = fleet
        self._runner = runner
        self.strategy: Strategy = strategy
        self._intensity = Intensity(restart)
        self._members: list[Cell] = []

    def spawn(
        self,
        cls: type[Bot],
        /,
        *args: Any,
        name: str | None = None,
        tick: float | None = 0.1,
        mailbox: int = 64,
        priority: str = "normal",
        **kwargs: Any,
    ) -> BotRef:
        """Spawn a member on the team's runner; arguments and errors as ``Fleet.spawn``."""
        return self._fleet._spawn(cls, args, kwargs, name, tick, mailbox, None, priority, team=self)

    @property
    def refs(self) -> tuple[BotRef, ...]:
        """The members, in spawn order."""
        return tuple(c.ref for c in self._members)

    def _crashed(self, cell: Cell, exc: Exception) -> None:
        """A member crashed (on the team's runner): restart it and the affected teammates."""
        runner = self._runner
        start = 0 if self.strategy == "one_for_all" else self._members.index(cell)
        affected = [m for m in self._members[start:] if m.state != DONE]
        delay = self._intensity.crash(monotonic())
        if delay is None:
            for m in affected if self.strategy == "rest_for_one" else self._members:
                if m.state != DONE:
                    runner.fail(m, exc)
            return
        for m in affected:
            if m.state != BACKOFF or m is cell:
                runner.backoff(m, delay)
