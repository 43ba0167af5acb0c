"""Nothing a session writes lives forever: after a whole workflow through real workers, and
after an abandoned one (a turn killed mid-way, a queued waiter whose worker died), every key
in Redis has a TTL, blobs included."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from tests.harness import ChatClient
from tests.registry.helpers import hold_until_killed, waiting_tokens
from tests.transport.conftest import WorkerFactory
from tpr_ws.domain.sample.generator import generate
from tpr_ws.registry.storage import Storage

pytestmark = pytest.mark.slow
SPAWN = mp.get_context("spawn")
LONG_LEASE_MS = 60_000  # no lease runs out while the test sets the scene up


async def _keys_without_ttl(url: str) -> tuple[int, list[str]]:
    """How many keys the server holds, and those that never expire (SCAN + TTL)."""
    client = aioredis.Redis.from_url(url)
    try:
        total, forever = 0, []
        async for key in client.scan_iter(match="*", count=1000):
            total += 1
            if await client.ttl(key) == -1:
                forever.append(key.decode())
        return total, sorted(forever)
    finally:
        await client.aclose()


async def test_every_key_expires_after_a_whole_workflow(
    redis_url: str, worker_factory: WorkerFactory, client_factory: Callable[[], ChatClient]
) -> None:
    w = worker_factory(2)
    made = generate("A", "state", seed=7, fmt="xlsx")
    c = client_factory()
    await c.create_session(w[0].url)
    await c.connect(w[0].url)
    status, body = await c.upload(w[1].url, made.data, made.file_name)
    assert status == 202, body
    await c.wait_stage("select_facility_level")
    await c.connect(w[1].url)
    await c.say("primary")
    await c.say("under 5")
    await c.wait_stage("results")
    for name in ("results.csv", "results.xlsx", "report.md"):
        status, _, _ = await c.download(w[0].url, name)
        assert status == 200
    await c.say("upload")
    await c.say("sample")  # a second dataset: the sample's blob
    await c.wait_stage("select_state")
    total, forever = await _keys_without_ttl(redis_url)
    assert total > 10  # state, log, seq, epoch, records, blobs...
    assert forever == []


async def test_every_key_expires_after_an_abandoned_turn_and_a_dead_waiter(
    redis_url: str, worker_factory: WorkerFactory, client_factory: Callable[[], ChatClient]
) -> None:
    w = worker_factory(2, TPR_WS_LEASE_TTL_MS=str(LONG_LEASE_MS))
    c = client_factory()
    await c.create_session(w[0].url)
    # A turn that takes the session's lease, then dies mid-way (its process is killed).
    in_turn = SPAWN.Event()
    holder = SPAWN.Process(
        target=hold_until_killed, args=(redis_url, "tpr", c.sid, LONG_LEASE_MS, in_turn)
    )
    holder.start()
    storage = Storage(aioredis.Redis.from_url(redis_url))
    try:
        assert await asyncio.to_thread(in_turn.wait, 60)
        # A message queued behind it, on a worker that dies while it waits.
        await c.connect(w[1].url)
        await c.say("sample", wait=False)
        await _wait_for(lambda: waiting_tokens(storage, c.sid))
        w[1].kill(signal.SIGKILL)
    finally:
        await storage.redis.aclose()
        if holder.pid is not None and holder.is_alive():
            os.kill(holder.pid, signal.SIGKILL)
        holder.join(30)
    total, forever = await _keys_without_ttl(redis_url)
    assert total > 3  # lease, epoch, waiters, arrivals, state, log, seq...
    assert forever == []


async def _wait_for(probe: Callable[[], Awaitable[object]], timeout: float = 60) -> None:
    """Until `probe` answers something truthy (state in Redis: no timer to race)."""
    deadline = time.monotonic() + timeout
    while not await probe():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.05)
