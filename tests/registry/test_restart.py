"""Script reloading after NOSCRIPT, a server restart with AOF, and dropped connections."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from tests.conftest import RedisFactory
from tests.registry.conftest import ClientFactory
from tests.registry.helpers import counter, make_registry
from tpr_ws.actors.counter import count_of
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.storage import connect

# Keeps the server busy for ~300 ms, so a reply can be cancelled while it is awaited.
SLOW_SCRIPT = """
local t0 = redis.call('TIME')
while true do
  local t = redis.call('TIME')
  if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 then break end
end
return 'slow'
"""


async def test_scripts_reload_after_script_flush(client_factory: ClientFactory) -> None:
    client = await client_factory()
    registry = await make_registry(client, 2000)
    await registry.run("s", "m1", counter("m1"))
    await client.script_flush()  # the server forgets every script: NOSCRIPT next time
    result = await registry.run("s", "m2", counter("m2"))
    assert result.result == {"count": 2}


async def test_restart_keeps_sessions_and_reloads_scripts(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, appendonly=True).start()
    client = connect(server.url)  # reconnects (with retries) after the restart
    try:
        registry = await make_registry(client, 2000)
        for i in range(5):
            await registry.run("s", f"m{i}", counter(f"m{i}"))
        server.stop()
        server.start()  # same port and data dir; a new process with an empty script cache
        assert (await client.script_exists(registry.storage._commit.sha)) == [False]
        for i in range(5, 10):
            await registry.run("s", f"m{i}", counter(f"m{i}"))
        again = await registry.run("s", "m0", counter("m0"))  # recorded before the restart
        state = await registry.storage.load_state("s")
        log = await registry.storage.read_log("s", 0)
    finally:
        await client.aclose()
        server.cleanup()
    assert again.duplicate and again.result == {"count": 1}
    assert count_of(state) == 10
    assert [e["seq"] for e in log.events] == list(range(1, 11))


async def test_cancelled_mid_reply_connection_is_not_reused(redis_factory: RedisFactory) -> None:
    client = redis_factory(max_connections=1)  # the next command must reuse the one slot
    before = await client.client_id()
    task = asyncio.create_task(client.eval(SLOW_SCRIPT, 0))
    await asyncio.sleep(0.05)  # the script is running: its reply is pending on the socket
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # A reused connection would hand the script's late reply to the next command.
    assert await client.echo("fresh") == b"fresh"
    assert await client.client_id() != before
