"""A worker's sample file (`tpr_ws/samples.py`) against a real server and a real parsing
process: concurrent asks share one load, a warm-up that cannot reach Redis says so and raises
nothing, and a worker that stops while the sample loads cancels the load."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from tpr_ws.analyses import AnalysisStore
from tpr_ws.conversation import Conversation
from tpr_ws.datasets import DatasetStore
from tpr_ws.embedded import free_port
from tpr_ws.pool import ParsePool
from tpr_ws.registry.client import connect
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry

ConversationFactory = Callable[[str], Conversation]


@pytest.fixture
async def conversation_on() -> AsyncIterator[ConversationFactory]:
    """A worker's conversation (its own parsing process) on the Redis at a URL."""
    made: list[tuple[ParsePool, Storage]] = []

    def make(url: str) -> Conversation:
        storage = Storage(connect(url, timeout_s=1.0, connect_timeout_s=1.0))
        pool = ParsePool(1, 0)
        made.append((pool, storage))
        datasets = DatasetStore(storage, ttl_s=600)
        analyses = AnalysisStore(storage, datasets, ttl_s=600)
        registry = Registry(storage, lease_ttl_ms=10_000)
        return Conversation(registry, datasets, analyses, pool, max_upload_bytes=10**8)

    yield make
    for pool, storage in made:
        pool.shutdown()
        await storage.redis.aclose()


async def test_concurrent_first_asks_share_one_load(
    conversation_on: ConversationFactory, redis_url: str
) -> None:
    sample = conversation_on(redis_url).sample
    first, second = await asyncio.gather(sample.uploaded(), sample.uploaded())
    assert first is second  # one load answered both (two would make two equal uploads)
    assert await sample.uploaded() is first  # and later asks, while Redis holds its dataset


async def test_a_warm_up_that_cannot_reach_redis_says_so_and_raises_nothing(
    conversation_on: ConversationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sample = conversation_on(f"redis://127.0.0.1:{free_port()}/0").sample
    with caplog.at_level(logging.WARNING, logger="tpr_ws.samples"):
        await sample.warm()
    assert "could not load the sample at start" in caplog.text


async def test_a_worker_stopping_while_the_sample_loads_cancels_the_load(
    conversation_on: ConversationFactory, redis_url: str
) -> None:
    sample = conversation_on(redis_url).sample
    asker = asyncio.create_task(sample.uploaded())
    await asyncio.sleep(0)  # the ask has started the load (its parsing process is not up yet)
    await sample.close()
    with pytest.raises(asyncio.CancelledError):
        await asker
    assert [t for t in asyncio.all_tasks() if t.get_name() == "sample-load"] == []
