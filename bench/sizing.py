"""Sizing figures for deploy/README.md: Redis memory per session, worker memory per open
socket, and chat turns per second with 1, 2 and 3 workers on this machine.

    python bench/sizing.py [--sessions 200] [--sockets 1000] [--seconds 15]

Everything runs against `tpr-ws serve` (gunicorn, aiohttp workers) on loopback with its own
Redis. Sessions do the whole workflow on the sample data (its parsed blob and result objects are
shared by every session that makes the same choice: they are counted apart).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp
import redis

from tests.harness import ChatClient
from tests.soak.deployment import ServeInstance
from tpr_ws.embedded import EmbeddedRedis

WORKFLOW = ("sample", "Kano", "Primary", "u5")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def redis_bytes(url: str) -> tuple[int, int]:
    """(used_memory, keys) of the server."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"]), int(client.dbsize())
    finally:
        client.close()


async def sessions_memory(base: str, url: str, n: int) -> dict[str, float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        warm = ChatClient(http)  # the shared sample blob and result objects: counted apart
        await warm.create_session(base)
        await warm.connect(base)
        for text in WORKFLOW:
            await warm.say(text)
        before, keys_before = redis_bytes(url)
        clients = [ChatClient(http) for _ in range(n)]
        for c in clients:
            await c.create_session(base)
        created, _ = redis_bytes(url)

        async def workflow(c: ChatClient) -> None:
            await c.connect(base)
            for text in WORKFLOW:
                assert (await c.say(text))["type"] == "ack"
            await c.disconnect()

        for start in range(0, n, 20):
            await asyncio.gather(*(workflow(c) for c in clients[start : start + 20]))
        after, keys_after = redis_bytes(url)
    return {
        "created_b": (created - before) / n,
        "workflow_b": (after - before) / n,
        "keys": (keys_after - keys_before) / n,
    }


async def socket_memory(base: str, pid_of_worker: list[int], n: int) -> float:
    """RSS per open, greeted socket, averaged over the instance's workers."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        owner = ChatClient(http)
        await owner.create_session(base)
        before = sum(rss_kb(p) for p in pid_of_worker)
        clients = []
        for start in range(0, n, 100):
            batch = [ChatClient(http) for _ in range(min(100, n - start))]
            for c in batch:
                c.sid, c.token = owner.sid, owner.token
            await asyncio.gather(*(c.connect(base) for c in batch))
            clients += batch
        await asyncio.sleep(1.0)
        after = sum(rss_kb(p) for p in pid_of_worker)
        await asyncio.gather(*(c.disconnect() for c in clients))
    return (after - before) * 1024 / n


async def turns_per_second(base: str, users: int, seconds: float) -> float:
    """Closed loop: each user a session, one socket, "status" again and again."""
    done = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def user() -> None:
            nonlocal done
            c = ChatClient(http)
            await c.create_session(base)
            await c.connect(base)
            await c.say("sample")
            while time.monotonic() < deadline:
                await c.say("status", mid=uuid.uuid4().hex)
                done += 1
            await c.disconnect()

        await asyncio.gather(*(user() for _ in range(users)))
    return done / seconds


def instance(tmp: Path, redis_url: str, workers: int) -> ServeInstance:
    secret = secrets.token_urlsafe(24)
    made = ServeInstance(f"size{workers}", redis_url, secret, tmp, workers=workers)
    made.launch()
    made.wait_ready()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(data_dir=Path(tmp) / "r") as server:
        one = instance(Path(tmp), server.url, 1)
        try:
            mem = asyncio.run(sessions_memory(one.url, server.url, args.sessions))
            per_socket = asyncio.run(socket_memory(one.url, one.worker_pids(), args.sockets))
            idle_rss = rss_kb(one.worker_pids()[0]) / 1024
        finally:
            one.stop()
        rates = {}
        for workers in (1, 2, 3):
            made = instance(Path(tmp), server.url, workers)
            try:
                rates[workers] = asyncio.run(turns_per_second(made.url, 40, args.seconds))
            finally:
                made.stop()
    print(f"\nsizing on this machine ({__import__('os').cpu_count()} cores, shared)")
    print(
        f"Redis per session: {mem['created_b'] / 1024:.1f} KiB created, "
        f"{mem['workflow_b'] / 1024:.1f} KiB after a whole workflow ({mem['keys']:.1f} keys)"
    )
    print(
        f"worker: {idle_rss:.0f} MiB RSS after the run; {per_socket / 1024:.1f} KiB per open "
        f"socket ({args.sockets} sockets)"
    )
    print(f"{'workers':>7} {'turns/s':>8} {'x 1 worker':>10}")
    for workers, rate in rates.items():
        print(f"{workers:>7} {rate:>8.0f} {rate / rates[1]:>10.2f}")


if __name__ == "__main__":
    main()
