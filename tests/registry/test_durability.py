"""Durable acks (TPR_WS_DURABILITY): a primary and a real replica; the replica stalled (SIGSTOP)
is the replication lag that loses acknowledged turns in a failover."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from tests.registry.helpers import PREFIX, counter, make_registry
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.errors import ConfigError, StorageUnavailable
from tpr_ws.registry.client import RedisClient, connect
from tpr_ws.registry.durability import Durability, NotDurable, Policy
from tpr_ws.registry.turns import Registry, TurnResult


@dataclass
class Pair:
    primary: EmbeddedRedis
    replica: EmbeddedRedis

    def replica_has(self, sid: str, message_id: str) -> bool:
        """Whether the replica has the message's record (False if it does not answer)."""
        client = redis.Redis.from_url(self.replica.url, socket_timeout=1)
        try:
            return bool(client.hexists(f"{PREFIX}:{{{sid}}}:msgs", message_id))
        except redis.TimeoutError:
            return False
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


async def _resent_until_acked(registry: Registry, sid: str, message_id: str) -> TurnResult:
    """What a client does: resend the same id until it is acknowledged (a replica just woken
    from SIGSTOP may take longer than one confirmation's timeout to catch up)."""
    for _ in range(50):
        try:
            return await registry.run(sid, message_id, counter(message_id))
        except NotDurable:
            continue
    raise AssertionError(f"{message_id} never acknowledged")


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
    again = await _resent_until_acked(registry, "s", "m1")
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


class Channel:
    """Another worker's view of a session's channel: every payload published on it, in order."""

    def __init__(self, url: str, channel: str) -> None:
        self.client = aioredis.Redis.from_url(url)
        self.pubsub = self.client.pubsub()
        self.channel = channel
        self.payloads: list[bytes] = []

    async def __aenter__(self) -> Channel:
        await self.pubsub.subscribe(self.channel)
        while (await self.pubsub.get_message(timeout=5))["type"] != "subscribe":  # type: ignore[index]
            pass
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()

    async def until_marker(self) -> list[bytes]:
        """Everything published before now: a marker published now arrives after it all."""
        marker = secrets.token_hex(4).encode()
        await self.client.publish(self.channel, marker)
        seen: list[bytes] = []
        while True:
            message = await self.pubsub.get_message(timeout=5)
            assert message is not None, "the marker never came back"
            if message["type"] != "message":
                continue
            if message["data"] == marker:
                return seen
            seen.append(message["data"])


async def test_no_tab_gets_an_event_before_it_is_durable(pair: Pair, client: RedisClient) -> None:
    # The stalled replica is the lag that a failover turns into a lost commit: an event shown
    # before the confirmation would be a tab holding an event the promoted log never gets.
    registry = await _registry(client, "replica")
    delivered: list[tuple[int, bool]] = []  # this worker's sockets: (seq, durable when given)
    registry.on_committed = lambda sid, events: delivered.extend(
        (e["seq"], pair.replica_has(sid, e["reply_to"])) for e in events
    )
    assert pair.replica.pid is not None
    channel = registry.storage.events_channel("s")
    async with Channel(pair.primary.url, channel) as other_worker:
        os.kill(pair.replica.pid, signal.SIGSTOP)
        with pytest.raises(NotDurable):
            await registry.run("s", "m1", counter("m1"))
        with pytest.raises(NotDurable):  # progress appended outside a turn: the same
            await registry.append("s", [{"text": "progress", "reply_to": "u"}])
        assert await other_worker.until_marker() == []
        assert delivered == []
        os.kill(pair.replica.pid, signal.SIGCONT)
        # The resend is answered from the record once durable, with a nudge: read the log.
        again = await _resent_until_acked(registry, "s", "m1")
        assert again.duplicate
        assert await other_worker.until_marker() == [b"|null"]
        # A turn confirmed at once: delivered here and published for the others, after.
        await registry.run("s", "m2", counter("m2"))
        published = await other_worker.until_marker()
        origin, _, body = published[0].partition(b"|")
        assert origin == registry.storage.wake_tag.encode()
        assert [e["seq"] for e in orjson.loads(body)] == [3]
        assert delivered == [(3, True)]
    log = await registry.storage.read_log("s", 0)
    assert [e["reply_to"] for e in log.events] == ["m1", "u", "m2"]
