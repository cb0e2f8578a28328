"""Parkers: how each world waits for a channel operation.

Every parker runs the same protocol against the native core: try the
cases, arm a waiter (register on every case, then re-check), wait until it
is claimed or time is up, disarm, and act on the outcome. Only the waiting
differs: a thread parks in C with the GIL released (``threads``); a task
parks on its event loop (``trio_tasks``, ``asyncio_tasks``).
"""

from typing import Any

from chanpy._ffi import fast

_WOULDBLOCK = fast.WOULDBLOCK


def after_wait(waiter: Any, cases: tuple[Any, ...]) -> Any:
    """Disarm after a wait: the ``Selected`` of the case that took effect,
    else a fresh poll of ``cases`` (``fast.WOULDBLOCK`` if none is ready)."""
    done = waiter.disarm()
    return fast.select_try(cases) if done is _WOULDBLOCK else done
