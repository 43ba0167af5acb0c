"""The upload parsing pool: spawned processes with a memory cap and a time limit per call.

Each process runs one call at a time. A call that outlives the time limit has its process
killed and replaced (the other processes and the calls queued for them are untouched); so does
a call whose process dies or whose caller gives up on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from tpr_ws.domain.pipeline import ProcessedUpload, process_upload
from tpr_ws.errors import ErrorCode, ServerError, UploadRejected

T = TypeVar("T")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class SpooledFile:
    """An upload body on disk (the transport spools it there), read by a parsing process."""

    path: Path
    file_name: str
    size: int
    sha256: str  # of the file's bytes (`domain.blob.file_sha256`)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def parse_spooled(path: str, file_name: str, max_bytes: int) -> ProcessedUpload:
    """Runs in a parsing process: the file is read there, once; the worker never holds it."""
    return process_upload(Path(path).read_bytes(), file_name, max_bytes)


def _die_with_parent(parent: int) -> None:
    """A pool process must not outlive its worker: a SIGKILLed worker cannot shut its pool
    down, and the process would wait on its pipe forever."""
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


def _serve(conn: Connection, parent: int, limit_bytes: int) -> None:
    """A parsing process: die with the worker; a file that expands past the memory cap fails
    alone; the parsing stack is imported before the first upload needs it; then run calls."""
    _die_with_parent(parent)
    if limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    conn.send(("ready", os.getpid()))  # imported and set up: calls are timed from here
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, ConnectionResetError):  # the worker is gone (a reset: killed)
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except BaseException as exc:
            reply = ("error", exc)
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result or error
            conn.send(("error", ServerError(f"parser reply could not be sent: {exc!r}")))


class _Process:
    """One parsing process and its end of the pipe."""

    def __init__(self, parent: int, limit_bytes: int) -> None:
        context = multiprocessing.get_context("spawn")  # the worker has threads: never fork
        self.conn, child = context.Pipe()
        self.proc = context.Process(
            target=_serve, args=(child, parent, limit_bytes), name="tpr-ws-parser", daemon=True
        )
        self.proc.start()
        child.close()
        self.ready = False  # it sends "ready" once imported (imports take seconds)
        self._receiving: Future[Any] | None = None

    def receive(self, readers: ThreadPoolExecutor) -> asyncio.Future[Any]:
        """The next message from the process, read by a thread off the event loop."""
        self._receiving = readers.submit(self.conn.recv)
        return asyncio.wrap_future(self._receiving)

    def kill(self) -> None:
        """Kill the process; its pipe closes once the thread reading it has seen the end."""
        self.proc.kill()
        receiving = self._receiving
        if receiving is None or receiving.done():
            self._close()
        else:
            receiving.add_done_callback(lambda _: self._close())

    def _close(self) -> None:
        self.conn.close()
        self.proc.join(timeout=5)


class ParsePool:
    """`processes` parsing processes, each capped at `memory_limit_bytes` (0: no cap); a call
    running longer than `timeout_s` (None: no limit) is refused as `parse_timeout`."""

    def __init__(
        self, processes: int, memory_limit_bytes: int, timeout_s: float | None = None
    ) -> None:
        self._limit = memory_limit_bytes
        self._timeout_s = timeout_s
        self._parent = os.getpid()
        self._idle = [_Process(self._parent, self._limit) for _ in range(processes)]
        self._free = asyncio.Semaphore(processes)
        # One thread per process waits on its pipe, off the event loop.
        self._readers = ThreadPoolExecutor(processes, thread_name_prefix="parse-pipe")

    @property
    def pids(self) -> list[int]:
        """The processes waiting for work (for tests and operators)."""
        return [p.proc.pid for p in self._idle if p.proc.pid is not None]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a parsing process; its errors are raised here."""
        async with self._free:
            process = self._idle.pop()
            try:
                if not process.ready:
                    await process.receive(self._readers)
                    process.ready = True
                process.conn.send((fn, args))
                async with asyncio.timeout(self._timeout_s):
                    status, value = await process.receive(self._readers)
            except BaseException as exc:
                # Timed out, died, or its caller gave up: the process may still be busy.
                process.kill()
                process = _Process(self._parent, self._limit)
                raise _failure(exc, self._timeout_s) from None
            finally:
                self._idle.append(process)
        if status == "ok":
            result: T = value
            return result
        if isinstance(value, MemoryError):
            raise UploadRejected(
                ["The file needs more memory to read than this server allows; "
                 "split it (for example by state) and upload the parts."],
                code=ErrorCode.TOO_LARGE,
            ) from None  # fmt: skip
        raise value

    def shutdown(self) -> None:
        for process in self._idle:
            process.kill()
        self._idle.clear()
        self._readers.shutdown(wait=False, cancel_futures=True)


def _failure(exc: BaseException, timeout_s: float | None) -> BaseException:
    if isinstance(exc, TimeoutError):
        return UploadRejected(
            [f"Reading this file took longer than the server's limit ({timeout_s:.0f} s); "
             "split it (for example by state) and upload the parts."],
            code=ErrorCode.PARSE_TIMEOUT,
        )  # fmt: skip
    if isinstance(exc, EOFError | OSError):
        return ServerError("the parser process stopped; upload the file again")
    return exc
