"""The shared pipe never leaves a command waiting for ever: a connection that is lost between
being opened and the command being sent (a Redis restart, a host cut off) fails the command
at once, as a lost connection fails the commands already sent on it."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from redis.exceptions import ConnectionError

from tpr_ws.registry.pipe import Pipe

GUARD_S = 10.0  # far above anything a failing command needs: only a hang reaches it


async def _accept_then_go_away(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that accepts the client's AUTH, then goes away (as one killed just then)."""
    await reader.read(1024)  # the AUTH
    writer.write(b"+OK\r\n")
    writer.close()


async def test_commands_on_a_connection_lost_before_they_were_sent_fail_at_once() -> None:
    server = await asyncio.start_server(_accept_then_go_away, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pipe = Pipe(f"redis://:secret@127.0.0.1:{port}/0", timeout_s=1, connect_timeout_s=1)
    try:
        for _ in range(20):
            # Many callers wait for the same connection; those that resume after the server
            # has closed it send on a connection that is already gone.
            calls = [asyncio.ensure_future(pipe.execute("PING")) for _ in range(20)]
            done, pending = await asyncio.wait(calls, timeout=GUARD_S)
            for call in pending:
                call.cancel()
            assert not pending, f"{len(pending)} commands never answered nor failed"
            for call in done:
                with pytest.raises(ConnectionError):
                    call.result()
    finally:
        await pipe.aclose()
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
