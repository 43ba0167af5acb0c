"""Script reloading after NOSCRIPT, a server restart with AOF, and dropped connections."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.conftest import RedisFactory
from tests.registry.conftest import ClientFactory
from tests.registry.counter import count_of
from tests.registry.helpers import count_turn, counter, lease_holder, make_registry
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.errors import StorageUnavailable
from tpr_ws.registry.client import connect
from tpr_ws.registry.turns import Lease, TurnOutput


async def test_scripts_reload_after_script_flush(client_factory: ClientFactory) -> None:
    client = await client_factory()
    registry = await make_registry(client, 2000)
    await registry.run("s", "m1", counter("m1"))
    await client.script_flush()  # the server forgets every script: NOSCRIPT next time
    result = await registry.run("s", "m2", counter("m2"))
    assert result.result == {"count": 2}


async def test_restart_keeps_sessions_and_reloads_scripts(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, appendonly=True).start()
    client = connect(server.url)  # reconnects (with retries) after the restart
    try:
        registry = await make_registry(client, 2000)
        for i in range(5):
            await registry.run("s", f"m{i}", counter(f"m{i}"))
        server.stop()
        server.start()  # same port and data dir; a new process with an empty script cache
        assert (await client.script_exists(registry.storage._commit.sha)) == [False]
        for i in range(5, 10):
            await registry.run("s", f"m{i}", counter(f"m{i}"))
        again = await registry.run("s", "m0", counter("m0"))  # recorded before the restart
        state = await registry.storage.load_state("s")
        log = await registry.storage.read_log("s", 0)
    finally:
        await client.aclose()
        server.cleanup()
    assert again.duplicate and again.result == {"count": 1}
    assert count_of(state) == 10
    assert [e["seq"] for e in log.events] == list(range(1, 11))


async def test_cancelled_mid_reply_connection_is_not_reused(redis_factory: RedisFactory) -> None:
    client = redis_factory(max_connections=1)  # the next command must reuse the one slot
    other = redis_factory()
    before = await client.client_id()
    task = asyncio.create_task(client.blpop(["k"], timeout=30))
    # Wait until the server shows our connection blocked: its reply is now pending.
    while not any(  # noqa: ASYNC110 - observing the server, there is no event to wait on
        c["id"] == str(before) and c["cmd"] == "blpop" for c in await other.client_list()
    ):
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # Had the connection stayed open, this value would be the blocked BLPOP's late reply,
    # and the next command on that connection would read it instead of its own.
    await other.rpush("k", "late")
    assert await client.echo("fresh") == b"fresh"
    assert await client.client_id() != before
    assert await other.llen("k") == 1  # the server dropped the cancelled BLPOP


async def test_unreachable_redis_is_storage_unavailable(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, appendonly=False).start()
    client = aioredis.Redis.from_url(server.url)
    try:
        registry = await make_registry(client, 2000)
        server.stop()
        with pytest.raises(StorageUnavailable):
            await registry.run("s", "m1", counter("m1"))
    finally:
        await client.aclose()
        server.cleanup()


async def test_a_lease_whose_release_met_an_outage_is_freed_when_the_server_is_back(
    tmp_path: Path,
) -> None:
    # A turn that fails because its server went away (a failover, a restart) gives its lease
    # back as soon as the server answers again, not when the lease's TTL runs out: the
    # session's next turn is served at once.
    always = {"appendfsync": "always"}  # the lease survives the restart
    server = EmbeddedRedis(data_dir=tmp_path, appendonly=True, extra=always).start()
    client = connect(server.url, timeout_s=0.5, connect_timeout_s=0.2)
    try:
        registry = await make_registry(client, 60_000)  # a TTL no wait below can reach
        inside, go = asyncio.Event(), asyncio.Event()

        async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
            inside.set()
            await go.wait()
            return await count_turn(state, lease, "m1")

        running = asyncio.create_task(registry.run("s", "m1", turn))
        await inside.wait()
        server.kill()
        go.set()
        with pytest.raises(StorageUnavailable):  # the commit, then its release, fail
            await running
        server.start()
        deadline = asyncio.get_running_loop().time() + 20  # well inside the 60 s TTL
        while (await lease_holder(registry.storage, "s"))[0] is not None:
            assert asyncio.get_running_loop().time() < deadline, "lease not given back"
            await asyncio.sleep(0.05)  # observing the server: there is no event to wait on
        done = await registry.run("s", "m2", counter("m2"))
    finally:
        await client.aclose()
        server.cleanup()
    assert done.result == {"count": 1}
