"""A runner: one thread or task that runs the handlers of the bots assigned to it.

Each bot belongs to one runner for life, so its handlers never overlap and its
messages keep their order without a lock. A runner has three sources of work:

* the tick wheel: a timing wheel of 1 ms slots over which its bots' ticks are
  spread; each slot is a list reused from turn to turn, so a tick allocates no
  container (no GC pressure from ticking);
* the ready queue: bots whose mailbox got a message (a sender appends the bot
  once, guarded by ``Cell.queued``) and then wakes the runner through a
  one-slot chanpy channel if it sleeps;
* the restart heap: crashed bots waiting out their backoff.

Between them the runner sleeps on the wake channel with a timeout that ends at
the next due slot, so an idle fleet costs nothing.
"""

from __future__ import annotations

import heapq
import inspect
import logging
import math
import threading
from collections import deque
from collections.abc import Awaitable
from itertools import count
from time import monotonic
from typing import TYPE_CHECKING, Any, Final

from chanpy import Cancelled, Chan, Closed, WouldBlock

from ._bot import BACKOFF, DONE, RUNNING, STARTING, Ask, Cell, DeadLetter
from ._errors import BotFailed, BotStopped

if TYPE_CHECKING:
    from ._fleet import Fleet

log = logging.getLogger("chanpy_patterns")

SLOT: Final = 0.001  # the tick wheel's resolution, seconds
WHEEL: Final = 1024  # slots per turn (a power of two)
MASK: Final = WHEEL - 1
LAG_WINDOW: Final = 4096  # recent tick lags kept per runner for the percentiles
BATCH: Final = 32  # messages one bot handles before the runner serves the others
PHI: Final = 0.6180339887498949  # golden ratio step: the throttle's even, rotating choice
TARGET_LOAD: Final = 0.75  # the share of its time a throttled runner should be working
# What an async handler task is finishing.
MESSAGE: Final = 0
TICK: Final = 1
START: Final = 2
STOP: Final = 3
_seq = count()


