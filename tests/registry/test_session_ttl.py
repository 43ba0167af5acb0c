"""An idle session expires as a whole: state, log, sequence counter and epoch share one TTL,
renewed by every commit and every appended event."""

from __future__ import annotations

from tests.registry.conftest import ClientFactory
from tests.registry.counter import increment
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
