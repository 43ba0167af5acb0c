"""The dataset store against a real server: results need only the per-ward sums."""

from __future__ import annotations

import pandas as pd
import redis.asyncio as aioredis

from tpr_ws.datasets import DatasetStore
from tpr_ws.domain.blob import dataset_key
from tpr_ws.domain.pipeline import process_upload
from tpr_ws.domain.sample.generator import generate
from tpr_ws.domain.tpr import compute_tpr
from tpr_ws.domain.ward_sums import compute_tpr_from_sums
from tpr_ws.registry.storage import Storage


async def _stored(redis_url: str) -> tuple[Storage, str, pd.DataFrame]:
    made = generate("A", "tiny", seed=3)
    processed = process_upload(made.data, made.file_name, 10**8)
    storage = Storage(aioredis.Redis.from_url(redis_url))
    writer = DatasetStore(storage, ttl_s=600)
    meta = {"report": processed.report, "overview": processed.overview}
    key = dataset_key(processed.sha256)
    await writer.put(key, processed.blob, processed.sums, meta)
    return storage, key, await writer.frame(key)


async def test_a_worker_that_never_saw_the_file_computes_from_the_sums_alone(
    redis_url: str,
) -> None:
    storage, key, frame = await _stored(redis_url)
    # Without the rows in Redis, a cold worker still answers every choice: it reads the sums.
    await storage.redis.delete(storage.keys.blob(key))
    cold = DatasetStore(storage, ttl_s=600)
    sums = await cold.sums(key)
    state = str(frame["state"].iloc[0])
    for level, age in (("Primary", "u5"), ("All", "all"), ("Tertiary", "pw")):
        got = compute_tpr_from_sums(sums, state, level, age)
        want = compute_tpr(frame, state, level, age)
        pd.testing.assert_frame_equal(got.wards, want.wards, check_exact=True)
        assert got.summary == want.summary
    await storage.redis.aclose()


async def test_a_dataset_stored_without_sums_gets_them_built_once(redis_url: str) -> None:
    storage, key, frame = await _stored(redis_url)
    sums_key = storage.keys.blob_sums(key)
    await storage.redis.delete(sums_key)
    store = DatasetStore(storage, ttl_s=600)
    sums = await store.sums(key)
    assert await storage.redis.exists(sums_key) == 1
    assert 0 < await storage.redis.ttl(sums_key) <= 600
    state = str(frame["state"].iloc[0])
    got = compute_tpr_from_sums(sums, state, "All", "all")
    pd.testing.assert_frame_equal(got.wards, compute_tpr(frame, state, "All", "all").wards)
    await storage.redis.aclose()
