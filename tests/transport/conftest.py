"""Fixtures: several real worker processes on loopback sharing the suite's Redis server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.harness import ChatClient, WorkerProcess
from tpr_ws.embedded import EmbeddedRedis

WorkerFactory = Callable[..., list[WorkerProcess]]


@pytest.fixture
def worker_factory(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start `n` workers on one Redis with one shared secret; all are stopped after the test."""
    started: list[WorkerProcess] = []
    secret = secrets.token_urlsafe(24)
    if not redis_server.running:
        redis_server.start()

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
