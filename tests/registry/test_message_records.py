"""Exactly-once for the session's whole life: a committed message id is remembered as long as
the session itself (its records share the session TTL, renewed by every commit), and a
session remembers its newest ids only, so the records are bounded in number."""

from __future__ import annotations

from tests.registry.conftest import ClientFactory
from tests.registry.counter import count_of
from tests.registry.helpers import PREFIX, counter
from tpr_ws.registry.storage import SESSION_TTL_S, Storage
from tpr_ws.registry.turns import Registry


async def _session_ttls(storage: Storage, sid: str) -> dict[str, int]:
    """TTL of every key the session holds (SCAN), but its lease (which lives seconds)."""
    ttls = {}
    async for key in storage.redis.scan_iter(match=f"{PREFIX}:{{{sid}}}:*", count=1000):
        name = bytes(key).decode()
        if not name.endswith(":lease"):
            ttls[name] = int(await storage.redis.ttl(key))
    return ttls


async def test_a_message_record_lives_as_long_as_the_session(
    client_factory: ClientFactory,
) -> None:
    # The default TTLs: a session idle for 30 days expires; a resend until then is answered.
    storage = Storage(await client_factory(), prefix=PREFIX)
    registry = Registry(storage, lease_ttl_ms=2000)
    first = await registry.run("s", "m1", counter("m1"))
    for i in range(2, 6):
        await registry.run("s", f"m{i}", counter(f"m{i}"))
    ttls = await _session_ttls(storage, "s")
    state_ttl = ttls[f"{PREFIX}:{{s}}:state"]
    assert state_ttl > SESSION_TTL_S - 60
    # Every key of the session (the message records too) expires with the session, not before.
    assert {name: ttl for name, ttl in ttls.items() if ttl < state_ttl - 5} == {}
    again = await registry.run("s", "m1", counter("m1"))
    assert again.duplicate and (again.first_seq, again.last_seq) == (first.first_seq, 1)
    assert count_of(await storage.load_state("s")) == 5


async def test_a_session_remembers_its_newest_message_ids_only(
    client_factory: ClientFactory,
) -> None:
    storage = Storage(await client_factory(), prefix=PREFIX, message_ids_kept=10)
    registry = Registry(storage, lease_ttl_ms=2000)
    for i in range(25):
        await registry.run("s", f"m{i}", counter(f"m{i}"))
    kept = [i for i in range(25) if await storage.message_record("s", f"m{i}") is not None]
    assert kept == list(range(15, 25))
    assert len(await _session_ttls(storage, "s")) < 12  # a few keys, however many messages
    resent = await registry.run("s", "m15", counter("m15"))
    assert resent.duplicate and resent.first_seq == 16
    assert count_of(await storage.load_state("s")) == 25
