"""Parsed datasets by dataset key (`domain.blob.dataset_key`: the file's SHA-256 and the parse
version): small per-worker caches in front of the Redis blob store.

Results are computed from a dataset's per-ward sums (a few hundred KB for the national file),
so a choice change reads only those; the full rows are decoded only for an old dataset stored
before its sums existed (the sums are then built once and stored). A miss costs one GET and an
Arrow decode; nothing here is needed by another worker.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import orjson
import pandas as pd

from tpr_ws.domain.blob import decode_dataset
from tpr_ws.domain.ward_sums import (
    WardSums,
    build_ward_sums,
    decode_ward_sums,
    encode_ward_sums,
)
from tpr_ws.errors import ClientError, ErrorCode
from tpr_ws.registry.storage import Storage

T = TypeVar("T")


class _LoadOnce(Generic[T]):
    """A small LRU of loaded values by key; concurrent callers of one key share one load."""

    def __init__(self, size: int) -> None:
        self._cache: OrderedDict[str, T] = OrderedDict()
        self._size = size
        self._loading: dict[str, asyncio.Future[T]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
            future.set_result(value)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the waiters re-raise it themselves
            raise
        finally:
            del self._loading[key]
        self._cache[key] = value
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return value


def _expired() -> ClientError:
    return ClientError(
        "The uploaded file is no longer stored on the server; please upload it again.",
        code=ErrorCode.DATASET_EXPIRED,
    )


class DatasetStore:
    """Load, store and cache parsed datasets, their per-ward sums and upload metadata."""

    def __init__(
        self, storage: Storage, *, ttl_s: int, cache_size: int = 4, sums_cache_size: int = 64
    ) -> None:
        self._storage = storage
        self._ttl_s = ttl_s
        self._frames: _LoadOnce[pd.DataFrame] = _LoadOnce(cache_size)
        self._sums: _LoadOnce[WardSums] = _LoadOnce(sums_cache_size)

    async def put(self, key: str, blob: bytes, sums: bytes, meta: dict[str, Any]) -> None:
        # Metadata last: its presence means the blob and its sums are complete.
        await self._storage.put_blob(key, blob, self._ttl_s)
        await self._storage.put_blob_sums(key, sums, self._ttl_s)
        await self._storage.put_blob_meta(key, orjson.dumps(meta), self._ttl_s)

    async def meta(self, key: str) -> dict[str, Any] | None:
        raw = await self._storage.get_blob_meta(key)
        if raw is None:
            return None
        meta: dict[str, Any] = orjson.loads(raw)
        return meta

    async def frame(self, key: str) -> pd.DataFrame:
        """The decoded dataset (every row)."""

        async def load() -> pd.DataFrame:
            blob = await self._storage.get_blob(key)
            if blob is None:
                raise _expired()
            return await asyncio.to_thread(decode_dataset, blob)

        return await self._frames.get(key, load)

    async def sums(self, key: str) -> WardSums:
        """The dataset's per-ward sums (what every results turn reads)."""

        async def load() -> WardSums:
            data = await self._storage.get_blob_sums(key)
            if data is None:
                # Stored before sums existed: build them from the rows, once, for everyone.
                frame = await self.frame(key)
                data = await asyncio.to_thread(lambda: encode_ward_sums(build_ward_sums(frame)))
                await self._storage.put_blob_sums(key, data, self._ttl_s)
            return await asyncio.to_thread(decode_ward_sums, data)

        return await self._sums.get(key, load)
