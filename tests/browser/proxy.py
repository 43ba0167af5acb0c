"""A loopback round-robin TCP proxy: the page's single origin in front of several workers.

Each accepted connection goes to the next live backend (a backend that refuses is skipped), so
consecutive connections of one page land on different workers, as behind a plain load balancer
with no sticky sessions. It runs its own event loop in a thread so sync tests can drive it.

It can also play a poor link: `throttle(bits_per_s)` limits what clients send (an uplink of
~250 kbit/s, shared by every connection, as one laptop's), `cut()` drops every open
connection at once (a Wi-Fi drop: the page's socket and its HTTP requests alike), and
`freeze()` makes every open connection go silent without closing (a laptop that slept: its
old connections are dead but nobody said so); new connections work.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence

_CHUNK = 64 * 1024
_THROTTLED_CHUNK = 2048


class _Uplink:
    """A shared rate limit on bytes sent upstream: each piece waits its turn on one clock."""

    def __init__(self) -> None:
        self.bytes_per_s = 0.0
        self._free_at = 0.0
        self.sent = 0  # bytes clients sent through the proxy

    async def pass_(self, n: int) -> None:
        self.sent += n
        if self.bytes_per_s <= 0:
            return
        now = time.monotonic()
        self._free_at = max(self._free_at, now) + n / self.bytes_per_s
        await asyncio.sleep(self._free_at - now)


class RoundRobinProxy:
    def __init__(self, backends: Sequence[tuple[str, int]] = (), host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._backends = list(backends)
        self._next = 0
        self._paused = False
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.routed: list[tuple[str, int]] = []  # the backend each connection went to
        self.uplink = _Uplink()
        self.cuts = 0
        self._generation = 0  # connections accepted before a freeze() stay silent
        self._frozen_below = 0

    # -- control (from the test's thread) ------------------------------------------------------
    def start(self) -> int:
        """Listen on a free loopback port; returns it."""
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._accept, self.host, 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="rr-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self.port

    def set_backends(self, backends: Sequence[tuple[str, int]]) -> None:
        chosen = list(backends)

        def replace() -> None:
            self._backends = chosen

        self._loop.call_soon_threadsafe(replace)

    def pause(self) -> None:
        """Refuse new connections (close them at once) until `resume()`."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def throttle(self, bits_per_s: float) -> None:
        """Limit what clients send to `bits_per_s` in total (0: no limit)."""
        self.uplink.bytes_per_s = bits_per_s / 8

    def cut(self) -> None:
        """Drop every open connection (both ends closed); new ones are accepted as before."""

        def drop() -> None:
            self.cuts += 1
            for task in list(self._tasks):
                task.cancel()

        self._loop.call_soon_threadsafe(drop)

    def freeze(self) -> None:
        """Every open connection stops carrying bytes (both ways) and is never closed."""

        def stop() -> None:
            self._generation += 1
            self._frozen_below = self._generation

        self._loop.call_soon_threadsafe(stop)

    def stop(self) -> None:
        if self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- the loop's side -----------------------------------------------------------------------
    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self._backends)):
            backend = self._backends[self._next % len(self._backends)]
            self._next += 1
            try:
                up = await asyncio.wait_for(asyncio.open_connection(*backend), timeout=2)
            except (TimeoutError, OSError):
                continue  # dead backend: skip it
            self.routed.append(backend)
            return up
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up = None if self._paused or not self._backends else await self._connect()
        if up is None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        up_reader, up_writer = up
        generation = self._generation

        def alive() -> bool:
            return generation >= self._frozen_below

        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer, alive, self.uplink)),
            asyncio.create_task(self._pipe(up_reader, writer, alive)),
        ]
        try:
            # When either side finishes, the connection is over: close both ends.
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
            for w in (writer, up_writer):
                w.close()
            for task in pipes:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    await w.wait_closed()

    @staticmethod
    async def _pipe(
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        alive: Callable[[], bool],
        uplink: _Uplink | None = None,
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                size = _THROTTLED_CHUNK if uplink is not None and uplink.bytes_per_s else _CHUNK
                data = await src.read(size)
                if not alive():
                    await asyncio.Future()  # frozen: silent until cancelled
                if not data:
                    break
                if uplink is not None:
                    await uplink.pass_(len(data))
                dst.write(data)
                await dst.drain()
