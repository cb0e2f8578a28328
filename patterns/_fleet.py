"""Fleet: any number of bots scheduled on a few runners, threads or tasks."""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from itertools import count
from time import monotonic
from types import TracebackType
from typing import Any, Final

import sniffio

from chanpy import Chan, Closed, Group, WouldBlock

from ._bot import DONE, Bot, BotRef, Cell, DeadLetter
from ._errors import BotFailed
from ._restart import Intensity, Restart
from ._runner import LAG_WINDOW, Runner
from ._stats import FleetStats, percentile
from ._team import STRATEGIES, Strategy, Team

PHI: Final = 0.6180339887498949
_DEFAULT_RESTART: Final = Restart()
_HANDLERS: Final = ("on_start", "on_tick", "on_message", "on_stop")


def _positive(api: str, name: str, value: object, *, integer: bool = False) -> float:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an int" if integer else "a number"
        raise TypeError(f"{api}: {name}= takes {what}, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or v <= 0 or math.isinf(v):
        raise ValueError(f"{api}: {name}={value!r} must be finite and > 0")
    return v


class Fleet:
    """Runs bots on ``workers`` runners: threads under ``with``, tasks under ``async with``.

    ``tick_budget`` (seconds, optional) turns on throttling: once the recent
    tick lag of a runner exceeds half the budget, it skips the share of its
    normal-priority bots' ticks (at most ``1 - throttle_floor``) that keeps
    the fleet working ~75% of the time, and gives them back as the load
    falls; high-priority bots are never throttled. ``dead_letters``
    bounds the dead-letter channel (older letters are dropped and counted
    once it is full). ``stall_after`` is how long one handler may run before
    the watchdog reports its runner stalled (a warning on the
    ``chanpy_patterns`` logger naming the bot, and ``stats().stalls``).

    The exit stops every bot gracefully (each handles what it accepted, then
    ``on_stop``), waits for the runners and raises an ExceptionGroup of
    BotFailed for the bots that crashed too often, and of errors raised by
    ``on_stop``. Inside a cancelled chanpy Context the fleet stops the same
    way. Raises TypeError or ValueError for bad arguments, before anything
    starts. The exit blocks (``__aexit__`` waits without blocking the loop).
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        tick_budget: float | None = None,
        throttle_floor: float = 0.1,
        dead_letters: int = 1024,
        stall_after: float = 1.0,
    ) -> None:
        self.workers = int(_positive("Fleet()", "workers", workers, integer=True))
        self.tick_budget = (
            None if tick_budget is None else _positive("Fleet()", "tick_budget", tick_budget)
        )
        if isinstance(throttle_floor, bool) or not isinstance(throttle_floor, int | float):
            raise TypeError("Fleet(): throttle_floor= takes a number between 0 and 1")
        if not 0.0 <= throttle_floor <= 1.0:
            raise ValueError(
                f"Fleet(): throttle_floor={throttle_floor!r} must be between 0 and 1 "
                "(the least share of ticks a throttled bot keeps)"
            )
        self.throttle_floor = float(throttle_floor)
        self._dead_capacity = int(_positive("Fleet()", "dead_letters", dead_letters, integer=True))
        self.stall_after = _positive("Fleet()", "stall_after", stall_after)
        self.dead_letters: Chan[DeadLetter] = Chan(self._dead_capacity)
        self._origin = monotonic()
        self._closing = False
        self._started = False
        self._group: Group | None = None
        self._world: str | None = None
        self._runners: list[Runner] = []
        self._cells: dict[str, Cell] = {}
        self._lock = threading.Lock()  # rare events: spawn, finish, failures, dead letters
        self._seq = count()
        self._spawned = 0
        self._failures: list[BaseException] = []
        self._failed = 0
        self._dead = 0
        self._dead_dropped = 0
        self._stalls = 0
        self._watch_stop: Chan[None] = Chan()
        self._next_runner = 0
        self._checkpoint: Callable[[], Awaitable[object]] = _no_checkpoint

    # -- lifetime ------------------------------------------------------------

    def _open(self, world: str | None) -> None:
        if self._started:
            raise RuntimeError("a Fleet can be entered only once; make a new one")
        self._started = True
        self._world = world
        self._origin = monotonic()
        self._runners = [Runner(self, i, world is not None) for i in range(self.workers)]

    def __enter__(self) -> Fleet:
        self._open(None)
        group = self._group = Group()
        group.__enter__()
        try:
            for r in self._runners:
                group.go(r.run)
            group.go(self._watchdog)
        except BaseException:
            self.stop()
            group.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.stop()
        assert self._group is not None
        try:
            suppressed = self._group.__exit__(exc_type, exc, tb)
        except BaseException as group_exc:
            self._raise_failures(group_exc)
            raise
        self._raise_failures(exc)
        return bool(suppressed)

    async def __aenter__(self) -> Fleet:
        world = sniffio.current_async_library()
        if world not in ("trio", "asyncio"):
            raise RuntimeError(f"async with Fleet() runs under trio or asyncio, not {world}")
        self._open(world)
        if world == "trio":
            import trio

            self._checkpoint = trio.lowlevel.checkpoint
        else:
            import asyncio

            self._checkpoint = partial(asyncio.sleep, 0)
        group = self._group = Group()
        await group.__aenter__()
        try:
            for r in self._runners:
                group.go(r.arun)
            group.go(self._watchdog)  # a thread: it must see a loop that is stuck
        except BaseException:
            self.stop()
            await group.__aexit__(*sys.exc_info())
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.stop()
        assert self._group is not None
        try:
            suppressed = await self._group.__aexit__(exc_type, exc, tb)
        except BaseException as group_exc:
            self._raise_failures(group_exc)
            raise
        self._raise_failures(exc)
        return bool(suppressed)

    async def checkpoint(self) -> None:
        """Let the loop run other tasks (async fleets only): the world's own checkpoint."""
        await self._checkpoint()

    def stop(self) -> None:
        """Stop the fleet gracefully: it spawns no more bots, and every bot stops as
        with ``ref.stop()`` (it handles what it accepted, then ``on_stop``).
        Returns at once, idempotent; the fleet's exit waits for the end."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            cells = list(self._cells.values())
        for cell in cells:
            cell.ref.stop()
        self._watch_stop.close()
        for r in self._runners:
            try:
                r.wake.send_nowait(None)
            except (WouldBlock, Closed):
                pass

    def _raise_failures(self, cause: BaseException | None) -> None:
        """Raise the ExceptionGroup of failed bots (and on_stop errors), if any,
        chained to what ended the block (a cancellation, say) as its cause.

        The failures win over a cancellation: they are what the user must
        see. Under trio the cancel scope stays cancelled (its next checkpoint
        raises again); under asyncio the task's ``cancelling()`` count stays
        raised for ``asyncio.timeout`` and TaskGroup to read. They do not win
        over KeyboardInterrupt or SystemExit, which must reach the top as
        themselves: those only get a note naming the failures (and the
        caller re-raises them).
        """
        with self._lock:
            errors = list(self._failures)
        if not errors:
            return
        if isinstance(cause, KeyboardInterrupt | SystemExit):  # the Group raises them bare
            cause.add_note("meanwhile bots of the fleet failed: " + "; ".join(map(str, errors)))
            return
        eg = ExceptionGroup("bots of the fleet failed", errors)  # type: ignore[type-var]
        raise eg from cause

    def _start_task(self, fn: Callable[..., Any], /, *args: Any) -> None:
        """Start an async helper (a handler that awaits) in the fleet's group."""
        assert self._group is not None
        self._group.go(fn, *args)

    # -- bots ----------------------------------------------------------------

    def spawn(
        self,
        cls: type[Bot],
        /,
        *args: Any,
        name: str | None = None,
        tick: float | None = 0.1,
        mailbox: int = 64,
        restart: Restart | None = _DEFAULT_RESTART,
        priority: str = "normal",
        **kwargs: Any,
    ) -> BotRef:
        """Start a bot: ``cls(*args, **kwargs)`` built now, ``on_start`` run on its runner.

        ``tick`` is the period of ``on_tick`` in seconds (None: no ticks);
        ``mailbox`` the mailbox's capacity (>= 1); ``restart`` the policy
        after a crash (None: a crash stops the bot for good); ``priority``
        ``"normal"`` or ``"high"`` (never throttled); ``name`` must be
        unique in the fleet (default ``ClassName-N``). Never blocks.

        Raises TypeError or ValueError for a bad argument (naming it),
        whatever ``cls(...)`` raises, ValueError for a name in use,
        RuntimeError outside the fleet's block or once it is stopping.
        """
        return self._spawn(cls, args, kwargs, name, tick, mailbox, restart, priority, team=None)

    def team(
        self, strategy: Strategy = "one_for_all", *, restart: Restart = _DEFAULT_RESTART
    ) -> Team:
        """A team of bots that restart together (see Team); its members share one runner.

        Raises ValueError for an unknown strategy, TypeError for a restart
        that is not a Restart. Never blocks.
        """
        if strategy not in STRATEGIES:
            raise ValueError(
                f"Fleet.team(): strategy={strategy!r} is not one of {', '.join(STRATEGIES)}"
            )
        if not isinstance(restart, Restart):
            raise TypeError(f"Fleet.team(): restart= takes a Restart, got {type(restart).__name__}")
        return Team(self, self._pick_runner(), strategy, restart)

    def _pick_runner(self) -> Runner:
        if not self._runners:
            raise RuntimeError("spawn bots inside `with Fleet()` or `async with Fleet()`")
        r = self._runners[self._next_runner % len(self._runners)]
        self._next_runner += 1
        return r

    def _spawn(
        self,
        cls: type[Bot],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
        tick: float | None,
        mailbox: int,
        restart: Restart | None,
        priority: str,
        team: Team | None,
    ) -> BotRef:
        api = "Fleet.spawn()" if team is None else "Team.spawn()"
        if not (isinstance(cls, type) and issubclass(cls, Bot)):
            raise TypeError(
                f"{api} takes a Bot subclass, got {cls!r}; subclass chanpy_patterns.Bot"
            )
        period = 0.0 if tick is None else _positive(api, "tick", tick)
        cap = int(_positive(api, "mailbox", mailbox, integer=True))
        if restart is not None and not isinstance(restart, Restart):
            raise TypeError(
                f"{api}: restart= takes a Restart or None, got {type(restart).__name__}"
            )
        if priority not in ("normal", "high"):
            raise ValueError(f"{api}: priority={priority!r} must be 'normal' or 'high'")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{api}: name= takes a str or None, got {type(name).__name__}")
        if self._world is None:
            for h in _HANDLERS:
                if _is_async(getattr(cls, h)):
                    raise TypeError(
                        f"{cls.__name__}.{h} is async: async handlers need `async with Fleet()` "
                        "under trio or asyncio"
                    )
        if self._closing or not self._started:
            raise RuntimeError(
                "spawn bots inside `with Fleet()` or `async with Fleet()`, before it stops"
            )
        factory = partial(cls, *args, **kwargs)
        instance = factory()
        if type(instance).on_tick is Bot.on_tick:
            period = 0.0  # nothing to tick
        seq = next(self._seq)
        runner = team._runner if team is not None else self._pick_runner()
        with self._lock:
            if self._closing:
                raise RuntimeError("the fleet is stopping; it spawns no more bots")
            if name is None:
                name = f"{cls.__name__}-{seq}"
            if name in self._cells:
                raise ValueError(f"{api}: a bot named {name!r} already exists; choose another name")
            cell = Cell(
                name,
                factory,
                instance,
                cap,
                period,
                (seq * PHI) % 1.0,
                priority == "high",
                None if restart is None else Intensity(restart),
                runner,
                team,
            )
            self._cells[name] = cell
            self._spawned += 1
            if team is not None:
                team._members.append(cell)
            # Counted under the lock that stop() takes: a runner that saw the
            # fleet closing with nothing left cannot miss a bot spawned just before.
            runner.add(cell)
        return cell.ref

    def bot(self, name: str) -> BotRef:
        """The running bot called ``name``. Raises KeyError if there is none."""
        return self._cells[name].ref

    def _cells_of(self, runner: Runner) -> list[Cell]:
        """The live cells of one runner (for its cancellation drain)."""
        with self._lock:
            return [c for c in self._cells.values() if c.runner is runner and c.state != DONE]

    # -- what runners report -------------------------------------------------

    def _bot_finished(self, cell: Cell) -> None:
        with self._lock:
            if self._cells.get(cell.name) is cell:
                del self._cells[cell.name]

    def _bot_failed(self, cell: Cell, error: BotFailed) -> None:
        with self._lock:
            self._failed += 1
            self._failures.append(error)

    def _stop_error(self, cell: Cell, exc: Exception) -> None:
        exc.add_note(f"raised by on_stop of bot {cell.name!r}")
        with self._lock:
            self._failures.append(exc)

    def _dead_letter(self, letter: DeadLetter) -> None:
        with self._lock:
            self._dead += 1
            ch = self.dead_letters
            try:
                ch.send_nowait(letter)
            except WouldBlock:
                try:
                    ch.recv_nowait()  # keep the newest: drop the oldest
                    self._dead_dropped += 1
                except WouldBlock:
                    pass
                try:
                    ch.send_nowait(letter)
                except WouldBlock:
                    self._dead_dropped += 1
            except Closed:
                self._dead_dropped += 1

    # -- observing -----------------------------------------------------------

    def stats(self) -> FleetStats:
        """A frozen snapshot of the fleet's counters and recent tick lags. Never blocks."""
        runners = self._runners
        lags: list[float] = []
        for r in runners:
            n = min(r.lag_n, LAG_WINDOW)
            lags.extend(r.lags[:n])
        lags.sort()
        with self._lock:
            bots = len(self._cells)
            mailbox_bytes = sum(_chan_bytes(c.mailbox.capacity) for c in self._cells.values())
            sample = next(iter(self._cells.values()), None)
            record = 0 if sample is None else _record_bytes(sample, bots, self._cells)
            spawned, failed = self._spawned, self._failed
            dead, dropped = self._dead, self._dead_dropped
        low_due = sum(r.low_ticks_due for r in runners)
        level = sum(r.level for r in runners) / len(runners) if runners else 0.0
        per_bot = record + (mailbox_bytes / bots if bots else 0.0)
        return FleetStats(
            bots=bots,
            spawned=spawned,
            runners=len(runners),
            ticks=sum(r.ticks for r in runners),
            skipped_ticks=sum(r.skipped for r in runners),
            tick_lag_p50=percentile(lags, 0.50),
            tick_lag_p99=percentile(lags, 0.99),
            tick_lag_max=lags[-1] if lags else 0.0,
            messages=sum(r.messages for r in runners),
            mailbox_high_water=max((r.high_water for r in runners), default=0),
            restarts=sum(r.restarts for r in runners),
            dead_letters=dead,
            dead_letters_dropped=dropped,
            failed=failed,
            throttled=level if low_due else 0.0,
            bytes_per_bot=per_bot if bots else 0.0,
            stalls=self._stalls,
            uptime=monotonic() - self._origin,
        )

    def _watchdog(self) -> None:
        """A thread that reports a runner stuck in one handler (once per stall)."""
        from ._runner import log

        reported: dict[int, float] = {}
        period = min(0.25, self.stall_after / 4)
        while True:
            try:
                self._watch_stop.recv(period)
                return
            except TimeoutError:
                pass
            except Closed:
                return
            now = monotonic()
            for runner in self._runners:
                cell, since = runner.current, runner.since
                if cell is None or now - since < self.stall_after:
                    continue
                if reported.get(runner.index) == since:
                    continue
                reported[runner.index] = since
                self._stalls += 1
                log.warning(
                    "runner %d stalled: bot %r has been in one handler for %.2fs",
                    runner.index,
                    cell.name,
                    now - since,
                )


async def _no_checkpoint() -> None:
    raise RuntimeError("checkpoint() is for fleets entered with `async with`")


def _is_async(fn: object) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)


def _chan_bytes(capacity: int) -> int:
    # The C ring: a header plus a cell per slot (measured by RSS: Chan(64) ~ 0.97 KB).
    return 390 + 9 * capacity


def _record_bytes(cell: Cell, bots: int, table: dict[str, Cell]) -> int:
    """The Python objects the fleet keeps for one bot (not the bot's own state)."""
    size = sys.getsizeof
    factory = cell.factory
    n = size(cell) + size(cell.ref) + size(cell.name) + 8  # + its wheel slot entry
    if isinstance(factory, partial):
        n += size(factory) + size(factory.args) + size(factory.keywords)
    if cell.intensity is not None:
        n += size(cell.intensity) + 56
    return n + size(table) // max(1, bots)
