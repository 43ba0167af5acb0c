"""The gunicorn worker class of `tpr-ws serve`: aiohttp's worker, made to roll without a gap.

On a reload (SIGHUP) gunicorn forks the new workers and at once sends SIGTERM to the old ones.
aiohttp's own worker then stops accepting on the shared listening socket immediately, while
the new workers are still booting: for that long nobody accepts, and every client sent away
waits in the listen backlog. This worker, told to quit while its master has successors
booting, keeps accepting and serving until a worker of a newer generation answers /readyz on
the shared socket (at most half of gunicorn's graceful_timeout), and only then stops accepting,
finishes the turns in flight and closes its sockets with 1001 (`tpr_ws.app`).

The master loads this module (it names the worker class), so it imports no tpr_ws module at
import time: what the master imports, forked workers inherit instead of loading the new code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.worker import GunicornUVLoopWebWorker, GunicornWebWorker

SUCCESSOR_SHARE = 0.4  # of graceful_timeout: the longest an old worker waits for a new one
HANDLERS_SHARE = 0.2  # of graceful_timeout: requests still running after the sockets closed


def master_children(master: int) -> int:
    """How many processes the gunicorn master has (from /proc: workers, old and new)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
            count += int(stat.rsplit(")", 1)[1].split()[1]) == master
    return count


class RollingWorker(GunicornWebWorker):
    """aiohttp's gunicorn worker that keeps accepting until a successor answers (see module)."""

    generation = 0  # set by the master before the fork (gunicorn_conf.pre_fork)

    async def _run(self) -> None:
        app = self.wsgi if isinstance(self.wsgi, web.Application) else await self.wsgi()
        from tpr_ws.app import set_generation  # after the fork: this release's code

        set_generation(app, self.generation)
        graceful = float(self.cfg.graceful_timeout)
        runner = web.AppRunner(
            app,
            logger=self.log,
            keepalive_timeout=self.cfg.keepalive,
            access_log=None,  # the app logs requests itself, without query strings
            shutdown_timeout=graceful * HANDLERS_SHARE,
        )
        await runner.setup()
        ssl_context = self._create_ssl_context(self.cfg) if self.cfg.is_ssl else None
        for sock in self.sockets:
            await web.SockSite(runner, sock, ssl_context=ssl_context).start()
        self.booted = True
        await self._serve_until_quit()
        # In a thread: reading /proc takes a while on a busy machine, and meanwhile this
        # worker must go on accepting (its siblings are reading it too).
        if await asyncio.to_thread(self._successors_booting):
            self.log.info("worker %s (generation %s): waiting for a successor", self.pid,
                          self.generation)  # fmt: skip
            found = await self._wait_for_successor(graceful * SUCCESSOR_SHARE)
            self.log.info("worker %s: successor %s; stopping", self.pid, found or "not found")
        await runner.cleanup()

    async def _serve_until_quit(self) -> None:
        """aiohttp's loop: heartbeat every second until told to quit or orphaned."""
        pid = os.getpid()
        while self.alive:
            self.notify()
            if pid == os.getpid() and self.ppid != os.getppid():
                self.alive = False
                self.log.info("Parent changed, shutting down: %s", self)
            else:
                await self._wait_next_notify()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM: quit gracefully, at once (aiohttp's worker noticed it within a second)."""
        self.alive = False
        self._notify_waiter_done()

    def _successors_booting(self) -> bool:
        """A reload: the master forked the new workers before telling the old ones to quit,
        so it has more children than workers (a plain stop or a scale-down has not)."""
        return master_children(self.ppid) > int(self.cfg.workers)

    def _probe_url(self) -> tuple[str, aiohttp.BaseConnector]:
        """/readyz on the shared listening socket (TCP or Unix), and a connector that opens
        a fresh connection per request (each may be accepted by any worker)."""
        address = self.sockets[0].sock.getsockname()
        scheme = "https" if self.cfg.is_ssl else "http"
        if isinstance(address, str):
            return f"{scheme}://localhost/readyz", aiohttp.UnixConnector(address, force_close=True)
        host = str(address[0])
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        host = f"[{host}]" if ":" in host else host
        connector = aiohttp.TCPConnector(force_close=True, ssl=False)
        return f"{scheme}://{host}:{address[1]}/readyz", connector

    async def _wait_for_successor(self, bound_s: float) -> str | None:
        """Until a ready worker of a newer generation answers (its id), or `bound_s` passed
        (None); this worker keeps accepting and serving meanwhile."""
        url, connector = self._probe_url()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound_s
        timeout = aiohttp.ClientTimeout(total=1.0)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            while loop.time() < deadline:
                self.notify()  # the master's heartbeat check
                answer = await _readyz(http, url)
                if answer and int(answer.get("generation", -1)) > self.generation:
                    return str(answer.get("worker"))
                await asyncio.sleep(0.05)
        return None


async def _readyz(http: aiohttp.ClientSession, url: str) -> dict[str, Any] | None:
    """The body of a 200 /readyz, or None (not ready, refused, timed out)."""
    with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
        async with http.get(url) as response:
            if response.status == 200:
                body = await response.json()
                return body if isinstance(body, dict) else None
    return None


class RollingUVLoopWorker(RollingWorker, GunicornUVLoopWebWorker):
    """The same on uvloop (the optional extra `tpr-ws[fast]`)."""
