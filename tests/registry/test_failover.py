"""A primary failover on a Redis Cluster with replicas: a holder that stalled across it (its
event loop blocked, as under SIGSTOP or a long pause) is still fenced, and every turn
acknowledged with TPR_WS_DURABILITY=replica survives the promotion."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.registry.counter import count_of
from tests.registry.helpers import PREFIX, counter, make_registry
from tests.soak.cluster import Cluster
from tpr_ws.errors import Fenced, LeaseLost, StorageUnavailable
from tpr_ws.registry.client import RedisClient, connect
from tpr_ws.registry.durability import Durability, Policy
from tpr_ws.registry.turns import Lease, Registry, TurnOutput

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

TTL_MS = 1000


async def _durable_registry(url: str) -> tuple[RedisClient, Registry]:
    client = connect(url, cluster=True)
    await client.initialize()  # type: ignore[union-attr]
    registry = await make_registry(client, TTL_MS)
    registry.durability = Durability(client, registry.storage.keys, Policy(True, False, 2000))
    return client, registry


def stalled_holder(url: str, sid: str, inside: Any, go: Any, out: Any) -> None:
    """Take the lease, then block the event loop (no renewal can run) until `go`; report how
    the late commit ended."""

    async def main() -> None:
        client, registry = await _durable_registry(url)

        async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
            inside.set()
            go.wait()  # a stall the renewer cannot see: the whole loop is blocked
            return TurnOutput(b'{"count": 100}', [{"text": "stale"}], {"count": 100})

        try:
            await registry.run(sid, "stale", turn)
            out.put("committed")
        except Fenced:
            out.put("fenced")
        except (LeaseLost, StorageUnavailable) as exc:
            out.put(f"{type(exc).__name__}: {exc}")
        finally:
            await client.aclose()

    asyncio.run(main())


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path / "cluster").start()
    yield made
    made.stop()


@pytest.fixture
async def registry(cluster: Cluster) -> AsyncIterator[Registry]:
    client, made = await _durable_registry(cluster.nodes[0].url)
    yield made
    await client.aclose()


async def test_holder_stalled_across_a_failover_is_fenced(
    cluster: Cluster, registry: Registry
) -> None:
    sid = "z"
    assert (await registry.run(sid, "m1", counter("m1"))).result == {"count": 1}
    ctx = multiprocessing.get_context("spawn")
    inside, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
    holder = ctx.Process(target=stalled_holder, args=(cluster.nodes[0].url, sid, inside, go, out))
    holder.start()
    try:
        assert await asyncio.to_thread(inside.wait, 60)
        redis = registry.storage.redis
        owner = redis.get_node_from_key(f"{PREFIX}:{{{sid}}}:lease")  # type: ignore[union-attr]
        await asyncio.to_thread(cluster.kill_primary, cluster.node(int(owner.port)), lag_s=0.0)
        # The promoted replica has the stalled holder's lease; once it expires, another
        # worker's turn runs, commits, and is acknowledged durably.
        done = await asyncio.wait_for(registry.run(sid, "m2", counter("m2")), 60)
        assert done.result == {"count": 2}
        go.set()
        outcome = await asyncio.to_thread(out.get, True, 60)
    finally:
        go.set()
        holder.join(30)
    assert outcome == "fenced"
    assert count_of(await registry.storage.load_state(sid)) == 2
    log = await registry.storage.read_log(sid, 0)
    assert [e["reply_to"] for e in log.events] == ["m1", "m2"]
