"""Bench: sending the national CSV over a ~250 kbit/s uplink, with and without gzip.

Usage: .venv/bin/python bench/upload.py [--kbit 250] [--sample-kib 512] [--full]

The national CSV (`tpr-ws sample --preset national --format csv`, layout A, seed 0) is generated
once and cached under $TMPDIR/tpr_ws_bench. A private Redis-protocol server and one worker run
on loopback behind the browser tests' proxy (tests/browser/proxy.py), which limits what the
client sends to --kbit. The client speaks the page's protocol: tus, 256 KiB chunks, each with a
SHA-256 Upload-Checksum, the file's SHA-256 in the metadata.

A whole national upload at 250 kbit/s takes many minutes, so by default the throttled part is
scaled down: --sample-kib of the file go through the throttle to measure the effective rate
(chunk round trips and headers included), and the time for each whole file is extrapolated
from it (bytes / rate). The server's part (decode, check, parse, commit) is then measured by
sending each whole file unthrottled. --full sends both whole files through the throttle instead.
Gzip is level 6, zlib's default, as the browser's CompressionStream('gzip') uses.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import hashlib
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser.proxy import RoundRobinProxy
from tests.harness import WorkerProcess
from tpr_ws.domain.sample.generator import generate
from tpr_ws.embedded import EmbeddedRedis

CHUNK = 256 * 1024  # the page's chunk size (static/js/resumable.js)


def _generate_to(path: str) -> None:
    Path(path).write_bytes(generate("A", "national", seed=0, fmt="csv").data)


def national_csv() -> bytes:
    """The national CSV, generated once (in a child process) and cached."""
    cache = Path(os.environ.get("TPR_WS_BENCH_CACHE", Path(tempfile.gettempdir()) / "tpr_ws_bench"))
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / "national_layoutA_seed0.csv"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        part = path.with_suffix(".part")
        child = multiprocessing.get_context("spawn").Process(target=_generate_to, args=(str(part),))
        child.start()
        child.join()
        part.rename(path)
    return path.read_bytes()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Client:
    """The page's side of the protocol, in Python."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.headers: dict[str, str] = {}
        self.sid = ""

    async def session(self) -> None:
        async with self.http.post(self.base + "/api/sessions") as r:
            body = await r.json()
        self.sid = body["session_id"]
        self.headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {body['token']}"}

    async def send(self, body: bytes, *, encoding: str, sha256: str, stop_at: int) -> float:
        """Create an upload of `body` and PATCH it up to `stop_at` bytes; seconds taken."""
        meta = f"filename {_b64('national.csv')},encoding {_b64(encoding)},sha256 {_b64(sha256)}"
        started = time.perf_counter()
        headers = {**self.headers, "Upload-Length": str(len(body)), "Upload-Metadata": meta}
        async with self.http.post(
            f"{self.base}/api/sessions/{self.sid}/files", headers=headers
        ) as r:
            assert r.status == 201, await r.text()
            location = r.headers["Location"]
        offset = 0
        while offset < stop_at:
            chunk = body[offset : offset + CHUNK]
            digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
            patch = {
                **self.headers,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Upload-Checksum": f"sha256 {digest}",
            }
            async with self.http.patch(self.base + location, data=chunk, headers=patch) as r:
                assert r.status == 204, await r.text()
                offset = int(r.headers["Upload-Offset"])
        return time.perf_counter() - started


async def measure(
    args: argparse.Namespace, data: bytes, packed: bytes, base: str
) -> dict[str, float]:
    sha = hashlib.sha256(data).hexdigest()
    timeout = aiohttp.ClientTimeout(total=None)
    out: dict[str, float] = {}
    async with aiohttp.ClientSession(timeout=timeout) as http:
        c = Client(http, base)
        for name, body, encoding in (("raw", data, "identity"), ("gzip", packed, "gzip")):
            await c.session()  # a fresh session for each (its unfinished-bytes quota)
            stop = len(body) if args.full else min(len(body), args.sample_kib * 1024)
            out[f"{name}_throttled_s"] = await c.send(
                body, encoding=encoding, sha256=sha, stop_at=stop
            )
            out[f"{name}_throttled_bytes"] = stop
    return out


