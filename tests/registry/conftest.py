"""Registry fixtures: every core test runs against a standalone server and a 3-master cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from tpr_ws.registry.client import RedisClient, connect
from tpr_ws.registry.storage import Storage


@dataclass(frozen=True)
class Backend:
    kind: str  # "standalone" | "cluster"
    url: str


ClientFactory = Callable[[], Awaitable[RedisClient]]


@pytest.fixture(params=["standalone", pytest.param("cluster", marks=pytest.mark.cluster)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """A flushed server of each kind; the cluster starts only when a cluster test runs."""
    fixture = "redis_url" if request.param == "standalone" else "redis_cluster_url"
    return Backend(request.param, request.getfixturevalue(fixture))


@pytest.fixture
async def client_factory(backend: Backend) -> AsyncIterator[ClientFactory]:
    """New asyncio clients of the backend's kind; closed after the test."""
    clients: list[RedisClient] = []

    async def make() -> RedisClient:
        client: RedisClient
        if backend.kind == "cluster":
            client = connect(backend.url, cluster=True)
            await client.initialize()
        else:
            client = connect(backend.url)  # the product's client: scripts on the shared pipe
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def storage(client_factory: ClientFactory) -> Storage:
    """Storage on a fresh client, with a small log so trimming is easy to reach."""
    return Storage(await client_factory(), prefix="t", log_max_events=50)