class Runner:
    """Runs its bots' ticks, messages and restarts; see the module docstring."""

    def __init__(self, fleet: Fleet, index: int, is_async: bool) -> None:
        self.fleet = fleet
        self.index = index
        self.is_async = is_async
        self.ready: deque[Cell] = deque()
        self.wake: Chan[None] = Chan(1)
        self.idle = False
        self.ident: int | None = None  # the thread it runs in (a loop's, for async fleets)
        self.wheel: list[list[Cell]] = [[] for _ in range(WHEEL)]
        self.spare: list[Cell] = []
        self.slot = int(monotonic() / SLOT)  # the next slot to fire
        self.timed = 0  # cells in the wheel
        self.restart_heap: list[tuple[float, int, Cell]] = []
        # Cells assigned minus cells DONE; two counters, because spawners
        # write one and only the runner writes the other.
        self.added = 0
        self.done = 0
        self.busy_tasks = 0
        # Counters, written only by this runner; stats() reads them.
        self.ticks = 0
        self.skipped = 0
        self.throttled_skips = 0
        self.low_ticks_due = 0
        self.messages = 0
        self.high_water = 0
        self.restarts = 0
        self.final = False  # cancelled: drain synchronously, await nothing
        self.lags = [0.0] * LAG_WINDOW
        self.lag_n = 0  # lags recorded so far (the ring index is lag_n % LAG_WINDOW)
        # The throttle: a share of normal-priority ticks to skip, in [0, 1 - floor].
        self.level = 0.0
        self.lag_signal = 0.0
        self.work = 0.0  # seconds spent in pump(), all told
        self.work_seen = 0.0  # ... at the controller's last step
        self.load_signal = 0.0
        self.tick_work = 0.0  # the part of `work` spent firing ticks
        self.tick_work_seen = 0.0
        self.tick_signal = 0.0
        self.last_control = monotonic()
        # The watchdog reads these: which bot is in a handler since when.
        self.current: Cell | None = None
        self.since = 0.0

    # -- work arriving -------------------------------------------------------

    def notify(self, cell: Cell) -> None:
        """Queue ``cell`` for service and wake the runner if it sleeps (any thread)."""
        if not cell.queued:
            cell.queued = True
            self.ready.append(cell)
            self.kick()

    def kick(self) -> None:
        """Wake the runner if it sleeps, so it looks at its work (and its end) again."""
        if self.idle:
            try:
                self.wake.send_nowait(None)
            except (WouldBlock, Closed):
                pass  # a wake is already pending, or the runner is gone

    def add(self, cell: Cell) -> None:
        """Adopt a new cell (from any thread, under the fleet's lock): the runner
        starts it and puts it on its wheel."""
        self.added += 1
        self.notify(cell)  # on_start runs on the runner, which alone touches its wheel

    def _schedule_first(self, cell: Cell) -> None:
        now = monotonic()
        period = cell.period
        # The grid: origin + (phase + k) * period; the first point after now.
        origin = self.fleet._origin + cell.phase * period
        k = math.floor((now - origin) / period) + 1
        cell.next_due = origin + k * period
        self._insert(cell)

    def _insert(self, cell: Cell) -> None:
        # A slot fires once it has ended, so due times in slot s run at (s+1)*SLOT.
        s = int(cell.next_due / SLOT)
        if s < self.slot:
            s = self.slot
        self.wheel[s & MASK].append(cell)
        self.timed += 1

    # -- the loop ------------------------------------------------------------

    def run(self) -> None:
        """The runner's loop as a thread; returns once the fleet is closing and
        every bot of this runner is done."""
        self.ident = threading.get_ident()
        wake = self.wake
        while True:
            try:
                delay = self.pump()
                if self.finished():
                    return
                self.idle = True
                if self.ready:
                    self.idle = False
                    continue
                wake.recv(delay)
            except TimeoutError:
                pass
            except Cancelled:
                # The fleet's context: in this wait, or in a handler that waited
                # (its item is accounted for where it was interrupted).
                self.cancelled()
                return
            self.idle = False

    async def arun(self) -> None:
        """The runner's loop as a trio or asyncio task."""
        # The loop's thread: a blocking send from a handler here gets the
        # fleet's advice (send_nowait) rather than chanpy's (await asend).
        self.ident = threading.get_ident()
        wake = self.wake
        try:
            while True:
                delay = self.pump()
                if self.finished():
                    return
                self.idle = True
                if self.ready:
                    self.idle = False
                    await self.fleet.checkpoint()  # let handler tasks and senders run
                    continue
                try:
                    await wake.arecv(delay)
                except TimeoutError:
                    pass
                self.idle = False
        except BaseException:
            # Cancelled (chanpy's, trio's or asyncio's) at any await: nothing may
            # await any more, but what was accepted is still handled, synchronously.
            self.cancelled()
            raise

    def cancelled(self) -> None:
        """The fleet's context was cancelled: stop every bot of this runner now,
        handling what they accepted without waiting for anything."""
        self.final = True
        self.fleet.stop()
        for cell in self.fleet._cells_of(self):
            if not cell.busy:
                self.drain_now(cell)

    def drain_now(self, cell: Cell) -> None:
        """Stop ``cell`` and handle its mailbox to the end, synchronously."""
        self.final = True
        cell.stopping = True
        cell.mailbox.close()
        for _ in range(10_000):  # bounded: each turn handles a message or a restart
            if cell.state == DONE:
                return
            self.serve(cell)  # a stopping bot in backoff restarts at once
        self.fail(cell, RuntimeError("the bot kept crashing while its fleet was cancelled"))

    def finished(self) -> bool:
        """True once the fleet is closing and nothing of this runner is left."""
        return self.fleet._closing and self.added == self.done and self.busy_tasks == 0

    def pump(self) -> float | None:
        """Do all work due now; return seconds until the next timed work (None: none)."""
        now = monotonic()
        if self.timed:
            self._fire_ticks(now)
            self.tick_work += monotonic() - now  # what skipping ticks can save
        heap = self.restart_heap
        while heap and heap[0][0] <= now:
            _, _, cell = heapq.heappop(heap)
            self._restart(cell)
        # Serve the bots queued so far; later arrivals wait for the next pump,
        # so a flood of messages cannot starve the ticks.
        ready = self.ready
        for _ in range(len(ready)):
            cell = ready.popleft()
            cell.queued = False
            self.serve(cell)
        end = monotonic()
        self.work += end - now
        if self.fleet.tick_budget is not None:
            self._control(end)
        return self._next_delay()

    def _next_delay(self) -> float | None:
        due: float | None = None
        if self.timed:
            wheel = self.wheel
            s = self.slot
            for i in range(WHEEL):
                if wheel[(s + i) & MASK]:
                    due = (s + i + 1) * SLOT
                    break
        if self.restart_heap:
            r = self.restart_heap[0][0]
            due = r if due is None else min(due, r)
        if due is None:
            return None
        return max(0.0, due - monotonic())

    # -- ticks ---------------------------------------------------------------

    def _fire_ticks(self, now: float) -> None:
        end = int(now / SLOT)  # slots before `end` have ended
        s = self.slot
        if end - s > WHEEL:
            s = end - WHEEL  # far behind: visit each slot once; the late get one tick
        wheel = self.wheel
        lags = self.lags
        throttle = self.level
        while s < end:
            i = s & MASK
            bucket = wheel[i]
            s += 1
            if not bucket:
                continue
            wheel[i] = self.spare
            limit = s * SLOT  # due times before this are due now
            self.timed -= len(bucket)
            for cell in bucket:
                due = cell.next_due
                if cell.state == DONE:
                    continue  # leaves the wheel
                if due >= limit:
                    self._insert(cell)  # a later turn of the wheel
                    continue
                t = monotonic()
                period = cell.period
                nxt = due + period
                if nxt <= t:
                    # Late: one tick for the missed grid points, the rest are skipped.
                    missed = math.floor((t - due) / period)
                    nxt = due + (missed + 1) * period
                    self.skipped += missed
                cell.next_due = nxt
                self._insert(cell)
                if cell.state != RUNNING:
                    self.skipped += 1
                    continue
                if not cell.priority_high:
                    self.low_ticks_due += 1
                    if throttle > 0.0:
                        cell.tick_index += 1
                        if (cell.tick_index * PHI + cell.rotation) % 1.0 < throttle:
                            self.skipped += 1
                            self.throttled_skips += 1
                            continue
                if cell.busy:
                    # In an async handler: its task runs one tick for this
                    # and any later missed points when the handler returns.
                    if cell.owed < 0.0:
                        cell.owed = due
                    else:
                        self.skipped += 1
                    continue
                lags[self.lag_n & (LAG_WINDOW - 1)] = t - due
                self.lag_n += 1
                self.current = cell
                self.since = t
                try:
                    r = cell.instance.on_tick(due)  # type: ignore[union-attr]
                except Exception as exc:
                    self.current = None
                    self.crash(cell, exc, None)
                    continue
                except Cancelled:
                    self.current = None
                    if not self.final:
                        raise  # the runner stops; this wheel is not used again
                    continue
                self.current = None
                if r is not None and self.is_async and inspect.isawaitable(r):
                    self.start_async(cell, r, None, TICK)  # counted when it returns
                else:
                    self.ticks += 1
            bucket.clear()
            self.spare = bucket
        self.slot = max(self.slot, end)

    def _control(self, now: float) -> None:
        """Set the share of normal-priority ticks to skip, from the runner's load.

        Lag says *whether* to throttle: the worst of the last 256 tick lags,
        smoothed over ~250 ms, past half the budget. Load says *how much*:
        the share of wall time the runners spent working, smoothed, with its
        tick part divided by the share of ticks let run, estimates the load
        they would carry unthrottled; the throttle keeps the share of ticks
        that brings that down to ``TARGET_LOAD``, between 0 and
        ``1 - throttle_floor``. Load
        answers linearly to the share (lag does not: it is ~0 below capacity
        and unbounded above), so the share settles instead of oscillating;
        it follows its target with a 0.25 s time constant, never in steps.
        """
        dt = now - self.last_control
        if dt < 0.01:
            return
        self.last_control = now
        n = self.lag_n
        worst = 0.0
        lags = self.lags
        for j in range(n - min(n, 256), n):
            lag = lags[j & (LAG_WINDOW - 1)]
            if lag > worst:
                worst = lag
        smooth = min(1.0, dt / 0.25)
        self.lag_signal += (worst - self.lag_signal) * smooth
        # The runners share one GIL (or one loop): the load is the fleet's.
        runners = self.fleet._runners
        work = sum(r.work for r in runners)
        load = min(1.0, (work - self.work_seen) / dt)
        self.work_seen = work
        self.load_signal += (load - self.load_signal) * smooth
        tick_work = sum(r.tick_work for r in runners)
        tick_load = min(load, (tick_work - self.tick_work_seen) / dt)
        self.tick_work_seen = tick_work
        self.tick_signal += (tick_load - self.tick_signal) * smooth
        budget = self.fleet.tick_budget
        assert budget is not None
        target = 0.0
        if self.level > 0.0 or self.lag_signal > budget / 2:
            # Only the ticks' part of the load grows back when fewer are
            # skipped; messages cost the same either way. (Scaling all of it
            # made a message-heavy fleet's estimate climb with the throttle
            # itself, up to the cap, while its ticks were on time.)
            ticks = min(self.tick_signal, self.load_signal)
            other = self.load_signal - ticks
            unthrottled = other + ticks / max(0.05, 1.0 - self.level)
            if unthrottled > TARGET_LOAD:
                target = min(1.0 - self.fleet.throttle_floor, 1.0 - TARGET_LOAD / unthrottled)
        self.level += (target - self.level) * min(1.0, dt / 0.25)
        if self.level < 0.005:
            self.level = 0.0

    # -- messages ------------------------------------------------------------

    def serve(self, cell: Cell) -> None:
        """Start, drain or finish one bot, as its state asks."""
        state = cell.state
        if state == BACKOFF:
            if not cell.busy and (cell.restart_due or cell.stopping):
                self._restart(cell)  # due while a handler ran, or stopping: now
            return  # else the restart heap serves it when its backoff ends
        if cell.busy:
            return  # in an async handler: that task serves it when it returns
        if state == STARTING:
            if not self._start(cell):
                return
        elif state != RUNNING:
            return
        mailbox = cell.mailbox
        depth = len(mailbox)
        if depth > self.high_water:
            self.high_water = depth
        for _ in range(BATCH):
            try:
                item = mailbox.recv_nowait()
            except WouldBlock:
                return
            except Closed:
                self.finish(cell)
                return
            pending = self.handle(cell, item)
            if pending is not None:
                self.start_async(cell, pending, item, MESSAGE)
                return
            if cell.state != RUNNING:
                return  # it crashed: the restart serves the rest
        self.notify(cell)  # more to do: after the others had their turn

    def handle(self, cell: Cell, item: object) -> Awaitable[Any] | None:
        """Run ``on_message`` for one mailbox item; an awaitable if the handler is async."""
        msg = item.msg if type(item) is Ask else item
        self.current = cell
        self.since = monotonic()
        try:
            r = cell.instance.on_message(msg)  # type: ignore[union-attr]
        except Exception as exc:
            self.current = None
            self.crash(cell, exc, item)
            return None
        except Cancelled as exc:
            # The fleet's context was cancelled while the handler waited: the
            # message was not handled; the runner stops every bot (see run).
            self.current = None
            self.dead_letter(cell, item, "cancelled", exc)
            if not self.final:
                raise
            return None  # already stopping: go on with the rest, synchronously
        self.current = None
        if r is not None and self.is_async and inspect.isawaitable(r):
            if self.final:
                _close(r)
                self.dead_letter(cell, item, "cancelled", None)
                return None
            return r
        self.answered(item, r)
        return None

    def answered(self, item: object, result: object) -> None:
        self.messages += 1
        if type(item) is Ask:
            item.reply.send_nowait((True, result))

    def start_async(self, cell: Cell, pending: Awaitable[Any], item: object, kind: int) -> None:
        """Hand a bot whose handler awaits to a task of its own, so the runner goes on."""
        if self.final:
            _close(pending)  # cancelled: nothing may await any more
            if kind == MESSAGE:
                self.dead_letter(cell, item, "cancelled", None)
            elif kind == STOP:
                self._done(cell)
            return
        cell.busy = True
        self.busy_tasks += 1
        try:
            self.fleet._start_task(self.drain_async, cell, pending, item, kind)
        except BaseException:
            cell.busy = False
            self.busy_tasks -= 1
            _close(pending)
            if kind == MESSAGE:
                self.dead_letter(cell, item, "cancelled", None)
            elif kind == STOP:
                self._done(cell)
            raise

    async def drain_async(
        self, cell: Cell, pending: Awaitable[Any] | None, item: object, kind: int
    ) -> None:
        """Finish an async handler, then keep serving the bot (a tick that fell due
        meanwhile, then its mailbox) until nothing is left, then give it back."""
        try:
            while True:
                if pending is not None:
                    try:
                        r = await _Tracked(pending, self, cell, kind == TICK)
                    except Exception as exc:
                        if kind == STOP:
                            self.fleet._stop_error(cell, exc)
                            self._done(cell)
                            break
                        self.crash(cell, exc, item if kind == MESSAGE else None)
                        break
                    except BaseException as exc:
                        # Cancelled from outside: account for the message; the
                        # handler below handles what is left without awaiting.
                        if kind == MESSAGE:
                            self.dead_letter(cell, item, "cancelled", exc)
                        elif kind == STOP:
                            self._done(cell)
                        raise
                    if kind == TICK:
                        self.ticks += 1
                    elif kind == MESSAGE:
                        self.answered(item, r)
                    elif kind == STOP:
                        self._done(cell)
                        break
                    pending = None
                if cell.state != RUNNING:
                    break
                if cell.owed >= 0.0:
                    # A tick fell due while a handler ran: one tick, late, now.
                    pending, kind, item = self._owed_tick(cell), TICK, None
                    continue
                mailbox = cell.mailbox
                depth = len(mailbox)
                if depth > self.high_water:
                    self.high_water = depth
                try:
                    item = mailbox.recv_nowait()
                except WouldBlock:
                    break
                except Closed:
                    pending, kind, item = self._begin_stop_handler(cell), STOP, None
                    if pending is None:
                        break
                    continue
                pending, kind = self.handle(cell, item), MESSAGE
                if pending is None:
                    await self.fleet.checkpoint()
        except BaseException:
            # Cancelled at any await: nothing may await any more; what the bot
            # accepted is handled here and now.
            cell.busy = False
            if cell.state != DONE:
                self.drain_now(cell)
            raise
        finally:
            cell.busy = False
            self.busy_tasks -= 1
            if cell.state != DONE and self.final:
                self.drain_now(cell)  # the runner is gone: nobody else will
            elif cell.state != DONE:
                self.notify(cell)  # the runner decides what is left (more mail, a stop)
            else:
                self.kick()  # the runner may be waiting for this task to end

    def _owed_tick(self, cell: Cell) -> Awaitable[Any] | None:
        """Run the tick owed to ``cell``; an awaitable if ``on_tick`` is async."""
        due = cell.owed
        cell.owed = -1.0
        t = monotonic()
        self.lags[self.lag_n & (LAG_WINDOW - 1)] = t - due
        self.lag_n += 1
        self.current = cell
        self.since = t
        try:
            r = cell.instance.on_tick(due)  # type: ignore[union-attr]
        except Exception as exc:
            self.current = None
            self.crash(cell, exc, None)
            return None
        self.current = None
        if r is not None and inspect.isawaitable(r):
            return r
        self.ticks += 1
        return None

    # -- start, crash, restart, finish --------------------------------------

    def _start(self, cell: Cell) -> bool:
        bot = cell.instance
        assert bot is not None
        bot.ref = cell.ref
        bot.fleet = self.fleet
        cell.state = RUNNING
        self.current = cell
        self.since = monotonic()
        try:
            r = bot.on_start()
        except Exception as exc:
            self.current = None
            self.crash(cell, exc, None)
            return False
        except Cancelled:
            self.current = None
            if not self.final:
                raise  # the runner stops every bot and handles their mail
        self.current = None
        if cell.period > 0.0 and cell.next_due == math.inf:
            self._schedule_first(cell)  # a restart keeps its place on the grid
        if r is not None and inspect.isawaitable(r):
            # An async on_start runs to completion before any message.
            self.start_async(cell, r, None, START)
            return False
        return True

    def crash(self, cell: Cell, exc: Exception, item: object) -> None:
        """A handler of ``cell`` raised ``exc`` while handling ``item`` (None: no message)."""
        if type(item) is Ask:
            item.reply.send_nowait((False, exc))
        elif item is not None:
            self.dead_letter(cell, item, "crashed", exc)
        team = cell.team
        if team is not None:
            team._crashed(cell, exc)
        else:
            self.supervise(cell, exc)

    def supervise(self, cell: Cell, exc: Exception) -> None:
        """Decide the crashed cell's future under its own policy: backoff or for good."""
        cell.instance = None
        delay = None if cell.intensity is None else cell.intensity.crash(monotonic())
        if delay is None:
            self.fail(cell, exc)
        else:
            self.backoff(cell, delay)

    def backoff(self, cell: Cell, delay: float) -> None:
        cell.instance = None
        cell.state = BACKOFF
        cell.owed = -1.0  # a tick owed to the crashed instance is not the next one's
        if self.final:
            return  # drain_now restarts it at once
        if cell.stopping or self.fleet._closing:
            delay = 0.0  # a stopping bot restarts at once to handle what it accepted
        heapq.heappush(self.restart_heap, (monotonic() + delay, next(_seq), cell))

    def _restart(self, cell: Cell) -> None:
        """Start a new instance of a cell in backoff (a stale call does nothing).

        A handler of the old instance may still run (a teammate crashed while
        this one awaited): the new instance waits until it has returned, so
        two handlers of one bot never overlap.
        """
        if cell.state != BACKOFF:
            return
        if cell.busy:
            cell.restart_due = True  # drain_async's end hands it back to serve()
            return
        cell.restart_due = False
        try:
            cell.instance = cell.factory()
        except Exception as exc:
            self.crash(cell, exc, None)
            return
        cell.restarts += 1
        self.restarts += 1
        cell.state = STARTING
        self.serve(cell)

    def fail(self, cell: Cell, exc: Exception) -> None:
        """Stop ``cell`` for good: what its mailbox holds becomes dead letters."""
        cell.instance = None
        cell.stopping = True
        cell.mailbox.close()
        intensity = cell.team._intensity if cell.team is not None else cell.intensity
        if intensity is None:
            crashes, within = 1, 0.0
        else:
            crashes, within = intensity.crashes_in_period, intensity.policy.within
        error = BotFailed(cell.name, cell.restarts, crashes, within)
        error.__cause__ = exc
        self.fleet._bot_failed(cell, error)
        while True:
            try:
                item = cell.mailbox.recv_nowait()
            except (WouldBlock, Closed):
                break
            self.dead_letter(cell, item, "failed", error)  # answers an ask with `error`
        self._done(cell)

    def finish(self, cell: Cell) -> None:
        """Graceful end (on the runner): the mailbox is closed and drained; run ``on_stop``."""
        pending = self._begin_stop_handler(cell)
        if pending is not None:
            self.start_async(cell, pending, None, STOP)

    def _begin_stop_handler(self, cell: Cell) -> Awaitable[Any] | None:
        """Run ``on_stop`` and mark the cell DONE; if ``on_stop`` is async, return it
        unawaited and leave the DONE to whoever awaits it."""
        bot = cell.instance
        if bot is not None:
            self.current = cell
            self.since = monotonic()
            try:
                r = bot.on_stop()
            except Exception as exc:
                self.fleet._stop_error(cell, exc)
                r = None
            except Cancelled:
                self.current = None
                self._done(cell)  # it stopped, if not cleanly: never run on_stop twice
                if not self.final:
                    raise
                return None
            self.current = None
            if r is not None and inspect.isawaitable(r):
                if not self.final:
                    return r
                _close(r)
        self._done(cell)
        return None

    def _done(self, cell: Cell) -> None:
        if cell.state == DONE:
            return
        cell.state = DONE
        self.done += 1
        self.fleet._bot_finished(cell)
        if cell.done_chan is not None:
            cell.done_chan.close()

    def dead_letter(
        self, cell: Cell, item: object, reason: str, error: BaseException | None
    ) -> None:
        """``item`` will never be handled: record it, and answer it if it is an ask
        (with ``error`` if that is an Exception, else BotStopped), so no asker
        waits for a reply that cannot come."""
        msg = item
        if type(item) is Ask:
            msg = item.msg
            answer = (
                error
                if isinstance(error, Exception)
                else BotStopped(f"bot {cell.name!r} stopped before it answered ({reason})")
            )
            item.reply.send_nowait((False, answer))
        self.fleet._dead_letter(DeadLetter(cell.name, msg, reason, error))


