"""Result objects by key: stored once in Redis (immutable, with a TTL), computed only when
missing, and kept decoded in a small per-worker cache.

A result is a pure function of its inputs, so whichever worker computes it first stores it and
every later request (the page's table, a download, an analysis opened again) reads those bytes.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from tpr_ws import __version__
from tpr_ws.datasets import DatasetStore
from tpr_ws.domain.analysis import StoredResult, decode_result, encode_result, result_key
from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.versions import RULE_VERSION
from tpr_ws.domain.ward_sums import compute_tpr_from_sums
from tpr_ws.registry.storage import Storage

CACHE_SIZE = 32


class AnalysisStore:
    """Get or compute the result object of one analysis."""

    def __init__(self, storage: Storage, datasets: DatasetStore, *, ttl_s: int) -> None:
        self._storage = storage
        self._datasets = datasets
        self._ttl_s = ttl_s
        self._cache: OrderedDict[str, StoredResult] = OrderedDict()

    async def raw(self, key: str) -> bytes | None:
        """The stored bytes of a result object (gzip JSON), or None if it is not kept."""
        return await self._storage.get_result(key, self._ttl_s)

    async def get(self, key: str) -> StoredResult | None:
        """The decoded result object of `key`, or None if it is not kept."""
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        data = await self.raw(key)
        if data is None:
            return None
        return self._remember(await asyncio.to_thread(decode_result, data))

    async def get_or_compute(
        self, dataset_key: str, state: str, level: str, age: str, *, key: str = ""
    ) -> StoredResult:
        """The analysis `key` if it is stored (an analysis opened again keeps its bytes), else
        the one of these inputs under the current rule: stored, or computed and stored."""
        for wanted in dict.fromkeys(k for k in (key, result_key(dataset_key, state, level, age))):
            if wanted and (found := await self.get(wanted)) is not None:
                return found
        sums = await self._datasets.sums(dataset_key)  # per-ward sums made at upload
        result = await asyncio.to_thread(
            compute_tpr_from_sums, sums, state, FacilityLevel(level), AgeGroup(age)
        )
        data = await asyncio.to_thread(
            encode_result, result, dataset_key=dataset_key, product_version=__version__
        )
        made = StoredResult(result_key(dataset_key, state, level, age), dataset_key,
                            RULE_VERSION, __version__, result)  # fmt: skip
        stored = await self._storage.put_result(made.key, data, self._ttl_s)
        if stored != data:  # another worker stored it first: serve its bytes everywhere
            made = await asyncio.to_thread(decode_result, stored)
        return self._remember(made)

    def _remember(self, found: StoredResult) -> StoredResult:
        self._cache[found.key] = found
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found
