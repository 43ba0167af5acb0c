"""Durable acks (TPR_WS_DURABILITY): a primary and a real replica; the replica stalled (SIGSTOP)
is the replication lag that loses acknowledged turns in a failover."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.registry.helpers import PREFIX, counter, make_registry
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.errors import ConfigError, StorageUnavailable
from tpr_ws.registry.client import RedisClient, connect
from tpr_ws.registry.durability import Durability, NotDurable, Policy
from tpr_ws.registry.turns import Registry


@dataclass
class Pair:
    primary: EmbeddedRedis
    replica: EmbeddedRedis

    def replica_has(self, sid: str, message_id: str) -> bool:
        client = redis.Redis.from_url(self.replica.url)
        try:
            return bool(client.hexists(f"{PREFIX}:{{{sid}}}:msgs", message_id))
        finally:
            client.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    # fsync on every write: WAITAOF then answers at once (with `everysec` it waits for the
    # next fsync, up to a second: see bench/durability.py)
    always = {"appendfsync": "always"}
    primary = EmbeddedRedis(data_dir=tmp_path / "p", appendonly=True, extra=always).start()
    replica = EmbeddedRedis(data_dir=tmp_path / "r", appendonly=True, extra=always).start()
    client = redis.Redis.from_url(replica.url)
    try:
        client.replicaof("127.0.0.1", primary.port)
        while client.info("replication")["master_link_status"] != "up":
            pass  # a first sync of an empty primary: milliseconds
    finally:
        client.close()
    yield Pair(primary, replica)
    if replica.pid is not None:
        os.kill(replica.pid, signal.SIGCONT)
    replica.cleanup()
    primary.cleanup()


@pytest.fixture
async def client(pair: Pair) -> AsyncIterator[RedisClient]:
    made = connect(pair.primary.url)
    yield made
    await made.aclose()


async def _registry(client: RedisClient, mode: str, timeout_ms: int = 300) -> Registry:
    registry = await make_registry(client, ttl_ms=2000)
    policy = Policy.parse(mode, timeout_ms)
    if policy is not None:
        registry.durability = Durability(client, registry.storage.keys, policy)
        await registry.durability.check()
    return registry


@pytest.mark.parametrize("mode", ["replica", "aof", "replica+aof"])
async def test_ack_waits_until_the_replica_or_the_aof_has_the_turn(
    pair: Pair, client: RedisClient, mode: str
) -> None:
    # A replica reports its AOF fsync on the primary's next GETACK or its own 1 s ACK: allow it
    registry = await _registry(client, mode, timeout_ms=3000)
    result = await registry.run("s", "m1", counter("m1"))
    assert result.result == {"count": 1}
    if "replica" in mode:
        assert pair.replica_has("s", "m1")  # acknowledged: already on the replica


async def test_a_stalled_replica_means_no_ack_and_the_resend_is_acked_once_it_is_back(
    pair: Pair, client: RedisClient
) -> None:
    registry = await _registry(client, "replica")
    assert pair.replica.pid is not None
    os.kill(pair.replica.pid, signal.SIGSTOP)
    with pytest.raises(NotDurable):
        await registry.run("s", "m1", counter("m1"))
    with pytest.raises(StorageUnavailable):  # the resend: committed, still not durable
        await registry.run("s", "m1", counter("m1"))
    os.kill(pair.replica.pid, signal.SIGCONT)
    again = await registry.run("s", "m1", counter("m1"))
    assert again.duplicate and again.result == {"count": 1}  # one effect, now acknowledged
    assert pair.replica_has("s", "m1")
    recorded = await registry.recorded("s", "m1")
    assert recorded is not None and recorded.result == {"count": 1}


async def test_without_durability_a_stalled_replica_does_not_hold_the_ack(
    pair: Pair, client: RedisClient
) -> None:
    # The window the setting closes: acked while only the primary has the turn.
    registry = await _registry(client, "none")
    assert pair.replica.pid is not None
    os.kill(pair.replica.pid, signal.SIGSTOP)
    result = await registry.run("s", "m1", counter("m1"))
    assert result.result == {"count": 1}
    os.kill(pair.replica.pid, signal.SIGCONT)


async def test_a_record_the_primary_no_longer_holds_is_not_acked(
    pair: Pair, client: RedisClient
) -> None:
    # After a failover to a replica that never got the commit, the record is gone: the resend
    # must not be confirmed from thin air (it runs the turn again instead).
    registry = await _registry(client, "replica")
    assert registry.durability is not None
    with pytest.raises(NotDurable):
        await registry.durability.confirm("s", "never-committed")


async def test_aof_durability_needs_the_aof(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, appendonly=False).start()
    made = connect(server.url)
    try:
        durability = Durability(made, (await make_registry(made, 2000)).storage.keys,
                                Policy(replica=False, aof=True, timeout_ms=100))  # fmt: skip
        with pytest.raises(ConfigError, match="AOF"):
            await durability.check()
    finally:
        await made.aclose()
        server.cleanup()
