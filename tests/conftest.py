"""Real-Redis fixtures shared by every test package (the suite always starts its own server)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from tests.cluster import start_cluster
from tpr_ws.embedded import EmbeddedRedis

RedisFactory = Callable[..., aioredis.Redis]
ClusterFactory = Callable[..., RedisCluster]


def pytest_configure(config: pytest.Config) -> None:
    # An operator's REDIS_URL must never be touched by tests: the suite starts its own server.
    os.environ.pop("REDIS_URL", None)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One private server for the whole run (AOF off: tests that need AOF start their own)."""
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis"), appendonly=False)
    server.start()
    yield server
    server.stop()


def _flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """URL of the shared server, flushed before the test."""
    if not redis_server.running:  # a test may have stopped it; bring it back
        redis_server.start()
    _flush(redis_server.url)
    return redis_server.url


@pytest.fixture
async def redis_factory(redis_url: str) -> AsyncIterator[RedisFactory]:
    """Factory of asyncio clients on the shared server; all are closed after the test."""
    clients: list[aioredis.Redis] = []

    def make(url: str | None = None, **kwargs: object) -> aioredis.Redis:
        client = aioredis.Redis.from_url(url or redis_url, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="session")
def cluster_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[EmbeddedRedis]]:
    """A local 3-master cluster, started on first use only."""
    nodes, _ = start_cluster(Path(tmp_path_factory.mktemp("cluster")), masters=3)
    yield nodes
    for node in nodes:
        node.stop()


@pytest.fixture
def redis_cluster_url(cluster_servers: list[EmbeddedRedis]) -> str:
    """URL of one node of the local cluster, every master flushed before the test."""
    for node in cluster_servers:
        _flush(node.url)
    return cluster_servers[0].url


@pytest.fixture
async def cluster_factory(redis_cluster_url: str) -> AsyncIterator[ClusterFactory]:
    """Factory of asyncio cluster clients; all are closed after the test."""
    clients: list[RedisCluster] = []

    def make(url: str | None = None, **kwargs: object) -> RedisCluster:
        client = RedisCluster.from_url(url or redis_cluster_url, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
