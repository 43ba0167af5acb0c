"""Test harness: real worker processes on loopback and a protocol-speaking chat client."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tpr_ws.embedded import free_port

REPO = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """`python -m tpr_ws worker` on a loopback port, sharing Redis and the secret."""

    def __init__(self, redis_url: str, secret: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.redis_url = redis_url
        self.secret = secret
        self.log_path = log_dir / f"worker-{self.port}.log"
        self.extra_env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> WorkerProcess:
        """Launch and wait until it answers /readyz."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> WorkerProcess:
        """Launch without waiting (start several, then wait for each)."""
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "TPR_WS_SECRET": self.secret,
            "TPR_WS_LEASE_TTL_MS": "3000",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tpr_ws", "worker", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/readyz", timeout=1) as r,
            ):
                if r.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready: {self.log_path.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class ChatClient:
    """Speaks the wire protocol; checks that the events it sees are gap-free and unique.

    ``protocol=2`` says so in its hello: each ack then carries its turn's events."""

    def __init__(self, http: aiohttp.ClientSession, protocol: int | None = None) -> None:
        self.http = http
        self.protocol = protocol
        self.sid = ""
        self.token = ""
        self.events: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.close_codes: list[int | None] = []  # one per socket, as the server closed it
        self.closed_at: float | None = None  # when the last socket's reader ended
        self.anomalies: list[str] = []  # gaps or duplicates seen (the reader then stops)

    @property
    def closed(self) -> bool:
        """No socket, or the server closed it (a reconnect is due)."""
        return self._reader is None or self._reader.done()

    @property
    def last_seq(self) -> int:
        return int(self.events[-1]["seq"]) if self.events else 0

    async def create_session(self, base_url: str) -> None:
        async with self.http.post(base_url + "/api/sessions") as r:
            assert r.status == 201, await r.text()
            body = await r.json()
        self.sid, self.token = body["session_id"], body["token"]

    async def connect(
        self, base_url: str, *, last_seq: int | None = None, timeout: float = 15.0
    ) -> None:
        await self.disconnect()
        ws_url = base_url.replace("http", "ws", 1) + "/ws"  # http -> ws, https -> wss
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation
        async with asyncio.timeout(timeout):
            self.ws = await self.http.ws_connect(ws_url, autoping=True)
        await self.ws.send_str(
            orjson.dumps(
                {
                    "type": "hello",
                    "session_id": self.sid,
                    "token": self.token,
                    "last_seq": self.last_seq if last_seq is None else last_seq,
                    **({"protocol": self.protocol} if self.protocol else {}),
                }
            ).decode()
        )
        errors_before = len(self.errors)
        reader = self._reader = asyncio.create_task(self._read(self.ws))
        await self.wait_until(
            lambda: bool(self.welcome) or reader.done() or len(self.errors) > errors_before,
            timeout=timeout,
        )
        if not self.welcome:  # refused (an error frame) or closed: say why
            raise ConnectionError(f"hello not welcomed: {self.errors[errors_before:]!r}")
        # the replay of what this client missed follows the welcome
        await self.wait_until(lambda: self.last_seq >= self.welcome["last_seq"], timeout=timeout)

    async def disconnect(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None
        self.welcome = {}

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            await self._read_frames(ws)
        finally:
            self.close_codes.append(ws.close_code)
            self.closed_at = time.monotonic()
            # A say whose socket is gone will never be acked on it: its waiter learns now.
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(ConnectionResetError("socket closed before the ack"))
            self._acks.clear()
            self._changed.set()

    async def _read_frames(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = orjson.loads(msg.data)
            self.frames.append(frame)
            kind = frame["type"]
            if kind == "welcome":
                self.welcome = frame
            elif kind == "event":
                self._event(frame)
            elif kind == "resync":
                self.events = list(frame["events"])
            elif kind == "ack":
                for event in frame.get("events", ()):
                    self._event(event)
                fut = self._acks.get(frame["id"])
                if fut is not None and not fut.done():
                    fut.set_result(frame)
            elif kind == "error":
                self.errors.append(frame)
                fut = self._acks.get(frame.get("id", ""))
                if fut is not None and not fut.done():
                    fut.set_result(frame)
            self._changed.set()

    def _event(self, event: dict[str, Any]) -> None:
        seq = event["seq"]
        if seq != self.last_seq + 1:
            self.anomalies.append(f"gap or duplicate: got {seq} after {self.last_seq}")
        assert seq == self.last_seq + 1, self.anomalies[-1]
        self.events.append(event)

    async def send_raw(self, data: str) -> None:
        assert self.ws is not None
        await self.ws.send_str(data)

    async def say(
        self, text: str, *, mid: str | None = None, wait: bool = True, timeout: float = 60.0
    ) -> dict[str, Any]:
        mid = mid or uuid.uuid4().hex
        frame = orjson.dumps({"type": "say", "id": mid, "text": text}).decode()
        if not wait:
            await self.send_raw(frame)
            return {"id": mid}
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[mid] = fut
        try:
            await self.send_raw(frame)
            async with asyncio.timeout(timeout):
                return await fut
        finally:
            # Not waited for any more (answered, timed out, or the send failed): a socket
            # closing later must not set an exception nobody retrieves.
            if self._acks.get(mid) is fut:
                del self._acks[mid]

    async def wait_until(self, predicate: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("condition not met; last frames: " + repr(self.frames[-5:]))
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(min(remaining, 0.5)):
                    await self._changed.wait()

    def bot_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["role"] == "bot" and not e["data"].get("progress")]

    def last_bot(self) -> dict[str, Any]:
        return self.bot_events()[-1]

    async def wait_stage(
        self, stage: str, after_seq: int = 0, timeout: float = 120.0
    ) -> dict[str, Any]:
        def found() -> bool:
            return any(e["seq"] > after_seq and e.get("stage") == stage for e in self.bot_events())

        await self.wait_until(found, timeout)
        return [e for e in self.bot_events() if e["seq"] > after_seq and e["stage"] == stage][-1]

    async def upload(
        self, base_url: str, data: bytes, file_name: str, key: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        form = aiohttp.FormData()
        form.add_field(
            "file", io.BytesIO(data), filename=file_name, content_type="application/octet-stream"
        )
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": key or uuid.uuid4().hex,
        }
        async with self.http.post(
            f"{base_url}/api/sessions/{self.sid}/upload", data=form, headers=headers
        ) as r:
            return r.status, await r.json()

    async def download(self, base_url: str, name: str) -> tuple[int, bytes, str]:
        """The latest results as `name` (results.csv, report.html, ...), with the Bearer token."""
        url = f"{base_url}/api/sessions/{self.sid}/{name}"
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.get(url, headers=headers) as r:
            return r.status, await r.read(), r.headers.get("Content-Disposition", "")

    async def links(self, base_url: str, key: str) -> dict[str, Any]:
        """Signed download links of analysis `key` ({"expires_at", "links": {fmt: url}})."""
        url = f"{base_url}/api/sessions/{self.sid}/results/{key}/links"
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.get(url, headers=headers) as r:
            assert r.status == 200, await r.text()
            body: dict[str, Any] = await r.json()
            return body
