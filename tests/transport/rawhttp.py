"""A hand-driven HTTP upload: send a body piece by piece (or stop), then read the answer."""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.request

import orjson

BOUNDARY = "tprwsboundary7c1f"


class RawUpload:
    """One multipart upload on its own connection, whose body the test sends as it likes."""

    def __init__(self, port: int, sid: str, token: str, file_name: str, size: int) -> None:
        self.port, self.sid, self.token = port, sid, token
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.length = len(self.head) + size + len(self.tail)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, extra_headers: dict[str, str] | None = None) -> RawUpload:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "Authorization": f"Bearer {self.token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(self.length),
            **(extra_headers or {}),
        }
        lines = [f"POST /api/sessions/{self.sid}/upload HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + self.head)
        await self.writer.drain()
        return self

    async def send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def finish(self) -> None:
        await self.send(self.tail)

    async def answer(self, timeout: float = 60.0) -> tuple[int, dict[str, str], dict]:
        """The status, headers and JSON body of the server's answer."""
        assert self.reader is not None
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, v in (
                line.split(":", 1) for line in head.decode().split("\r\n")[1:] if ":" in line
            )
        )
        body = await asyncio.wait_for(
            self.reader.readexactly(int(headers["content-length"])), timeout
        )
        return status, headers, orjson.loads(body)

    def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()


def gauge(base_url: str, name: str) -> float:
    """A gauge's value from /metrics (0 if absent)."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll a predicate on server state (files, metrics) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(predicate):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
