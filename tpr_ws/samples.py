"""The sample file (what a user gets by answering "sample") as an upload, per worker: loaded
once (concurrent asks share one load), and in the background as the worker starts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from tpr_ws.actors.events import FileUploaded
from tpr_ws.datasets import DatasetStore
from tpr_ws.domain.blob import file_sha256
from tpr_ws.domain.pipeline import ProcessedUpload, process_upload
from tpr_ws.domain.sample.generator import GeneratedFile, sample_upload
from tpr_ws.errors import TprWsError
from tpr_ws.pool import ParsePool

log = logging.getLogger(__name__)

Parse = Callable[[], Awaitable[ProcessedUpload]]
# The upload whose bytes hash to the given SHA-256: parsed before (by any worker), or parsed
# now and stored (`Conversation._process`).
Process = Callable[[str, str, Parse], Awaitable[FileUploaded]]


def _generated() -> tuple[GeneratedFile, str]:
    sample = sample_upload()
    return sample, file_sha256(sample.data)


def _collect(task: asyncio.Task[FileUploaded]) -> None:
    """A load every asker gave up on: its failure is nobody's (the next ask loads again)."""
    if not task.cancelled():
        task.exception()


class SampleFile:
    """The sample as an upload. It is deterministic: each worker generates it once, and its
    dataset, parsed by whichever worker came first, is found by the file's hash while Redis
    still holds it."""

    def __init__(
        self, datasets: DatasetStore, pool: ParsePool, process: Process, *, max_upload_bytes: int
    ) -> None:
        self._datasets = datasets
        self._pool = pool
        self._process = process
        self._max_upload_bytes = max_upload_bytes
        self._known: FileUploaded | None = None
        self._loading: asyncio.Task[FileUploaded] | None = None

    async def uploaded(self) -> FileUploaded:
        """The sample's upload, its dataset stored."""
        known = self._known
        if known is not None and await self._datasets.meta(known.blob_key) is not None:
            return known
        if self._loading is None or self._loading.done():
            self._loading = asyncio.create_task(self._load(), name="sample-load")
            self._loading.add_done_callback(_collect)
        # Shielded: an asker that gives up (its socket closed) leaves the load to the others.
        return await asyncio.shield(self._loading)

    async def _load(self) -> FileUploaded:
        sample, sha256 = await asyncio.to_thread(_generated)
        data, name = sample.data, sample.file_name
        known = await self._process(
            sha256, name, lambda: self._pool.run(process_upload, data, name, self._max_upload_bytes)
        )
        self._known = known
        return known

    async def warm(self) -> None:
        """Load it now (a starting worker, Redis connected, serving meanwhile): the first
        "sample" of a fresh worker then does not wait for its parsing process to start and
        parse the file (under load, longer than a client waits for its ack). Best effort: on
        failure the first ask loads it."""
        try:
            await self.uploaded()
        except (TprWsError, RedisError, OSError) as exc:
            log.warning("could not load the sample at start (%s); it loads when asked", exc)

    async def close(self) -> None:
        """The worker stops: a load still running is cancelled (before its pool and Redis)."""
        loading = self._loading
        if loading is not None and not loading.done():
            loading.cancel()
            await asyncio.wait({loading})
