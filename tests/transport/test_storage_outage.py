"""Redis faults do not take an instance down: workers boot without it and recover by
themselves, and an outage during hello or catch-up is a retryable error, retried on a timer."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.harness import REPO, ChatClient, WorkerProcess
from tpr_ws.embedded import EmbeddedRedis, free_port

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


async def _until(check, what: str, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    """Retry `check()` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_workers_boot_without_redis_and_serve_once_it_comes(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",  # nothing listens there yet
        TPR_WS_PORT=str(port), TPR_WS_WORKERS="2", TPR_WS_DATA_DIR=str(tmp_path / "var"),
        TPR_WS_SECRET=secrets.token_urlsafe(24), TPR_WS_STORAGE_RETRY_MAX_S="1",
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "tpr_ws", "serve"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    server = EmbeddedRedis(data_dir=tmp_path / "redis", port=redis_port, appendonly=False)
    try:

        def alive_not_ready() -> bool:
            assert proc.poll() is None, "the instance stopped without Redis"
            return _get(base + "/healthz")[0] == 200 and _get(base + "/readyz")[0] == 503

        await _until(alive_not_ready, "workers up without Redis")
        _, body = _get(base + "/readyz")
        assert orjson.loads(body)["status"] == "starting"
        server.start()
        await _until(lambda: _get(base + "/readyz")[0] == 200, "readiness after Redis came")
        async with aiohttp.ClientSession() as http:
            c = ChatClient(http)

            async def session_and_socket() -> bool:
                # a worker that has not reconnected yet answers 503: retry, as a client does
                try:
                    if not c.sid:
                        await c.create_session(base)
                    await c.connect(base)
                except (AssertionError, aiohttp.WSServerHandshakeError):
                    return False
                return True

            await _until(session_and_socket, "a session on a recovered worker")
            assert (await c.say("help"))["type"] == "ack"
            await c.disconnect()
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        server.stop()
    assert "Worker failed to boot" not in out.decode()
    assert "Traceback" not in out.decode()


async def _frames_until(ws: aiohttp.ClientWebSocketResponse, done, timeout: float = 60.0) -> list:  # type: ignore[no-untyped-def]
    frames: list[dict] = []
    async with asyncio.timeout(timeout):
        while not done(frames):
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            frames.append(orjson.loads(msg.data))
    return frames


def _codes(frames: list[dict]) -> list[str]:
    return [f["code"] for f in frames if f["type"] == "error"]


async def test_an_outage_during_hello_or_catch_up_is_retried_without_a_traceback(
    tmp_path: Path, http
) -> None:
    with EmbeddedRedis(data_dir=tmp_path / "redis", appendonly=True) as server:
        w = WorkerProcess(
            server.url, secrets.token_urlsafe(24), tmp_path, TPR_WS_STORAGE_RETRY_MAX_S="1"
        ).start()
        try:
            watcher = ChatClient(http)  # a socket caught up when Redis goes away
            await watcher.create_session(w.url)
            await watcher.connect(w.url)
            await watcher.say("help")
            seen = watcher.last_seq
            server.stop()
            # its next catch-up fails: a retryable error, once
            await watcher.wait_until(lambda: bool(watcher.errors), timeout=60)
            assert [e["code"] for e in watcher.errors] == ["storage_unavailable"]
            # a socket saying hello meanwhile: the same error, and no welcome yet
            hello = await http.ws_connect(w.ws_url)
            await hello.send_str(orjson.dumps({
                "type": "hello", "session_id": watcher.sid, "token": watcher.token, "last_seq": 0
            }).decode())  # fmt: skip
            frames = await _frames_until(hello, lambda f: bool(f))
            assert _codes(frames) == ["storage_unavailable"]
            server.start()
            # nothing new happens in the session: the worker retries by itself, on a timer
            frames = await _frames_until(
                hello, lambda f: sum(x["type"] == "event" for x in f) >= seen
            )
            assert frames[0]["type"] == "welcome"
            assert [f["seq"] for f in frames if f["type"] == "event"] == list(range(1, seen + 1))
            await hello.close()
            # the first socket is live again: it sees a new turn from another socket
            other = ChatClient(http)
            other.sid, other.token = watcher.sid, watcher.token
            await other.connect(w.url)
            await other.say("status")
            await watcher.wait_until(lambda: watcher.last_seq == other.last_seq, timeout=60)
        finally:
            w.kill()
    log = w.log_path.read_text()
    assert "Traceback" not in log and "unexpected error" not in log
