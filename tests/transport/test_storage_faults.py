"""Redis under pressure: a storm of sockets with a tiny connection pool, and a hung server."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import aiohttp
import orjson

from tests.harness import ChatClient, WorkerProcess
from tpr_ws.embedded import EmbeddedRedis

STORM = 400


async def test_a_storm_of_sockets_is_all_welcomed_with_a_tiny_pool(worker_factory, http) -> None:
    # Two pooled connections for 400 hellos at once: hellos share the pipelined connection,
    # and anything that needs the pool waits for it instead of failing.
    # (The storm comes from one address: lift its socket cap, which is not what this tests.)
    (w,) = worker_factory(
        1, TPR_WS_REDIS_MAX_CONNECTIONS="2", TPR_WS_MAX_SOCKETS_PER_CLIENT=str(STORM)
    )
    owner = ChatClient(http)
    await owner.create_session(w.url)

    async def hello() -> dict[str, object]:
        ws = await http.ws_connect(w.ws_url)
        try:
            frame = {"type": "hello", "session_id": owner.sid, "token": owner.token,
                     "last_seq": 0}  # fmt: skip
            await ws.send_str(orjson.dumps(frame).decode())
            welcome = orjson.loads((await ws.receive(timeout=60)).data)
            if welcome["type"] != "welcome":
                return {"welcome": welcome}
            replay = orjson.loads((await ws.receive(timeout=60)).data)
            return {"welcome": welcome["type"], "replay": replay.get("seq")}
        finally:
            await ws.close()

    answers = await asyncio.gather(*(hello() for _ in range(STORM)))
    assert answers == [{"welcome": "welcome", "replay": 1}] * STORM
    assert "Traceback" not in w.log_path.read_text()


async def test_a_hung_redis_gives_a_quick_retryable_error(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    with EmbeddedRedis(data_dir=tmp_path / "redis", appendonly=False) as server:
        w = WorkerProcess(
            server.url, secrets.token_urlsafe(24), tmp_path, TPR_WS_REDIS_TIMEOUT_MS="500"
        ).start()
        pid = server.pid
        assert pid is not None
        chat = ChatClient(http)
        try:
            await chat.create_session(w.url)
            await chat.connect(w.url)
            os.kill(pid, signal.SIGSTOP)
            try:
                # Guards far above the 0.5 s timeout: without timeouts both would hang.
                refused = await asyncio.wait_for(chat.say("status", mid="m1"), 30)
                async with http.get(w.url + "/readyz", timeout=aiohttp.ClientTimeout(30)) as r:
                    ready = r.status
            finally:
                os.kill(pid, signal.SIGCONT)
            assert refused["type"] == "error" and refused["code"] == "storage_unavailable"
            assert ready == 503
            # Retryable: the same message id goes through once Redis answers again.
            acked = await asyncio.wait_for(chat.say("status", mid="m1"), 30)
            assert acked["type"] == "ack"
        finally:
            await chat.disconnect()
            w.kill()
