"""Bot (what users subclass), BotRef (how they reach one) and the fleet's record of a bot."""

from __future__ import annotations

import asyncio
import math
import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from threading import get_ident
from time import monotonic
from typing import TYPE_CHECKING, Any, Final

from chanpy import Chan, Closed, WouldBlock

from ._errors import BotStopped
from ._restart import Intensity

if TYPE_CHECKING:
    from ._fleet import Fleet
    from ._runner import Runner
    from ._team import Team

# A bot's life, as its runner sees it.
STARTING: Final = 0  # built, on_start not yet run
RUNNING: Final = 1
BACKOFF: Final = 2  # crashed, waiting for its restart
DONE: Final = 3  # stopped (on_stop ran) or failed for good: never runs again


class Bot:
    """A long-lived bot: state plus handlers that a Fleet runs.

    Subclass it and override what you need. The fleet sets ``self.ref``
    (this bot's BotRef) and ``self.fleet`` before ``on_start``. One bot's
    handlers never run at the same time, and its messages are handled in
    arrival order; in a fleet started with ``async with``, any handler may
    be an ``async def``. A handler that raises crashes the bot (see Restart).
    Handlers should not block: a blocking call holds up every bot on the
    same runner (use ``send_nowait``, or ``ask`` from outside the fleet).
    """

    # The fleet's two attributes in slots: a bot's own state stays in its __dict__.
    __slots__ = ("__dict__", "__weakref__", "fleet", "ref")
    ref: BotRef
    fleet: Fleet

    def on_start(self) -> Any:
        """Called once when the bot starts, and again after every restart."""

    def on_tick(self, now: float) -> Any:
        """Called every ``tick`` seconds on a fixed grid; ``now`` is the tick's due time
        (``time.monotonic()``), so ``time.monotonic() - now`` is its lag."""

    def on_message(self, msg: Any) -> Any:
        """Called for each message, in arrival order; the return value answers ``ask``."""

    def on_stop(self) -> Any:
        """Called once after a graceful stop, when every accepted message was handled."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that was accepted but not handled: who it was for, and why.

    ``reason`` is ``"crashed"`` (its handler raised ``error``), ``"failed"``
    (the bot stopped for good before handling it) or ``"cancelled"`` (its
    async handler was cancelled by the fleet's context).
    """

    bot: str
    message: object
    reason: str
    error: BaseException | None


class Ask:
    """A request in a mailbox: the message and where its answer goes (one slot)."""

    __slots__ = ("msg", "reply")

    def __init__(self, msg: object) -> None:
        self.msg = msg
        self.reply: Chan[tuple[bool, object]] = Chan(1)


class Cell:
    """The fleet's record of one bot; touched by its runner, and by senders only
    through the mailbox and ``queued``."""

    __slots__ = (
        "busy",
        "done_chan",
        "factory",
        "instance",
        "intensity",
        "mailbox",
        "name",
        "next_due",
        "owed",
        "period",
        "phase",
        "priority_high",
        "queued",
        "ref",
        "restart_due",
        "restarts",
        "rotation",
        "runner",
        "state",
        "stopping",
        "team",
        "tick_index",
    )

    def __init__(
        self,
        name: str,
        factory: Callable[[], Bot],
        instance: Bot,
        mailbox: int,
        period: float,
        phase: float,
        priority_high: bool,
        intensity: Intensity | None,
        runner: Runner,
        team: Team | None,
    ) -> None:
        self.name = name
        self.factory = factory
        self.instance: Bot | None = instance
        self.mailbox: Chan[object] = Chan(mailbox)
        self.period = period  # 0.0: no ticks
        self.phase = phase  # in [0, 1): where on the period's grid this bot ticks
        # Where this bot starts in the throttle's rotation: uncorrelated with its
        # phase, or the bots of one wheel slot would all skip, or all run, together.
        self.rotation = random.random()
        self.next_due = math.inf
        self.tick_index = 0  # grid points seen: drives the throttle's rotation
        self.priority_high = priority_high
        self.intensity = intensity
        self.runner = runner
        self.team = team
        self.state = STARTING
        self.stopping = False
        self.queued = False  # in its runner's ready queue (or about to be)
        self.busy = False  # an async handler of it is running
        self.owed = -1.0  # due time of a tick that fell due while busy (-1: none)
        # In backoff, its restart came while a handler of the old instance still
        # ran (a teammate's crash): the restart waits until that handler returns.
        self.restart_due = False
        self.restarts = 0
        self.done_chan: Chan[None] | None = None
        self.ref = BotRef(self)


