"""Parsed datasets by content key: a small per-worker cache in front of the Redis blob store.

A miss costs one GET and an Arrow decode; nothing here is needed by another worker.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

import orjson
import pandas as pd

from tpr_ws.domain.blob import decode_dataset
from tpr_ws.errors import ClientError, ErrorCode
from tpr_ws.registry.storage import Storage


class DatasetStore:
    """Load, store and cache parsed datasets (frames) and their upload metadata."""

    def __init__(self, storage: Storage, *, ttl_s: int, cache_size: int = 4) -> None:
        self._storage = storage
        self._ttl_s = ttl_s
        self._cache: OrderedDict[str, pd.DataFrame] = OrderedDict()
        self._cache_size = cache_size
        self._loading: dict[str, asyncio.Future[pd.DataFrame]] = {}

    async def put(self, key: str, blob: bytes, meta: dict[str, Any]) -> None:
        # Metadata last: its presence means the blob is complete.
        await self._storage.put_blob(key, blob, self._ttl_s)
        await self._storage.put_blob_meta(key, orjson.dumps(meta), self._ttl_s)

    async def meta(self, key: str) -> dict[str, Any] | None:
        raw = await self._storage.get_blob_meta(key)
        if raw is None:
            return None
        meta: dict[str, Any] = orjson.loads(raw)
        return meta

    async def frame(self, key: str) -> pd.DataFrame:
        """The decoded dataset; concurrent callers share one load."""
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[pd.DataFrame] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            blob = await self._storage.get_blob(key)
            if blob is None:
                raise ClientError(
                    "The uploaded file is no longer stored on the server; please upload it again.",
                    code=ErrorCode.DATASET_EXPIRED,
                )
            frame = await asyncio.to_thread(decode_dataset, blob)
            future.set_result(frame)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the waiters re-raise it themselves
            raise
        finally:
            del self._loading[key]
        self._cache[key] = frame
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return frame
