"""Registry benchmark: this registry vs a redis-py Lock + GET + SET baseline, same server, same run.

    python bench/registry.py [--seconds 2]

Starts its own embedded server. Cases: one session with one sender; 100 sessions with one
sender each; one hot session with 20 concurrent senders, as bursts (20 messages at once, the
next burst when all are answered) and as a closed loop (each sender sends again as soon as it
is answered: the baseline's lock is unfair there, the releasing sender re-takes it before the
pollers wake, so its throughput is one sender's and its p99 is starvation).

Prints turns/s, p50/p99 turn latency, client round trips per turn, server commands per
turn (INFO commandstats, reset between cases; commands run inside Lua scripts count too)
and polling per turn (registry: waits that ended by timeout; baseline: lost SET NX tries).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as aioredis

from tests.registry.counter import increment
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.client import PackedConnection
from tpr_ws.registry.storage import Acquired, Storage
from tpr_ws.registry.turns import Lease, Registry, TurnOutput

TTL_MS = 10_000


@dataclass
class Figures:
    turns: int
    seconds: float
    latencies: list[float]
    round_trips: int
    server_commands: int
    polls: int

    @property
    def rate(self) -> float:
        return self.turns / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class CountingRedis(aioredis.Redis):
    """Counts commands sent by this client (one per round trip: no pipelines are used)."""

    sent = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        CountingRedis.sent += 1
        return await super().execute_command(*args, **options)


class PollCountingStorage(Storage):
    """Counts waits that ended by timeout (a retry not caused by a wake-up = polling)."""

    timeouts = 0

    async def wait_wake(self, sid: str, token: str, timeout_s: float) -> Acquired | None:
        woken = await super().wait_wake(sid, token, timeout_s)
        if woken is None:
            PollCountingStorage.timeouts += 1
        return woken


async def counter_turn(state: bytes | None, lease: Lease) -> TurnOutput:
    new_state, events = increment(state, "m")
    return TurnOutput(new_state, events)


def registry_sender(registry: Registry) -> Callable[[str], Awaitable[None]]:
    async def send(sid: str) -> None:
        await registry.run(sid, uuid.uuid4().hex, counter_turn)

    return send


def baseline_sender(client: aioredis.Redis) -> Callable[[str], Awaitable[None]]:
    # The common recipe: a redis-py Lock (default 0.1 s polling), GET the state, SET it back.
    async def send(sid: str) -> None:
        async with client.lock(f"base:lock:{sid}", timeout=TTL_MS / 1000):
            state = await client.get(f"base:state:{sid}")
            new_state, _ = increment(state, "m")
            await client.set(f"base:state:{sid}", new_state)

    return send


async def server_commands(admin: aioredis.Redis) -> int:
    stats = await admin.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_config")
    )


async def failed_lock_attempts(admin: aioredis.Redis, turns: int) -> int:
    stats = await admin.info("commandstats")
    sets = int(stats.get("cmdstat_set", {"calls": 0})["calls"])
    return max(0, sets - 2 * turns)  # per turn: one winning SET NX and the state SET


async def run_case(
    send: Callable[[str], Awaitable[None]],
    sessions: list[str],
    senders_per_session: int,
    seconds: float,
    admin: aioredis.Redis,
    bursts: bool,
) -> Figures:
    await admin.config_resetstat()
    sent_before = CountingRedis.sent
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def sender(sid: str) -> None:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            await send(sid)
            latencies.append(time.perf_counter() - t0)

    async def timed(sid: str) -> None:
        t0 = time.perf_counter()
        await send(sid)
        latencies.append(time.perf_counter() - t0)

    async def rounds(sid: str) -> None:
        # A burst of one message per sender, all at once; the next burst when all are done.
        while time.monotonic() < deadline:
            await asyncio.gather(*(timed(sid) for _ in range(senders_per_session)))

    started = time.monotonic()
    if bursts:
        await asyncio.gather(*(rounds(s) for s in sessions))
    else:
        await asyncio.gather(*(sender(s) for s in sessions for _ in range(senders_per_session)))
    elapsed = time.monotonic() - started
    commands = await server_commands(admin)
    return Figures(
        len(latencies), elapsed, latencies, CountingRedis.sent - sent_before, commands, 0
    )


async def main(seconds: float) -> None:
    with EmbeddedRedis(appendonly=True) as server:
        # Both recipes share one client, with the product's connection class (hiredis packing).
        client = CountingRedis.from_url(
            server.url, max_connections=200, connection_class=PackedConnection
        )
        admin = aioredis.Redis.from_url(server.url)
        storage = PollCountingStorage(client, prefix="bench", log_max_events=2000)
        registry = Registry(storage, lease_ttl_ms=TTL_MS)
        cases = [
            ("1 session, 1 sender", ["s0"], 1, False),
            ("100 sessions, 1 sender each", [f"s{i}" for i in range(100)], 1, False),
            ("hot session, 20 senders, bursts", ["hot"], 20, True),
            ("hot session, 20 senders, loop", ["hot"], 20, False),
        ]
        # Open the pool's connections up front so no case pays for them.
        await asyncio.gather(*(client.ping() for _ in range(150)))
        rows = []
        for name, sessions, per, bursts in cases:
            await admin.flushall()
            PollCountingStorage.timeouts = 0
            ours = await run_case(registry_sender(registry), sessions, per, seconds, admin, bursts)
            ours.polls = PollCountingStorage.timeouts
            await admin.flushall()
            base = await run_case(baseline_sender(client), sessions, per, seconds, admin, bursts)
            base.polls = await failed_lock_attempts(admin, base.turns)
            rows.append((name, ours, base))
        await client.aclose()
        await admin.aclose()
    print_table(rows)


def print_table(rows: list[tuple[str, Figures, Figures]]) -> None:
    head = (
        f"{'case':32} {'impl':9} {'turns/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'RT/turn':>8} {'cmds/turn':>9} {'polls/turn':>10}"
    )
    print(head)
    print("-" * len(head))
    for name, ours, base in rows:
        for label, f in (("registry", ours), ("baseline", base)):
            print(
                f"{name:32} {label:9} {f.rate:9.0f} {f.pct(0.5):8.2f} {f.pct(0.99):8.2f} "
                f"{f.round_trips / f.turns:8.2f} {f.server_commands / f.turns:9.2f} "
                f"{f.polls / f.turns:10.3f}"
            )
        print(
            f"{'':32} {'ratio':9} {ours.rate / base.rate:8.2f}x "
            f"{statistics.median(base.latencies) / statistics.median(ours.latencies):7.2f}x "
            f"(p50 speed-up)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each case")
    asyncio.run(main(parser.parse_args().seconds))
