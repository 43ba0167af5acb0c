"""The upload parsing pool: spawned processes with a memory cap, replaced if one dies."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from tpr_ws.errors import ErrorCode, ServerError, UploadRejected

T = TypeVar("T")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """A pool process must not outlive its worker: a SIGKILLed worker cannot shut its pool
    down, and the children hold both ends of their call queue, so they would wait forever."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the watchdog below still works
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_process(parent: int, limit_bytes: int) -> None:
    """Pool initializer: die with the worker; a file that expands past the memory cap fails
    alone; import the parsing stack before the first upload needs it."""
    _die_with_parent(parent)
    if limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    import tpr_ws.domain.pipeline  # noqa: F401


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
            initializer=_init_process,
            initargs=(os.getpid(), self._limit),
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
                code=ErrorCode.TOO_LARGE,
            ) from None  # fmt: skip
        except BrokenProcessPool:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new()
            raise ServerError("the parser process stopped; upload the file again") from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
