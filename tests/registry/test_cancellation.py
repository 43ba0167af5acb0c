"""A command cancelled while it is sent is cancelled: the caller never goes on as if it were not.

redis-py sends a command under `asyncio.wait_for`, which on Python 3.11 swallows a cancellation
that arrives as the send completes. A socket whose client left mid-turn then kept its turn loop
waiting for frames that never come, and a stopping worker had to cancel its handler at the
shutdown timeout (a traceback in the log)."""

from __future__ import annotations

import asyncio

from tests.registry.conftest import ClientFactory

MAX_SPINS = 500  # loop iterations before the cancellation: from before the send to the reply


async def _cancelled_after(client_set: asyncio.Task[object], spins: int) -> str:
    for _ in range(spins):
        await asyncio.sleep(0)
    if not client_set.cancel():
        return "finished first"
    try:
        await client_set
    except asyncio.CancelledError:
        return "cancelled"
    return "ran on after its cancellation"


async def test_a_command_cancelled_as_it_is_sent_is_cancelled(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory()
    outcomes: dict[int, str] = {}
    for spins in range(MAX_SPINS):
        await client.ping()  # connected (a cancelled send drops its connection)
        task = asyncio.create_task(client.set("k", b"x" * 64))
        outcomes[spins] = await _cancelled_after(task, spins)
        if outcomes[spins] == "finished first":
            break  # every later cancellation comes too late
    assert "ran on after its cancellation" not in outcomes.values(), outcomes
    assert list(outcomes.values())[-1] == "finished first", outcomes
    assert await client.set("k", b"after") and await client.get("k") == b"after"
