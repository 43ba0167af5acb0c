"""A socket's timers: the hello deadline, and the retry of work that failed on storage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class HelloDeadline:
    """Runs `expire()` unless `met()` is called within `timeout_s` (a valid hello)."""

    def __init__(self, timeout_s: float, expire: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._expire = expire
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(timeout_s, self._fire)

    def _fire(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._expire(), name="hello-deadline")

    def met(self) -> None:
        self._timer.cancel()

    def cancel(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


class StorageRetry:
    """After a storage failure, calls `wake()` again later (doubling from `first_s` up to
    `cap_s`), so a socket's hello or catch-up is retried without waiting for a new event."""

    def __init__(self, wake: Callable[[], None], cap_s: float, first_s: float = 0.25) -> None:
        self._wake = wake
        self._cap_s = cap_s
        self._first_s = min(first_s, cap_s)
        self._delay = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def failed(self) -> bool:
        """Schedule the retry; True on the first failure after a success (tell the client)."""
        first = self._delay == 0.0
        self._delay = self._first_s if first else min(self._delay * 2, self._cap_s)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._delay, self._wake)
        return first

    def succeeded(self) -> None:
        self._delay = 0.0

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
