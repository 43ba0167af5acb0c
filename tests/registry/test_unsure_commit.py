"""A commit whose caller gives up while it is in flight (a socket closed mid-turn) may still run:
the registry then says so (`on_unsure`), because the worker skips its own tagged publish and
delivered nothing in-process, so its other sockets of the session must read the log."""

from __future__ import annotations

import asyncio

from tests.registry.conftest import Backend, ClientFactory
from tests.registry.helpers import count_turn, counter, make_registry
from tpr_ws.registry.turns import Lease, TurnOutput


async def test_a_commit_cancelled_in_flight_tells_the_worker_to_read_the_log(
    client_factory: ClientFactory, backend: Backend
) -> None:
    registry = await make_registry(await client_factory(), 5000)
    delivered: list[int] = []
    unsure: list[str] = []
    registry.on_committed = lambda sid, events: delivered.extend(e["seq"] for e in events)
    registry.on_unsure = unsure.append
    await registry.run("s", "m1", counter("m1"))
    task: asyncio.Task[object] | None = None

    async def turn(state: bytes | None, lease: Lease) -> TurnOutput:
        assert task is not None
        # The caller goes away once the commit is on the wire (the next await is its reply).
        asyncio.get_running_loop().call_soon(task.cancel)
        return await count_turn(state, lease, "m2")

    task = asyncio.create_task(registry.run("s", "m2", turn))
    try:
        await task
    except asyncio.CancelledError:
        assert unsure == ["s"]
        assert delivered == [1]  # m2's events were never handed to this worker's sockets ...
    else:
        # redis-py's cluster client finishes a command it has sent even when cancelled:
        # then the turn completes and its events are delivered as usual.
        assert backend.kind == "cluster" and delivered == [1, 2] and not unsure
    assert (await registry.storage.read_log("s", 0)).last_seq == 2  # ... but they are logged
