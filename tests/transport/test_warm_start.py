"""A fresh worker loads the sample as it starts: the first "sample" it gets, under load, does not
wait for its parsing process to start and parse the file (longer than a client waits)."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.transport.conftest import WorkerFactory
from tpr_ws.domain.blob import dataset_key, file_sha256
from tpr_ws.domain.sample.generator import sample_upload
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.keys import KeySpace


async def test_a_fresh_worker_loads_the_sample_before_anyone_asks(
    worker_factory: WorkerFactory, redis_server: EmbeddedRedis
) -> None:
    key = dataset_key(await asyncio.to_thread(lambda: file_sha256(sample_upload().data)))
    keys = KeySpace("tpr")
    meta = keys.blob_meta(key)
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        await client.delete(keys.blob(key), keys.blob_sums(key), meta)  # no worker has it
        worker_factory(1)  # and no session asks for it
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not await client.exists(meta):
            assert loop.time() < deadline, "the worker did not load the sample at start"
            await asyncio.sleep(0.1)  # observing Redis: there is no event to wait on
    finally:
        await client.aclose()
