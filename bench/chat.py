"""Chat turns through real WebSockets: 100 simulated users doing the conversation, against
gunicorn with 1, 2 and 4 aiohttp workers, plus Redis commands per turn.

    python bench/chat.py [--users 100] [--rounds 2] [--workers 1,2,4]

Every user: create a session, connect, use the sample data, pick a state, a level and an age
group, then change the age group and the level (recomputed results), ask for status, and
reconnect between steps to a fresh socket (the server may be any worker). A turn's latency is
the time from sending `say` to receiving its `ack`.
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
import uuid
from pathlib import Path

import aiohttp
import orjson
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tpr_ws.embedded import EmbeddedRedis, free_port

# Users vary their choices (state, level, age group), so the workers compute several results.
STATES, LEVELS, AGES = ("1", "2"), ("all", "primary"), ("under 5", "5 and over", "all ages")


def script_for(user: int) -> list[str]:
    state, level = STATES[user % 2], LEVELS[(user // 2) % 2]
    age = AGES[(user // 4) % 3]
    return ["sample", state, level, age, "pregnant women", "all levels", "status"]


def _commands(client: redis.Redis) -> tuple[int, int]:
    """(all commands, script calls). INFO commandstats also counts the commands a script runs
    inside the server, so script calls are the closer measure of round trips."""
    stats = client.info("commandstats")
    total = sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))
    scripts = sum(
        int(v["calls"])
        for k, v in stats.items()
        if k in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_fcall")
    )
    return total, scripts


async def _user(
    http: aiohttp.ClientSession, base: str, latencies: list[float], user: int = 0
) -> int:
    async with http.post(base + "/api/sessions") as r:
        body = await r.json()
    sid, token = body["session_id"], body["token"]
    turns = 0
    ws = await http.ws_connect(base.replace("http", "ws") + "/ws")
    await ws.send_str(
        orjson.dumps({"type": "hello", "session_id": sid, "token": token, "last_seq": 0}).decode()
    )
    for text in script_for(user):
        mid = uuid.uuid4().hex
        started = time.perf_counter()
        await ws.send_str(orjson.dumps({"type": "say", "id": mid, "text": text}).decode())
        while True:
            frame = orjson.loads((await ws.receive()).data)
            if frame["type"] == "ack" and frame["id"] == mid:
                latencies.append(time.perf_counter() - started)
                turns += 1
                break
            if frame["type"] == "error":
                raise RuntimeError(frame)
    await ws.close()
    return turns


def _wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


async def _load(base: str, users: int) -> tuple[int, float, list[float]]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        # warm-up: the first sample upload parses in the pool; later ones hit the blob cache
        await _user(http, base, [])
        started = time.perf_counter()
        counts = await asyncio.gather(*(_user(http, base, latencies, i) for i in range(users)))
        elapsed = time.perf_counter() - started
    return sum(counts), elapsed, latencies


def run_case(redis_url: str, workers: int, users: int) -> dict[str, float]:
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "TPR_WS_SECRET": secrets.token_urlsafe(24),
        "TPR_WS_PORT": str(port),
        "TPR_WS_WORKERS": str(workers),
        "TPR_WS_RATE_LIMIT_MESSAGES": "1000",
    }
    conf = REPO / "deploy" / "gunicorn.conf.py"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(conf), "tpr_ws.app:create_app"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base)
            client = redis.Redis.from_url(redis_url)
            before = _commands(client)
            turns, elapsed, lat = asyncio.run(_load(base, users))
            after = _commands(client)
            client.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lat.sort()
    return {
        "workers": workers,
        "turns": turns,
        "turns_s": turns / elapsed,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
        "cmds_per_turn": (after[0] - before[0]) / max(turns, 1),
        "scripts_per_turn": (after[1] - before[1]) / max(turns, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedRedis(data_dir=Path(tmp), appendonly=False) as server,
    ):
        rows = [run_case(server.url, int(n), args.users) for n in args.workers.split(",")]
    base = rows[0]["turns_s"]
    print(
        f"\n{args.users} users x 7 turns each (the conversation, not echo): sample data, a "
        "state, a level, an age group, two changed choices, status"
    )
    print(
        f"{'workers':>7} {'turns':>6} {'turns/s':>8} {'vs 1':>5} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'scripts/turn':>12} {'cmds/turn*':>10}"
    )
    for r in rows:
        print(
            f"{r['workers']:>7} {r['turns']:>6} {r['turns_s']:>8.1f} {r['turns_s'] / base:>5.2f} "
            f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['scripts_per_turn']:>12.2f} "
            f"{r['cmds_per_turn']:>10.2f}"
        )
    print("Every user loads the sample data, so equal choices share each worker's result cache.")
    print(
        "* every Redis command, including those run inside the Lua scripts, and the per-user "
        "session creation, hello/replay and fan-out subscription, divided by turns"
    )
    print(f"(machine: {os.cpu_count()} cores; client, Redis and workers share them)")


if __name__ == "__main__":
    main()
