"""Registry: turns, FIFO hand-over, fencing, lease loss and cancellation, on real servers."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading

import orjson
import pytest

from tests.registry.conftest import Backend, ClientFactory
from tests.registry.counter import count_of
from tests.registry.helpers import (
    LOG_MAX,
    PREFIX,
    CountingStorage,
    RenewalWatch,
    commit_from_another_worker,
    count_turn,
    counter,
    fencing_epoch,
    lease_holder,
    result_tuple,
    waiting_tokens,
)
from tpr_ws.errors import Fenced, LeaseLost
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Lease, Registry, TurnOutput


async def make_registry(factory: ClientFactory, ttl_ms: int = 2000) -> Registry:
    storage = Storage(await factory(), prefix=PREFIX, log_max_events=LOG_MAX)
    return Registry(storage, lease_ttl_ms=ttl_ms)


async def test_turns_commit_state_and_numbered_events(client_factory: ClientFactory) -> None:
    registry = await make_registry(client_factory)
    first = await registry.run("s", "m1", counter("m1"))
    second = await registry.run("s", "m2", counter("m2"))
    assert not first.duplicate and (first.first_seq, first.last_seq) == (1, 1)
    assert second.events == [
        {"seq": 2, "role": "bot", "text": "count is 2", "reply_to": "m2", "count": 2}
    ]
    assert second.result == {"count": 2}
    assert count_of(await registry.storage.load_state("s")) == 2
    log = await registry.storage.read_log("s", 0)
    assert [e["seq"] for e in log.events] == [1, 2]


async def test_same_id_twice_has_one_effect_and_same_answer(
    client_factory: ClientFactory,
) -> None:
    registry = await make_registry(client_factory)
    a = await registry.run("s", "m1", counter("m1"))
    b = await registry.run("s", "m1", counter("m1"))
    c, d = await asyncio.gather(
        registry.run("s", "m2", counter("m2")), registry.run("s", "m2", counter("m2"))
    )
    assert (a.duplicate, b.duplicate) == (False, True)
    assert result_tuple(a) == result_tuple(b) and b.events == []
    assert sorted([c.duplicate, d.duplicate]) == [False, True]
    assert result_tuple(c) == result_tuple(d)
    assert count_of(await registry.storage.load_state("s")) == 2
    assert await registry.storage.last_seq("s") == 2
    assert await lease_holder(registry.storage, "s") == (None, -2)


async def test_concurrent_senders_run_in_arrival_order(client_factory: ClientFactory) -> None:
    storage = CountingStorage(await client_factory(), prefix=PREFIX, log_max_events=LOG_MAX)
    registry = Registry(storage, lease_ttl_ms=5000)
    order: list[int] = []

    async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
        order.append(lease.ticket)
        await asyncio.sleep(random.random() / 200)  # let more arrivals pile up behind us
        return await count_turn(state, lease)

    async def sender(i: int) -> None:
        await asyncio.sleep(random.random() / 50)
        await registry.run("s", f"m{i}", turn)

    await asyncio.gather(*(sender(i) for i in range(20)))
    assert sorted(order) == list(range(1, 21))
    assert order == sorted(order), "turns must run in the order their acquires reached Redis"
    # No polling: each sender acquired once, plus once more after being woken if it queued.
    assert max(storage.acquires.values()) <= 2
    assert count_of(await storage.load_state("s")) == 20


async def test_long_turn_keeps_its_lease_by_renewing(client_factory: ClientFactory) -> None:
    storage = RenewalWatch(await client_factory(), prefix=PREFIX, log_max_events=LOG_MAX)
    registry = Registry(storage, lease_ttl_ms=1200)

    async def slow(state: bytes | None, lease: Lease) -> TurnOutput:
        # Renewals come every TTL/3: after four of them the turn has outlived its first lease
        # (by construction, not by a clock reading), with a rival queued behind it.
        await storage.renewed(4)
        lease.check()
        return await count_turn(state, lease)

    # Scripts loaded and a connection open first, so m1's acquire reaches Redis before the
    # rival's (on a cold client both would race through NOSCRIPT and connection set-up).
    await registry.run("warm-up", "w", counter("w"))
    rival = asyncio.create_task(registry.run("s", "m2", counter("m2")))
    result = await registry.run("s", "m1", slow)
    await rival
    assert storage.renewals[:4] == [True] * 4
    assert result.first_seq == 1 and not result.duplicate
    assert count_of(await registry.storage.load_state("s")) == 2


async def test_lost_lease_cancels_turn_and_changes_nothing(
    client_factory: ClientFactory,
) -> None:
    registry = await make_registry(client_factory, ttl_ms=300)
    cancelled = asyncio.Event()

    async def victim(state: bytes | None, lease: Lease) -> TurnOutput:
        # Someone else's takeover, as seen from Redis: our lease is gone.
        await registry.storage.release("s", lease.token, 300)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return await count_turn(state, lease)

    with pytest.raises(LeaseLost):
        await registry.run("s", "m1", victim)
    assert cancelled.is_set()
    assert await registry.storage.load_state("s") is None
    assert await registry.storage.last_seq("s") == 0
    again = await registry.run("s", "m1", counter("m1"))  # the resend works normally
    assert not again.duplicate and again.result == {"count": 1}


async def test_late_commit_is_fenced(backend: Backend, client_factory: ClientFactory) -> None:
    registry = await make_registry(client_factory, ttl_ms=300)

    async def stalled(state: bytes | None, lease: Lease) -> TurnOutput:
        # A stall the renewer cannot see (a GC pause, a slow disk): this whole event loop stops
        # while our lease expires and another worker takes the session over and commits.
        other = threading.Thread(
            target=commit_from_another_worker, args=(backend.kind, backend.url, "s", "m2", 300)
        )
        other.start()
        other.join(60)
        assert not other.is_alive()
        return TurnOutput(orjson.dumps({"count": 100}), [{"text": "stale"}])

    with pytest.raises(Fenced):
        await registry.run("s", "m1", stalled)
    assert count_of(await registry.storage.load_state("s")) == 1
    assert [e["reply_to"] for e in (await registry.storage.read_log("s", 0)).events] == ["m2"]


async def test_cancelled_turn_releases_lease_at_once(client_factory: ClientFactory) -> None:
    registry = await make_registry(client_factory, ttl_ms=60_000)
    entered = asyncio.Event()

    async def stuck(state: bytes | None, lease: Lease) -> TurnOutput:
        entered.set()
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    task = asyncio.create_task(registry.run("s", "m1", stuck))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Released by the shielded cleanup, long before the 60 s TTL.
    assert await lease_holder(registry.storage, "s") == (None, -2)
    done = await asyncio.wait_for(registry.run("s", "m2", counter("m2")), 10)
    assert done.result == {"count": 1}


async def test_cancelled_waiter_leaves_queue(client_factory: ClientFactory) -> None:
    registry = await make_registry(client_factory, ttl_ms=60_000)
    entered, go = asyncio.Event(), asyncio.Event()

    async def holder(state: bytes | None, lease: Lease) -> TurnOutput:
        entered.set()
        await go.wait()
        return await count_turn(state, lease)

    first = asyncio.create_task(registry.run("s", "m1", holder))
    await entered.wait()
    waiter = asyncio.create_task(registry.run("s", "m2", counter("m2")))
    third = asyncio.create_task(registry.run("s", "m3", counter("m3")))
    while len(await waiting_tokens(registry.storage, "s")) < 2:  # noqa: ASYNC110 - Redis-side state
        await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(await waiting_tokens(registry.storage, "s")) == 1
    go.set()
    await first
    # The third is woken by the release, not after the 60 s safety-net timeout.
    assert (await asyncio.wait_for(third, 10)).result == {"count": 2}


async def test_two_turns_never_overlap(client_factory: ClientFactory) -> None:
    registry = await make_registry(client_factory)
    inside = 0
    peak = 0

    async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0.002)
        inside -= 1
        return await count_turn(state, lease)

    await asyncio.gather(*(registry.run("s", f"m{i}", turn) for i in range(30)))
    assert peak == 1
    assert count_of(await registry.storage.load_state("s")) == 30


async def test_turn_that_swallows_lease_loss_still_commits_nothing(
    client_factory: ClientFactory,
) -> None:
    registry = await make_registry(client_factory, ttl_ms=300)

    async def stubborn(state: bytes | None, lease: Lease) -> TurnOutput:
        await registry.storage.release("s", lease.token, 300)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(30)
        return TurnOutput(orjson.dumps({"count": 100}), [{"text": "stale"}])

    with pytest.raises(LeaseLost):
        await registry.run("s", "m1", stubborn)
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    assert await registry.storage.load_state("s") is None
    assert await registry.storage.last_seq("s") == 0


async def test_dead_waiter_blocks_the_queue_for_one_lease_ttl_only(
    client_factory: ClientFactory,
) -> None:
    storage = CountingStorage(await client_factory(), prefix=PREFIX, log_max_events=LOG_MAX)
    registry = Registry(storage, lease_ttl_ms=2000)
    held = await storage.acquire("s", "m0", "holder", 2000)
    assert held.kind == "granted"
    dead = await storage.acquire("s", "m1", "dead", 2000)  # queues, then its process dies
    assert dead.kind == "queued"
    behind = asyncio.create_task(registry.run("s", "m2", counter("m2")))
    while len(await waiting_tokens(storage, "s")) < 2:  # noqa: ASYNC110 - Redis-side state
        await asyncio.sleep(0.01)
    # The release hands the lease to the dead waiter for 1 s; it is gone when the live
    # waiter's safety-net wait (one registry TTL, 2 s) ends. A poller would have asked again
    # and again in between.
    await storage.release("s", "holder", 1000)
    result = await asyncio.wait_for(behind, 30)
    assert result.result == {"count": 1}
    # The live waiter took the next epoch after the dead one's, with one acquire to queue and
    # one after its safety-net wait (one more only if this machine stalled for a whole TTL
    # before the release): never a poll loop.
    assert await fencing_epoch(storage, "s") == 3
    assert storage.acquires["holder"] == storage.acquires["dead"] == 1
    assert 2 <= max(storage.acquires.values()) <= 3