def _close(awaitable: Awaitable[Any]) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # a coroutine never awaited: no "never awaited" warning


class _Tracked:
    """Awaits a handler's coroutine step by step, telling the watchdog which bot
    runs during each step (time spent suspended, awaiting I/O, is no stall) and
    adding the step's time to the runner's work (the throttle's load)."""

    __slots__ = ("_aw", "_cell", "_runner", "_tick")

    def __init__(self, aw: Awaitable[Any], runner: Runner, cell: Cell, tick: bool) -> None:
        self._aw = aw
        self._runner = runner
        self._cell = cell
        self._tick = tick  # an on_tick: its steps are also the throttle's tick load

    def __await__(self) -> Any:
        coro = self._aw
        if not (hasattr(coro, "send") and hasattr(coro, "throw")):
            return (yield from coro.__await__())
        runner, cell, tick = self._runner, self._cell, self._tick
        value: Any = None
        error: BaseException | None = None
        while True:
            runner.current = cell
            runner.since = start = monotonic()
            try:
                step = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as done:
                return done.value
            finally:
                runner.current = None
                spent = monotonic() - start
                runner.work += spent  # the throttle's load counts it
                if tick:
                    runner.tick_work += spent
            try:
                value, error = (yield step), None
            except BaseException as exc:
                value, error = None, exc
