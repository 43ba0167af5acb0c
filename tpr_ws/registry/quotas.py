"""Limits shared by every worker: fixed-window counters in Redis (one round trip each)."""

from __future__ import annotations

from dataclasses import dataclass

from tpr_ws.registry.client import RedisClient, Script
from tpr_ws.registry.keys import DEFAULT_PREFIX, KeySpace
from tpr_ws.registry.scripts import WINDOW


@dataclass(frozen=True)
class WindowCount:
    """A window's count after a hit, and the seconds until the window starts over."""

    count: int
    reset_in_s: float


class Quotas:
    """Counts hits per subject (a session id, a client address) and name in fixed windows.

    Every counter expires with its window, so nothing here outlives a quiet client.
    """

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._keys = KeySpace(prefix)
        # Sent once more after a dropped connection: a hit counted twice only errs on the safe
        # side of a limit.
        self._window = Script(redis, WINDOW)

    async def hit(self, subject: str, name: str, window_s: float, amount: int = 1) -> WindowCount:
        """Add `amount` (0 only reads) to the subject's current window of `name`."""
        key = self._keys.quota(subject, name)
        count, left_ms = await self._window(keys=[key], args=[amount, max(1, int(window_s * 1000))])
        return WindowCount(int(count), int(left_ms) / 1000)