async def server_part(data: bytes, packed: bytes, base: str, redis_url: str) -> dict[str, float]:
    """Whole files, unthrottled: what the server adds (decode, check, parse, commit). Redis is
    flushed before each, so neither finds the other's parsed dataset (same content, same key)."""
    sha = hashlib.sha256(data).hexdigest()
    out: dict[str, float] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
        c = Client(http, base)
        for name, body, encoding in (("raw", data, "identity"), ("gzip", packed, "gzip")):
            flush = redis.Redis.from_url(redis_url)
            flush.flushall()
            flush.close()
            await c.session()
            out[f"{name}_loopback_s"] = await c.send(
                body, encoding=encoding, sha256=sha, stop_at=len(body)
            )
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kbit", type=float, default=250.0)
    parser.add_argument("--sample-kib", type=int, default=512)
    parser.add_argument("--full", action="store_true", help="send both whole files throttled")
    args = parser.parse_args(argv)

    data = national_csv()
    packed = gzip.compress(data, compresslevel=6)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "redis", appendonly=False).start()
        # The limits must admit the whole national file (its CSV may exceed the 100 MB default).
        room = str(max(100 * 1024 * 1024, 2 * len(data)))
        worker = WorkerProcess(
            server.url, secrets.token_urlsafe(24), Path(tmp),
            TPR_WS_MAX_UPLOAD_BYTES=room, TPR_WS_UPLOAD_MAX_PENDING_BYTES=room,
        ).start()  # fmt: skip
        proxy = RoundRobinProxy([("127.0.0.1", worker.port)])
        proxy.start()
        try:
            proxy.throttle(args.kbit * 1000)
            throttled = asyncio.run(measure(args, data, packed, proxy.url))
            proxy.throttle(0)
            loop = asyncio.run(server_part(data, packed, proxy.url, server.url))
        finally:
            proxy.stop()
            worker.stop()
            server.stop()
    report(args, data, packed, throttled, loop)
    return 0


def report(
    args: argparse.Namespace,
    data: bytes,
    packed: bytes,
    throttled: dict[str, float],
    loop: dict[str, float],
) -> None:
    mib = 1024 * 1024
    print(f"\nnational CSV: {len(data) / mib:.1f} MiB; gzip -6: {len(packed) / mib:.1f} MiB "
          f"({100 * (1 - len(packed) / len(data)):.0f}% less to send, ratio "
          f"{len(data) / len(packed):.1f}:1)")  # fmt: skip
    print(
        f"uplink: {args.kbit:.0f} kbit/s through the loopback proxy; chunks of {CHUNK // 1024} KiB"
    )
    scaled = "" if args.full else " (extrapolated from the throttled part)"
    rows = []
    for name, body in (("without compression", data), ("with gzip", packed)):
        key = "raw" if name.startswith("without") else "gzip"
        rate = throttled[f"{key}_throttled_bytes"] / throttled[f"{key}_throttled_s"]
        link = len(body) / rate
        server = loop[f"{key}_loopback_s"]
        rows.append((name, len(body), rate, link, server))
    print(f"\n{'':22} {'bytes sent':>12} {'rate kbit/s':>12} {'link time':>12} "
          f"{'server part':>12} {'total':>12}")  # fmt: skip
    for name, size, rate, link, server in rows:
        print(f"{name:22} {size / mib:>10.1f}Mi {rate * 8 / 1000:>12.0f} {_mmss(link):>12} "
              f"{_mmss(server):>12} {_mmss(link + server):>12}")  # fmt: skip
    base, gz = rows[0][3] + rows[0][4], rows[1][3] + rows[1][4]
    print(f"\ngzip saves {_mmss(base - gz)} of {_mmss(base)}: {base / gz:.1f}x faster{scaled}")
    print(
        "server part = the whole file sent unthrottled on loopback: decode, SHA-256, parse, commit"
    )


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
