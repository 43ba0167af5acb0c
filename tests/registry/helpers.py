"""Turns and process entry points shared by the registry tests (importable by spawn children)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.registry.counter import increment
from tpr_ws.errors import Fenced, LeaseLost
from tpr_ws.registry.client import RedisClient, connect
from tpr_ws.registry.storage import Acquired, Storage
from tpr_ws.registry.turns import Lease, Registry, TurnOutput, TurnResult

PREFIX = "t"
LOG_MAX = 5000


def make_client(kind: str, url: str) -> RedisClient:
    if kind == "cluster":
        return connect(url, cluster=True)
    return connect(url)


async def count_turn(state: bytes | None, lease: Lease, message_id: str = "m") -> TurnOutput:
    new_state, events = increment(state, message_id)
    return TurnOutput(new_state, events, {"count": orjson.loads(new_state)["count"]})


def counter(message_id: str) -> Any:
    async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
        return await count_turn(state, lease, message_id)

    return turn


def result_tuple(r: TurnResult) -> tuple[int, int, dict[str, Any]]:
    return (r.first_seq, r.last_seq, r.result)


# -- what a test reads of a session's lease (straight from Redis; the product never needs it) --


async def lease_holder(storage: Storage, sid: str) -> tuple[str | None, int]:
    """The lease's holder token (None if free) and its remaining TTL in ms (-2: no lease)."""
    key = storage.keys.session(sid).lease
    holder = await storage.redis.get(key)
    pttl = int(await storage.redis.pttl(key))
    return (holder.decode() if isinstance(holder, bytes) else holder), pttl


async def fencing_epoch(storage: Storage, sid: str) -> int:
    """The session's fencing token: the last epoch granted (0 before any)."""
    raw = await storage.redis.get(storage.keys.session(sid).epoch)
    return int(raw) if raw is not None else 0


async def waiting_tokens(storage: Storage, sid: str) -> list[str]:
    """Tokens queued for the lease, head first."""
    raw = await storage.redis.lrange(storage.keys.session(sid).waiters, 0, -1)
    return [t.decode() if isinstance(t, bytes) else str(t) for t in raw]


class CountingStorage(Storage):
    """Counts acquire round trips per caller token (to prove waiters do not poll)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquires: dict[str, int] = {}

    async def acquire(
        self, sid: str, message_id: str, token: str, ttl_ms: int, *, first: bool = True
    ) -> Acquired:
        self.acquires[token] = self.acquires.get(token, 0) + 1
        return await super().acquire(sid, message_id, token, ttl_ms, first=first)


class RenewalWatch(CountingStorage):
    """Records every lease renewal's answer, so a test can wait for renewals instead of
    sleeping (the registry's renewer runs every third of the TTL)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renewals: list[bool] = []
        self._renewed = asyncio.Event()

    async def renew(self, sid: str, token: str, epoch: int, ttl_ms: int) -> bool:
        held = await super().renew(sid, token, epoch, ttl_ms)
        self.renewals.append(held)
        self._renewed.set()
        return held

    async def renewed(self, count: int) -> None:
        """Return once `count` renewals have answered."""
        while len(self.renewals) < count:
            self._renewed.clear()
            await self._renewed.wait()


def commit_from_another_worker(kind: str, url: str, sid: str, mid: str, ttl_ms: int) -> None:
    """Run one counter turn on a registry of its own (own client, own event loop): another
    worker. It waits for the session's lease like any turn, then commits."""

    async def main() -> None:
        client = make_client(kind, url)
        storage = Storage(client, prefix=PREFIX, log_max_events=LOG_MAX)
        try:
            await Registry(storage, lease_ttl_ms=ttl_ms).run(sid, mid, counter(mid))
        finally:
            await client.aclose()

    asyncio.run(main())


# -- process entry points (each its own event loop and client) --------------------------------


def send_many(kind: str, url: str, sid: str, worker: int, n: int, ttl_ms: int) -> None:
    async def main() -> None:
        client = make_client(kind, url)
        registry = Registry(
            Storage(client, prefix=PREFIX, log_max_events=LOG_MAX),
            lease_ttl_ms=ttl_ms,
            holder_prefix=f"w{worker}:",
        )
        try:
            for i in range(n):
                mid = f"w{worker}-{i}"
                await registry.run(sid, mid, counter(mid))
        finally:
            await client.aclose()

    asyncio.run(main())


def send_once(kind: str, url: str, sid: str, mid: str, ttl_ms: int, start: Any, out: Any) -> None:
    """Wait for `start` (a multiprocessing Event), send one message, report its answer."""

    async def main() -> None:
        client = make_client(kind, url)
        registry = Registry(
            Storage(client, prefix=PREFIX, log_max_events=LOG_MAX), lease_ttl_ms=ttl_ms
        )
        try:
            await client.ping()
            start.wait()
            r = await registry.run(sid, mid, counter(mid))
            out.put((r.duplicate, result_tuple(r)))
        finally:
            await client.aclose()

    asyncio.run(main())


def hold_and_block(
    kind: str, url: str, sid: str, mid: str, ttl_ms: int, resume: Any, in_turn: Any, out: Any
) -> None:
    """Run a turn that signals `in_turn`, then blocks its whole loop (a GC pause, a stall)
    until the test sets `resume`."""

    async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
        out.put(("epoch", lease.epoch))
        in_turn.set()
        resume.wait(120)  # a stall on purpose: renewals cannot run either
        return await count_turn(state, lease, mid)

    async def main() -> None:
        client = make_client(kind, url)
        registry = Registry(
            Storage(client, prefix=PREFIX, log_max_events=LOG_MAX), lease_ttl_ms=ttl_ms
        )
        try:
            await registry.run(sid, mid, turn)
            out.put(("outcome", "committed"))
        except Fenced:
            out.put(("outcome", "fenced"))
        except LeaseLost:
            out.put(("outcome", "lease_lost"))
        finally:
            await client.aclose()

    asyncio.run(main())


async def make_registry(client: RedisClient, ttl_ms: int) -> Registry:
    """A registry on `client` with the tests' prefix and a log long enough for every test."""
    storage = CountingStorage(client, prefix=PREFIX, log_max_events=LOG_MAX)
    await storage.initialize()
    return Registry(storage, lease_ttl_ms=ttl_ms)


def hold_until_killed(url: str, prefix: str, sid: str, ttl_ms: int, in_turn: Any) -> None:
    """Take the lease of `sid` for a turn that never ends (its process is killed mid-turn)."""

    async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
        in_turn.set()
        await asyncio.sleep(3600)
        raise AssertionError("the test kills this process before the turn ends")

    async def main() -> None:
        client = connect(url)
        registry = Registry(Storage(client, prefix=prefix), lease_ttl_ms=ttl_ms)
        await registry.run(sid, "abandoned-turn", turn)

    asyncio.run(main())
