"""Killing the Redis-protocol server at the moment its AOF is most at risk, with turns in flight.

With `appendfsync everysec` the server fsyncs its AOF in a background thread; while that fsync
is slow (a busy disk) it postpones *writing* its AOF buffer for up to 2 s and still answers
clients. A SIGKILL then loses writes it has acknowledged. The server shows that moment in
`INFO persistence` (`aof_pending_bio_fsync` and a non-empty `aof_buffer_length`); the disk is
made busy by `DiskPressure`. With `appendfsync always` the moment never comes (every reply
waits for its fsync): the kill then lands at an arbitrary point of the traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import Counter
from pathlib import Path
from types import TracebackType

import redis.asyncio as aioredis

from tests.registry.counter import count_of
from tests.registry.helpers import counter
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.turns import Registry

CHUNK = b"\0" * (1 << 20)


class DiskPressure:
    """Threads writing and fsyncing big files next to the server's AOF (same file system),
    so the server's own fsyncs take tens of milliseconds. Stops on exit; bounded by
    `max_s` in any case."""

    def __init__(self, where: Path, *, threads: int = 2, mb: int = 256, max_s: float = 60) -> None:
        self.where, self.threads, self.mb, self.max_s = where, threads, mb, max_s
        self._stop = threading.Event()
        self._running: list[threading.Thread] = []

    def _write(self, path: Path) -> None:
        while not self._stop.is_set():
            with path.open("wb") as f:
                for _ in range(self.mb):
                    if self._stop.is_set():
                        break
                    f.write(CHUNK)
                os.fsync(f.fileno())
        path.unlink(missing_ok=True)

    def __enter__(self) -> DiskPressure:
        self.where.mkdir(parents=True, exist_ok=True)
        for i in range(self.threads):
            thread = threading.Thread(target=self._write, args=(self.where / f"busy{i}",))
            thread.start()
            self._running.append(thread)
        threading.Timer(self.max_s, self._stop.set).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join()


async def kill_at_risk(server: EmbeddedRedis, timeout_s: float) -> None:
    """SIGKILL the server as soon as its AOF buffer waits behind a background fsync, or after
    `timeout_s` if that never happens (with `always` it never does)."""
    probe = aioredis.Redis.from_url(server.url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while loop.time() < deadline:
            info = await probe.info("persistence")
            if int(info["aof_pending_bio_fsync"]) and int(info["aof_buffer_length"]):
                break
    finally:
        await probe.aclose(close_connection_pool=True)
    server.kill()


async def turns_until_killed(
    registry: Registry, sessions: list[str], acked: Counter[str], under_way: asyncio.Event
) -> None:
    """Counter turns on every session, one after another per session, each acknowledged turn
    counted in `acked`, until the server is gone; `under_way` is set after 50 per session."""

    async def one(sid: str) -> None:
        n = 0
        with contextlib.suppress(Exception):  # the server was killed: this session is done
            while True:
                n += 1
                await registry.run(sid, f"m{n}", counter(f"m{n}"))
                acked[sid] += 1
                if acked.total() >= 50 * len(sessions):
                    under_way.set()

    await asyncio.gather(*(one(sid) for sid in sessions))
    under_way.set()  # (all failed before: the caller must not wait for ever)


async def lost_after_kills(
    server: EmbeddedRedis, registry: Registry, rounds: int, sessions: int = 16
) -> tuple[int, int]:
    """`rounds` times: turns on fresh sessions, a kill at the riskiest moment, a restart.
    Returns (acknowledged turns the restarted server no longer has, turns acknowledged)."""
    lost = total = 0
    for r in range(rounds):
        acked: Counter[str] = Counter()
        names = [f"r{r}s{i}" for i in range(sessions)]
        under_way = asyncio.Event()
        traffic = asyncio.create_task(turns_until_killed(registry, names, acked, under_way))
        await under_way.wait()
        await kill_at_risk(server, timeout_s=5)
        await traffic
        server.start()
        for sid in names:
            have = count_of(await registry.storage.load_state(sid))
            lost += max(0, acked[sid] - have)
        total += sum(acked.values())
    return lost, total
