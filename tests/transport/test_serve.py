"""`tpr-ws serve`: embedded Redis-protocol server + gunicorn workers, one command."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.harness import REPO, ChatClient
from tpr_ws.embedded import free_port

pytestmark = pytest.mark.slow


async def test_serve_runs_embedded_redis_and_several_workers(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(TPR_WS_PORT=str(port), TPR_WS_WORKERS="2", TPR_WS_DATA_DIR=str(tmp_path / "var"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tpr_ws", "serve"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "serve did not become ready"
                time.sleep(0.3)
        # No keep-alive: every request and socket is a new connection, so the kernel hands it
        # to whichever worker accepts it.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            async with http.get(base + "/") as r:
                assert r.status == 200 and "<html" in (await r.text()).lower()
            c = ChatClient(http)
            await c.create_session(base)
            await c.connect(base)
            first = c.welcome["worker"]
            # With the first worker stopped, only another worker can take the next connection:
            # serve runs several workers, each serving the session.
            stopped = int(first.rsplit(":", 1)[1])
            await c.disconnect()
            os.kill(stopped, signal.SIGSTOP)
            try:
                # Well within gunicorn's worker timeout, which would replace the stopped one.
                await asyncio.wait_for(c.connect(base), 20)
                second = c.welcome["worker"]
            finally:
                os.kill(stopped, signal.SIGCONT)
            assert second != first
            await c.say("sample")
            await c.wait_stage("select_state")
            await c.disconnect()
        assert (tmp_path / "var" / "redis").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert f"open http://127.0.0.1:{port}/" in out.decode()
