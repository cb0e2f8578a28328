"""Parkers: how each world waits for a channel operation.

Every parker runs the same protocol against the native core: try the
cases, arm a waiter (register on every case, then re-check), wait until it
is claimed or time is up, disarm, and act on the outcome. Only the waiting
differs: a thread parks in C with the GIL released (``threads``); a task
parks on its event loop (``trio_tasks``, ``asyncio_tasks``).
"""
