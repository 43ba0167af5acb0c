"""An idle session expires as a whole: state, log, sequence counter and epoch share one TTL,
renewed by every commit and every appended event."""

from __future__ import annotations

from tests.registry.conftest import ClientFactory
from tests.registry.counter import increment
from tests.registry.helpers import lease_holder, waiting_tokens
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry, TurnOutput


async def _ttls(storage: Storage, sid: str) -> dict[str, int]:
    keys = storage._keys(sid)
    names = {"state": keys.state, "log": keys.log, "seq": keys.seq, "epoch": keys.epoch}
    return {name: int(await storage.redis.ttl(key)) for name, key in names.items()}


async def test_commit_and_append_put_every_session_key_on_the_session_ttl(
    client_factory: ClientFactory,
) -> None:
    storage = Storage(await client_factory(), prefix="t", session_ttl_s=100)
    registry = Registry(storage, lease_ttl_ms=2000)

    async def turn(state: bytes | None, _lease: object) -> TurnOutput:
        new_state, events = increment(state, "m1")
        return TurnOutput(state=new_state, events=events)

    await registry.run("s1", "m1", turn)
    assert all(0 < ttl <= 100 for ttl in (await _ttls(storage, "s1")).values())

    await storage.append_events("s2", [{"text": "progress"}])
    ttls = await _ttls(storage, "s2")
    assert 0 < ttls["log"] <= 100 and 0 < ttls["seq"] <= 100


async def _keys_without_ttl(storage: Storage) -> dict[str, int]:
    """Every key of the server (SCAN, all nodes) that would live forever, with its TTL."""
    found = {}
    async for key in storage.redis.scan_iter(match="*", count=1000):
        ttl = int(await storage.redis.ttl(key))
        if ttl < 0:
            found[bytes(key).decode()] = ttl
    return found


async def test_an_abandoned_first_turn_and_a_dead_waiter_leave_only_expiring_keys(
    client_factory: ClientFactory,
) -> None:
    storage = Storage(await client_factory(), prefix="t", session_ttl_s=100)
    # A first turn on a new session whose worker dies holding the lease (never commits) ...
    held = await storage.acquire("s1", "m1", "holder", 5000)
    assert held.kind == "granted"
    # ... and a message queued behind it whose worker dies too (it never leaves the queue).
    queued = await storage.acquire("s1", "m2", "waiter", 5000)
    assert queued.kind == "queued"
    assert await waiting_tokens(storage, "s1") == ["waiter"]
    assert await _keys_without_ttl(storage) == {}
    # A holder that gives up cleanly hands the lease to the dead waiter (a published wake-up).
    assert await storage.release("s1", "holder", 5000)
    assert (await lease_holder(storage, "s1"))[0] == "waiter"
    assert await _keys_without_ttl(storage) == {}
