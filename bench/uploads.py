"""Bench: what uploads cost a worker, and how long the national file takes to parse.

Usage: .venv/bin/python bench/uploads.py [--uploads 4] [--mb 40] [--no-parse]

1. Memory: `--uploads` bodies of `--mb` MB each are sent to one worker but for their last
   bytes, and held open (stalled) while the worker's resident memory (VmRSS) is read. The
   product spools them to disk; the baseline (bench/baselines/upload_memory.py, the former
   in-memory reader) holds them in RAM. Both run in this invocation, on loopback.
2. Parse time (the figure behind TPR_WS_PARSE_TIMEOUT_S): the national sample file (bench/
   ingest.py's generator and cache) parsed in-process (baseline) and through the product's
   parsing pool from a spooled file, median of 3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.transport.rawhttp import RawUpload
from tpr_ws.embedded import EmbeddedRedis, free_port


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server not ready")


async def _held_rss(port: int, pid: int, sid: str, token: str, uploads: int, mb: int) -> float:
    """Send `uploads` bodies of `mb` MB but for their last byte; the RSS while they are held."""
    size = mb * 1_048_576
    raws = [await RawUpload(port, sid, token, "big.xlsx", size).open() for _ in range(uploads)]
    block = b"\0" * 1_048_576
    try:
        for raw in raws:
            for _ in range(mb - 1):
                await raw.send(block)
            await raw.send(block[:-1])
        await asyncio.sleep(2.0)  # let the server read what is in flight
        return _rss_mb(pid)
    finally:
        for raw in raws:
            raw.close()


async def _session(base: str) -> tuple[str, str]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.post(base + "/api/sessions") as r:
        body = await r.json()
    return body["session_id"], body["token"]


def memory(uploads: int, mb: int) -> dict[str, tuple[float, float]]:
    results = {}
    with EmbeddedRedis(appendonly=False) as server, tempfile.TemporaryDirectory() as spool:
        port = free_port()
        env = {
            **os.environ,
            "REDIS_URL": server.url,
            "TPR_WS_SECRET": secrets.token_urlsafe(24),
            "TPR_WS_UPLOAD_DIR": spool,
            "TPR_WS_MAX_UPLOADS_PER_CLIENT": str(uploads),
            "TPR_WS_MAX_UPLOADS_PER_SESSION": str(uploads),
        }
        cmds = {
            "product (spooled)": [sys.executable, "-m", "tpr_ws", "worker", "--port", str(port)],
            "baseline (in memory)": [
                sys.executable, "-m", "bench.baselines.upload_memory", str(port)
            ],
        }  # fmt: skip
        for name, cmd in cmds.items():
            proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_ready(base, proc)
                if name.startswith("product"):
                    sid, token = asyncio.run(_session(base))
                else:
                    sid, token = "x" * 22, "t"
                idle = _rss_mb(proc.pid)
                held = asyncio.run(_held_rss(port, proc.pid, sid, token, uploads, mb))
                results[name] = (idle, held)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    return results


def parse_times(runs: int = 3) -> tuple[int, float, float]:
    from bench.ingest import cached_file
    from tpr_ws.domain.pipeline import process_upload
    from tpr_ws.pool import ParsePool, parse_spooled

    path = cached_file(None, "A", 0)
    data = path.read_bytes()
    inline, pooled = [], []
    for _ in range(runs):
        started = time.perf_counter()
        process_upload(data, path.name, 200 * 1_048_576)
        inline.append(time.perf_counter() - started)

    async def through_pool() -> None:
        pool = ParsePool(1, 6 * 1024**3, timeout_s=None)
        try:
            await pool.run(int)  # started and imported: not part of the figure
            for _ in range(runs):
                started = time.perf_counter()
                await pool.run(parse_spooled, str(path), path.name, 200 * 1_048_576)
                pooled.append(time.perf_counter() - started)
        finally:
            pool.shutdown()

    asyncio.run(through_pool())
    return len(data), statistics.median(inline), statistics.median(pooled)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--mb", type=int, default=40)
    parser.add_argument("--no-parse", action="store_true")
    args = parser.parse_args()
    print(f"\n{args.uploads} uploads of {args.mb} MB held open, worker resident memory (MB):")
    print(f"{'server':24} {'idle':>8} {'held':>8} {'growth':>8}")
    rows = memory(args.uploads, args.mb)
    for name, (idle, held) in rows.items():
        print(f"{name:24} {idle:8.0f} {held:8.0f} {held - idle:8.0f}")
    product = rows["product (spooled)"]
    baseline = rows["baseline (in memory)"]
    ratio = (product[1] - product[0]) / max(1.0, baseline[1] - baseline[0])
    print(f"growth ratio product/baseline: {ratio:.2f}")
    if not args.no_parse:
        size, inline, pooled = parse_times()
        print(f"\nnational sample file ({size / 1_048_576:.1f} MB, layout A), median of 3:")
        print(f"  parsed in-process (baseline)          {inline:6.2f} s")
        print(f"  parsed in the pool from a spooled file {pooled:6.2f} s")
        print("  TPR_WS_PARSE_TIMEOUT_S default 300 s = "
              f"{300 / max(inline, pooled):.0f}x the slower of the two")  # fmt: skip


if __name__ == "__main__":
    main()