class BotRef:
    """A handle on a bot: send it messages, ask it questions, stop it.

    Safe to use from any thread or task. Holding a BotRef does not keep a
    stopped bot alive.
    """

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    @property
    def name(self) -> str:
        """The bot's name (unique in its fleet)."""
        return self._cell.name

    @property
    def alive(self) -> bool:
        """True until the bot has stopped (gracefully, or for good after crashes)."""
        return self._cell.state != DONE

    @property
    def restarts(self) -> int:
        """How often the bot has been restarted after a crash."""
        return self._cell.restarts

    @property
    def done(self) -> Chan[None]:
        """A channel closed once the bot has stopped: ``recv(ref.done)`` in a select
        waits for it. Never blocks."""
        cell = self._cell
        ch = cell.done_chan
        if ch is None:
            with _done_chan_lock:  # two first readers must get the same channel
                ch = cell.done_chan
                if ch is None:
                    ch = cell.done_chan = Chan()
        if cell.state == DONE:  # the runner may have finished before the channel existed
            ch.close()
        return ch

    def __repr__(self) -> str:
        return f"<BotRef {self._cell.name!r} {'alive' if self.alive else 'stopped'}>"

    def _stopped(self) -> BotStopped:
        return BotStopped(f"bot {self._cell.name!r} is stopped and accepts no messages")

    def send(self, msg: object, timeout: float | None = None) -> None:
        """Put ``msg`` in the bot's mailbox; blocks while the mailbox is full.

        Raises BotStopped once the bot is stopping, TimeoutError if the
        mailbox stayed full for ``timeout`` seconds (the message was not
        accepted), chanpy's Cancelled inside a cancelled Context, and
        RuntimeError instead of deadlocking when called from a handler on
        the bot's own runner while the mailbox is full.
        """
        cell = self._cell
        try:
            if cell.runner.ident == get_ident():
                # From a handler on the bot's own runner: waiting would wait for ourselves.
                try:
                    cell.mailbox.send_nowait(msg)
                except WouldBlock:
                    raise RuntimeError(
                        f"send() to {cell.name!r} from a handler on its own runner would "
                        "deadlock while its mailbox is full; use send_nowait() and handle "
                        "WouldBlock (or, in an async handler, await asend())"
                    ) from None
            else:
                cell.mailbox.send(msg, timeout)
        except Closed:
            raise self._stopped() from None
        cell.runner.notify(cell)

    def send_nowait(self, msg: object) -> None:
        """Put ``msg`` in the bot's mailbox if there is room; never blocks.

        Raises chanpy's WouldBlock if the mailbox is full (nothing was
        accepted), BotStopped once the bot is stopping.
        """
        cell = self._cell
        try:
            cell.mailbox.send_nowait(msg)
        except Closed:
            raise self._stopped() from None
        cell.runner.notify(cell)

    async def asend(self, msg: object, timeout: float | None = None) -> None:
        """``send`` for a trio or asyncio task: waits (without blocking the loop)
        while the mailbox is full. Raises as ``send`` does."""
        cell = self._cell
        try:
            await cell.mailbox.asend(msg, timeout)
        except Closed:
            raise self._stopped() from None
        cell.runner.notify(cell)

    def ask(self, msg: object, timeout: float | None = None) -> Any:
        """Send ``msg`` and wait for the answer: what ``on_message`` returned.

        Blocks. Raises what ``on_message`` raised (the bot restarts as for
        any crash), TimeoutError if no answer came within ``timeout``
        seconds (the whole call: the message may still be handled later),
        BotStopped if the bot is stopping, BotFailed if it failed for good
        before answering, RuntimeError from a handler on the bot's own
        runner (it could never be answered). From a handler on another
        runner it works but holds up that runner's bots while it waits.
        """
        if self._cell.stopping:
            raise self._stopped()
        if _in_event_loop():
            raise RuntimeError(
                f"ask() to {self._cell.name!r} would block this thread's running event "
                "loop; use `await ref.aask(...)`"
            )
        if self._cell.runner.ident == get_ident():
            raise RuntimeError(
                f"ask() to {self._cell.name!r} from a handler on its own runner would "
                "deadlock: the runner cannot answer while it waits; send_nowait() a "
                "message that carries the asker's BotRef and reply to it by message"
            )
        request = Ask(msg)
        if timeout is None:
            self.send(request)
            ok, value = request.reply.recv()
        else:
            deadline = _deadline(timeout)
            self.send(request, timeout)
            ok, value = request.reply.recv(max(0.0, deadline - monotonic()))
        if ok:
            return value
        assert isinstance(value, BaseException)
        raise value

    async def aask(self, msg: object, timeout: float | None = None) -> Any:
        """``ask`` for a trio or asyncio task; raises as ``ask`` does."""
        request = Ask(msg)
        if timeout is None:
            await self.asend(request)
            ok, value = await request.reply.arecv()
        else:
            deadline = _deadline(timeout)
            await self.asend(request, timeout)
            ok, value = await request.reply.arecv(max(0.0, deadline - monotonic()))
        if ok:
            return value
        assert isinstance(value, BaseException)
        raise value

    def stop(self) -> None:
        """Stop the bot gracefully: it accepts no new messages, handles those already
        accepted, then runs ``on_stop``. Returns at once (wait on ``done``);
        idempotent; never blocks."""
        cell = self._cell
        cell.stopping = True
        cell.mailbox.close()
        cell.runner.notify(cell)


_done_chan_lock = threading.Lock()  # made on first use: most bots never need one


def _in_event_loop() -> bool:
    """True in a thread that runs an asyncio loop or a trio run right now."""
    if asyncio._get_running_loop() is not None:
        return True
    trio = sys.modules.get("trio")
    return trio is not None and trio.lowlevel.in_trio_run()


def _deadline(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout takes a number of seconds or None, got {type(timeout).__name__}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout={timeout!r} must be >= 0 (or None to wait without limit)")
    return monotonic() + timeout
