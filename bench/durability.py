"""What a durable ack costs per turn: registry turns (the counter actor) against a primary with
one replica, with TPR_WS_DURABILITY none (the baseline), replica, aof and replica+aof, the AOF
fsynced every second or on every write.

    python bench/durability.py [--turns 400] [--sessions 20] [--budget 10]

Latency: one session, turns one after another (each: acquire+load, commit, and for a durable
mode the confirmation round trip with WAIT / WAITAOF). Throughput: `--sessions` sessions in
parallel. Loopback, both servers on this machine. Each phase of each mode stops after
`--budget` seconds (`replica+aof` waits about a second per turn: 400 turns would take minutes),
and the table says how many turns it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis

from tests.registry.helpers import counter, make_registry
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.client import connect
from tpr_ws.registry.durability import Durability, Policy

MODES = ("none", "replica", "aof", "replica+aof")


def start_pair(base: Path, fsync: str) -> tuple[EmbeddedRedis, EmbeddedRedis]:
    extra = {"appendfsync": fsync}
    primary = EmbeddedRedis(data_dir=base / "p", appendonly=True, extra=extra).start()
    replica = EmbeddedRedis(data_dir=base / "r", appendonly=True, extra=extra).start()
    client = redis.Redis.from_url(replica.url)
    client.replicaof("127.0.0.1", primary.port)
    while client.info("replication")["master_link_status"] != "up":
        time.sleep(0.01)
    client.close()
    return primary, replica


async def measure(
    url: str, mode: str, turns: int, sessions: int, budget_s: float
) -> dict[str, float]:
    client = connect(url)
    try:
        registry = await make_registry(client, 10_000)
        policy = Policy.parse(mode, 5000)
        if policy is not None:
            registry.durability = Durability(client, registry.storage.keys, policy)
        sid = f"lat-{mode}"
        await registry.run(sid, "warm", counter("warm"))
        latencies: list[float] = []
        until = time.perf_counter() + budget_s
        while len(latencies) < turns and time.perf_counter() < until:
            i = len(latencies)
            started = time.perf_counter()
            await registry.run(sid, f"m{i}", counter(f"m{i}"))
            latencies.append(time.perf_counter() - started)
        done = 0
        until = time.perf_counter() + budget_s

        async def session(s: int) -> None:
            nonlocal done
            for i in range(turns // sessions * 2):
                if time.perf_counter() > until:
                    return
                await registry.run(f"tp-{mode}-{s}", f"m{i}", counter(f"m{i}"))
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(session(s) for s in range(sessions)))
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[max(0, int(0.99 * len(latencies)) - 1)] * 1000,
        "turns_s": done / elapsed,
        "measured": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--budget", type=float, default=10.0, help="s per phase and mode")
    args = parser.parse_args()
    rows = []
    for fsync in ("everysec", "always"):
        with tempfile.TemporaryDirectory() as tmp:
            primary, replica = start_pair(Path(tmp), fsync)
            try:
                for mode in MODES:
                    figures = asyncio.run(
                        measure(primary.url, mode, args.turns, args.sessions, args.budget)
                    )
                    rows.append((fsync, mode, figures))
            finally:
                replica.stop()
                primary.stop()
    print(
        f"\nregistry turns with a durable ack: one primary + one replica (both AOF), loopback; "
        f"latency over up to {args.turns} sequential turns, throughput with {args.sessions} "
        f"sessions (each phase at most {args.budget:.0f} s)"
    )
    print(
        f"{'appendfsync':>11} {'durability':>12} {'turns':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'x p50':>6} {'turns/s':>8} {'x turns/s':>9}"
    )
    for fsync, mode, f in rows:
        base = next(r[2] for r in rows if r[0] == fsync and r[1] == "none")
        print(
            f"{fsync:>11} {mode:>12} {f['measured']:>6.0f} {f['p50_ms']:>7.2f} "
            f"{f['p99_ms']:>7.2f} "
            f"{f['p50_ms'] / base['p50_ms']:>6.2f} {f['turns_s']:>8.0f} "
            f"{f['turns_s'] / base['turns_s']:>9.2f}"
        )
    print("x = ratio to `none` (acked once the primary has the turn) with the same fsync policy")
    short = [(fsync, mode) for fsync, mode, f in rows if f["measured"] < args.turns]
    if short:
        print(
            f"turns = sequential turns measured: {', '.join(f'{m} ({f})' for f, m in short)} "
            f"stopped at the {args.budget:.0f} s budget before {args.turns} (a slow mode: "
            "`replica+aof` waits for the replica's once-a-second report of its AOF fsync)"
        )


if __name__ == "__main__":
    main()
