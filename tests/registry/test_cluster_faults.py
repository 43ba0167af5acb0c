"""What redis-py's cluster client raises while a cluster changes is a `RedisError` (so a
retryable `storage_unavailable`), never an exception outside that hierarchy: provoked on a
real cluster (a slot nobody serves, every node gone, connections closed under commands in
flight by the client's own re-initialisation)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import RedisError

from tests.cluster import start_cluster
from tests.harness import REPO
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.client import ClusterUnavailable, LeanCluster, connect
from tpr_ws.registry.durability import Durability, Policy
from tpr_ws.registry.keys import KeySpace

pytestmark = [
    pytest.mark.cluster,
    # redis-py's reaction to CLUSTERDOWN leaves sockets for the collector to close
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[EmbeddedRedis]]:
    # The shipped node configuration: the other shards serve while one is down.
    made, _ = start_cluster(tmp_path, masters=3, config_file=REPO / "deploy" / "redis-cluster.conf")
    yield made
    for node in made:
        node.stop()


@pytest.fixture
async def client(nodes: list[EmbeddedRedis]) -> AsyncIterator[LeanCluster]:
    made = connect(nodes[0].url, cluster=True, timeout_s=2.0, connect_timeout_s=0.5)
    assert isinstance(made, LeanCluster)
    await made.initialize()
    yield made
    await made.aclose()


async def test_a_slot_nobody_serves_is_a_retryable_storage_error(
    nodes: list[EmbeddedRedis], client: LeanCluster
) -> None:
    # As while a failed primary's slots wait for a promotion that has not happened: its
    # slot answers CLUSTERDOWN and the refreshed slot map leaves it uncovered
    # (SlotNotCoveredError, "All slots are not covered": outside redis-py's RedisError).
    key = "tpr:{s}:seq"
    for node in nodes:
        plain = redis.Redis.from_url(node.url)
        try:
            plain.cluster("DELSLOTS", plain.cluster("KEYSLOT", key))
        finally:
            plain.close()
    with pytest.raises(ClusterUnavailable) as raised:
        await client.get(key)
    assert isinstance(raised.value, RedisError)
    # The durable confirmation's own route to the slot's primary maps it the same way.
    durability = Durability(client, KeySpace("tpr"), Policy(True, False, 100))
    with pytest.raises(RedisError):
        await durability.confirm("s", "m1")


async def test_every_node_gone_is_a_retryable_storage_error(
    nodes: list[EmbeddedRedis], client: LeanCluster
) -> None:
    for node in nodes:
        node.kill()
    with pytest.raises(RedisError):
        await client.get("tpr:{s}:seq")
    with pytest.raises(RedisError):  # the topology refresh itself ("cannot be connected")
        await client.get("tpr:{t}:seq")


async def test_commands_in_flight_when_the_client_closes_its_connections(
    client: LeanCluster,
) -> None:
    # redis-py answers CLUSTERDOWN / an uncovered slot by closing every connection of the
    # client (`aclose`), under the commands other tasks have in flight: each must succeed or
    # fail with a RedisError (a writer or reader gone under it was an AttributeError). The
    # close lands at another point of the commands' progress each round, until one was hit.
    provoked = strays = 0
    for spins in range(200):
        calls = [asyncio.ensure_future(client.set(f"tpr:{{s{i}}}:x", i)) for i in range(200)]
        for _ in range(spins % 20):
            await asyncio.sleep(0)
        await client.aclose()
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, RedisError):
                strays += 1
            elif isinstance(outcome, ClusterUnavailable):
                provoked += isinstance(outcome.__cause__, AttributeError)
        if strays or provoked:
            break
    assert strays == 0
    assert provoked > 0


async def test_a_slot_nobody_serves_does_not_fail_the_commands_in_flight_on_others(
    nodes: list[EmbeddedRedis], client: LeanCluster
) -> None:
    # redis-py's reaction to CLUSTERDOWN (and to a failed slot-map refresh) was to close every
    # connection of the client: every command in flight on a healthy node failed too, and
    # their failures closed them again (a storm outlasting a failover by seconds).
    key = "tpr:{s}:seq"
    down = client.keyslot(key)
    for node in nodes:
        plain = redis.Redis.from_url(node.url)
        try:
            plain.cluster("DELSLOTS", down)
        finally:
            plain.close()
    keys = [k for k in (f"tpr:{{o{i}}}:x" for i in range(90)) if client.keyslot(k) != down]
    for _ in range(5):
        calls = [asyncio.ensure_future(client.set(k, 1)) for k in keys]
        with pytest.raises(ClusterUnavailable):
            await client.get(key)
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert [o for o in outcomes if isinstance(o, BaseException)] == []
