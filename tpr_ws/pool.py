"""The upload parsing pool: spawned processes with a memory cap, replaced if one dies."""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from tpr_ws.errors import ServerError, UploadRejected

T = TypeVar("T")


def _limit_memory(limit_bytes: int) -> None:
    """Pool initializer: a file that expands past the cap fails alone, not the host."""
    if limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    import tpr_ws.domain.pipeline  # noqa: F401  (import the parsing stack before the first upload)


class ParsePool:
    """A ProcessPoolExecutor (spawn: the worker has an event loop and threads that must not be
    forked) that survives the death of its processes."""

    def __init__(self, processes: int, memory_limit_bytes: int) -> None:
        self._processes = processes
        self._limit = memory_limit_bytes
        self._executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_limit_memory,
            initargs=(self._limit,),
        )
        executor.submit(int)  # start the processes now, not on the first upload
        return executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except MemoryError:
            raise UploadRejected(
                ["The file needs more memory to read than this server allows; "
                 "split it (for example by state) and upload the parts."],
                code="too_large",
            ) from None  # fmt: skip
        except BrokenProcessPool:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new()
            raise ServerError("the parser process stopped; upload the file again") from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
