"""The registry's connections: a hung server gives quick errors, waiting turns hold no Redis
connection each, and wake-ups survive a lost pub/sub connection."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.registry.counter import count_of
from tests.registry.helpers import LOG_MAX, PREFIX, count_turn, counter, waiting_tokens
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.errors import StorageUnavailable
from tpr_ws.registry.client import connect
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Lease, Registry, TurnOutput


async def _registry(url: str, ttl_ms: int, **kwargs: float) -> Registry:
    storage = Storage(connect(url, **kwargs), prefix=PREFIX, log_max_events=LOG_MAX)
    await storage.initialize()
    return Registry(storage, lease_ttl_ms=ttl_ms)


async def test_a_hung_server_gives_storage_unavailable_then_recovers(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, appendonly=False).start()
    registry = await _registry(server.url, 2000, timeout_s=0.3)
    pid = server.pid
    assert pid is not None
    try:
        await registry.run("s", "m1", counter("m1"))
        os.kill(pid, signal.SIGSTOP)  # the server stops answering; its socket stays open
        try:
            # The guard is far above the 0.3 s command timeout: without it, this hangs.
            with pytest.raises(StorageUnavailable):
                await asyncio.wait_for(registry.run("s", "m2", counter("m2")), 30)
        finally:
            os.kill(pid, signal.SIGCONT)
        again = await asyncio.wait_for(registry.run("s", "m2", counter("m2")), 30)
        assert again.result == {"count": 2}
    finally:
        await registry.storage.redis.aclose()
        server.cleanup()


async def test_waiting_turns_hold_no_redis_connection_each(redis_url: str) -> None:
    registry = await _registry(redis_url, 60_000)
    observer = aioredis.Redis.from_url(redis_url)
    entered, go = asyncio.Event(), asyncio.Event()

    async def holder(state: bytes | None, lease: Lease) -> TurnOutput:
        entered.set()
        await go.wait()
        return await count_turn(state, lease)

    try:
        first = asyncio.create_task(registry.run("s", "m0", holder))
        await entered.wait()
        before = len(await observer.client_list())
        waiting = [asyncio.create_task(registry.run("s", f"m{i}", counter(f"m{i}"))) for i in
                   range(1, 41)]  # fmt: skip
        while len(await waiting_tokens(registry.storage, "s")) < 40:  # noqa: ASYNC110 - Redis-side state
            await asyncio.sleep(0.01)
        # 40 queued turns, and the worker still has the connections it had with none queued.
        assert len(await observer.client_list()) <= before + 1
        go.set()
        # Woken one by one by the hand-overs (the 60 s safety net never fires).
        await asyncio.wait_for(asyncio.gather(first, *waiting), 30)
        assert count_of(await registry.storage.load_state("s")) == 41
    finally:
        await observer.aclose()
        await registry.storage.redis.aclose()


async def test_wakeups_survive_a_lost_pubsub_connection(redis_url: str) -> None:
    registry = await _registry(redis_url, 60_000)
    observer = aioredis.Redis.from_url(redis_url)
    entered, go = asyncio.Event(), asyncio.Event()

    async def holder(state: bytes | None, lease: Lease) -> TurnOutput:
        entered.set()
        await go.wait()
        return await count_turn(state, lease)

    try:
        first = asyncio.create_task(registry.run("s", "m0", holder))
        await entered.wait()
        waiting = [asyncio.create_task(registry.run("s", f"m{i}", counter(f"m{i}"))) for i in
                   range(1, 4)]  # fmt: skip
        while len(await waiting_tokens(registry.storage, "s")) < 3:  # noqa: ASYNC110 - Redis-side state
            await asyncio.sleep(0.01)
        # The worker's pub/sub connection dies; the hand-over below publishes while it is down.
        killed = await observer.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed >= 1
        go.set()
        # Told that wake-ups may be lost, the waiters ask Redis again, well before the 60 s
        # safety net: the lease records the hand-over.
        await asyncio.wait_for(asyncio.gather(first, *waiting), 30)
        assert count_of(await registry.storage.load_state("s")) == 4
    finally:
        await observer.aclose()
        await registry.storage.redis.aclose()
