"""Fixtures: several real worker processes on loopback sharing the suite's Redis server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis

from tests.harness import ChatClient, WorkerProcess
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.keys import KeySpace

WorkerFactory = Callable[..., list[WorkerProcess]]


@pytest.fixture
def worker_factory(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start `n` workers on one Redis with one shared secret; all are stopped after the test.

    The whole suite is one client (127.0.0.1) for longer than the limits' windows: each test
    starts with fresh windows, so it meets only its own limits."""
    started: list[WorkerProcess] = []
    secret = secrets.token_urlsafe(24)
    if not redis_server.running:
        redis_server.start()
    reset_quotas(redis_server.url)

    def start(n: int = 3, **env: str) -> list[WorkerProcess]:
        workers = [WorkerProcess(redis_server.url, secret, tmp_path, **env) for _ in range(n)]
        for w in workers:
            started.append(w)
            w.start()
        return workers

    yield start
    for w in started:
        w.kill()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        yield session


@pytest.fixture
def client_factory(http: aiohttp.ClientSession) -> Iterator[Callable[[], ChatClient]]:
    clients: list[ChatClient] = []

    def make() -> ChatClient:
        c = ChatClient(http)
        clients.append(c)
        return c

    yield make


def reset_quotas(url: str) -> None:
    """Delete every quota window (new sessions, messages, upload bytes) on the server."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=KeySpace().quota_pattern(), count=1000):
            client.delete(key)
    finally:
        client.close()
