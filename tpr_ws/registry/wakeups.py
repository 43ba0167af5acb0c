"""Wake-ups of one worker's waiting turns, delivered on its wake channel (see scripts.py).

A hand-over publishes "<token>|<epoch>|<has state>|<state>"; the waiter with that token gets
"<epoch>|<has state>|<state>". A wake-up that arrives before its waiter starts waiting (the
acquire's reply and the publish travel on different connections) is kept for it a while.
When the pub/sub connection may have lost messages, every waiter is told (None): it asks
Redis again (the lease itself records a hand-over).
"""

from __future__ import annotations

import asyncio
import time

_EARLY_MAX = 10_000
_EARLY_TTL_S = 60.0


class Wakeups:
    """Futures of waiting tokens, fed by the worker's `Subscriber`."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[bytes | None]] = {}
        self._early: dict[str, tuple[bytes, float]] = {}

    def on_message(self, payload: bytes | None) -> None:
        """The subscriber's callback for the wake channel."""
        if payload is None:
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_result(None)
            self._waiting.clear()
            return
        token, _, rest = payload.partition(b"|")
        fut = self._waiting.pop(token.decode(), None)
        if fut is not None and not fut.done():
            fut.set_result(rest)
            return
        now = time.monotonic()
        if len(self._early) >= _EARLY_MAX:  # unclaimed (a waiter that left): drop the old
            self._early = {t: v for t, v in self._early.items() if now - v[1] < _EARLY_TTL_S}
        self._early[token.decode()] = (rest, now)

    async def wait(self, token: str, timeout_s: float) -> bytes | None:
        """The wake-up for `token`, or None after the timeout or a possible loss."""
        early = self._early.pop(token, None)
        if early is not None:
            return early[0]
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiting[token] = fut
        try:
            async with asyncio.timeout(timeout_s):
                return await fut
        except TimeoutError:
            return None
        finally:
            if self._waiting.get(token) is fut:
                del self._waiting[token]
