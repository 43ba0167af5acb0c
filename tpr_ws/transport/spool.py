"""Upload bodies spooled to disk while they stream: never whole in a worker's memory, removed
after use (and, after a crash, by the next worker to start).

A body must keep arriving: at least `min_progress_bytes` in every `stall_s` seconds. That
judges progress, not total time: a slow but steady line (an analyst's ~230 kbit/s brings
~1.7 MB a minute) always gets through, a body that stops (or trickles) is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import IO, Any, TypeVar

from aiohttp import BodyPartReader, web

from tpr_ws import procs
from tpr_ws.domain.blob import file_hasher, file_sha256
from tpr_ws.errors import ErrorCode, ProtocolError, TimedOut, TooLarge
from tpr_ws.pool import SpooledFile

T = TypeVar("T")
_PREFIX = "tpr-ws-upload-"
_CHUNK = 256 * 1024


class _Progress:
    """The progress deadline: each window of `stall_s` must bring `min_bytes`."""

    def __init__(self, stall_s: float, min_bytes: int) -> None:
        self._stall_s = stall_s
        self._min_bytes = min_bytes
        self._window_start = time.monotonic()
        self._window_bytes = 0

    def arrived(self, n: int) -> None:
        self._window_bytes += n
        if self._window_bytes >= self._min_bytes:
            self._window_start, self._window_bytes = time.monotonic(), 0

    async def within(self, step: Awaitable[T]) -> T:
        """Await one read of the body, or TimedOut when the window ends first."""
        left = self._window_start + self._stall_s - time.monotonic()
        try:
            async with asyncio.timeout(max(left, 0.0)):
                return await step
        except TimeoutError:
            raise TimedOut(
                f"The upload stopped arriving (less than {self._min_bytes // 1024} KB in "
                f"{self._stall_s:.0f} s); send it again.",
                code=ErrorCode.UPLOAD_STALLED,
            ) from None


async def spool_upload(
    request: web.Request, directory: Path, *, limit: int, stall_s: float, min_progress_bytes: int
) -> SpooledFile:
    """Stream the multipart field `file` to a new file in `directory`; the caller removes it
    (`SpooledFile.remove`). Refuses the body as soon as it passes `limit` or stalls."""
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise _too_large(limit)
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise _bad_upload() from None
    progress = _Progress(stall_s, min_progress_bytes)
    while (part := await progress.within(reader.next())) is not None:
        if isinstance(part, BodyPartReader) and part.name == "file":
            file_name = Path(part.filename or "upload").name[:200]
            return await _write(part, file_name, directory, limit, progress)
    raise _bad_upload()


async def _write(
    part: BodyPartReader, file_name: str, directory: Path, limit: int, progress: _Progress
) -> SpooledFile:
    fd, name = await asyncio.to_thread(_create, directory)
    hasher, size = file_hasher(), 0
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:  # big chunks: no buffer to flush
            while chunk := await progress.within(part.read_chunk(_CHUNK)):
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                progress.arrived(len(chunk))
                await asyncio.to_thread(_append, out, hasher, chunk)
    except BaseException:
        os.unlink(name)
        raise
    return SpooledFile(Path(name), file_name, size, hasher.hexdigest())


async def spool_bytes(directory: Path, data: bytes, file_name: str) -> SpooledFile:
    """Bytes already received (a resumable upload's chunks) as a spooled file, so that every
    upload reaches the parsing pool the same way."""

    def write() -> SpooledFile:
        fd, name = _create(directory)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return SpooledFile(Path(name), file_name, len(data), file_sha256(data))

    return await asyncio.to_thread(write)


def _create(directory: Path) -> tuple[int, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=directory)


def _append(out: IO[bytes], hasher: Any, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[out.write(view) or 0 :]
    hasher.update(chunk)


def remove_orphans(directory: Path) -> int:
    """Remove spooled files left by workers that died mid-upload; returns how many."""
    removed = 0
    if not directory.is_dir():
        return 0
    for path in directory.glob(f"{_PREFIX}*"):
        pid = path.name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not procs.alive(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"The file is larger than the {limit // 1_048_576} MB limit.")


def _bad_upload() -> ProtocolError:
    return ProtocolError(
        "Send the file as multipart/form-data in a field named 'file'.", code=ErrorCode.BAD_UPLOAD
    )
