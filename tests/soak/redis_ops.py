"""Redis commands per second over a run, sampled from INFO (total_commands_processed)."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.soak.record import Window


@dataclass
class OpsSampler:
    """Every `every_s`, the server's commands per second since the last sample."""

    url: str
    every_s: float = 0.25
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time, ops/s)

    async def run(self, stop: asyncio.Event) -> None:
        client = aioredis.Redis.from_url(self.url, socket_timeout=1)
        last: tuple[float, int] | None = None
        try:
            while not stop.is_set():
                try:
                    total = int((await client.info("stats"))["total_commands_processed"])
                except (RedisError, OSError):
                    last = None  # restarted or unreachable: start again
                else:
                    now = time.monotonic()
                    if last is not None and total >= last[1]:
                        self.samples.append((now, (total - last[1]) / (now - last[0])))
                    last = (now, total)
                await asyncio.sleep(self.every_s)
        finally:
            await client.aclose()

    def peak_in(self, windows: list[Window], after_s: float = 10.0) -> float:
        """The highest rate seen during the windows (and `after_s` after each)."""
        inside = [r for t, r in self.samples if _within(t, windows, after_s)]
        return max(inside, default=0.0)

    def median_outside(self, windows: list[Window], after_s: float = 10.0) -> float:
        """The median rate away from the windows: the steady load."""
        outside = [r for t, r in self.samples if not _within(t, windows, after_s)]
        return statistics.median(outside) if outside else 0.0


def _within(t: float, windows: list[Window], after_s: float) -> bool:
    return any(w.started <= t <= w.ended + after_s for w in windows)
