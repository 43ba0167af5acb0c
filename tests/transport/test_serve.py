"""`tpr-ws serve`: embedded Redis-protocol server + gunicorn workers, one command; its files
private, nothing left behind, a bad secret refused."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis

from tests.harness import REPO, ChatClient
from tpr_ws.embedded import free_port

pytestmark = pytest.mark.slow


class Serve:
    """`python -m tpr_ws serve` with its own data dir, home and temp dir under ``root``."""

    def __init__(self, root: Path, **env: str) -> None:
        self.port = free_port()
        self.root = root
        self.var, self.home, self.tmp = root / "var", root / "home", root / "tmp"
        self.home.mkdir(parents=True)
        self.tmp.mkdir()
        self.output = root / "serve.out"
        base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "XDG_RUNTIME_DIR")}
        self.env = {
            **base,
            "TPR_WS_PORT": str(self.port),
            "TPR_WS_WORKERS": "2",
            "TPR_WS_DATA_DIR": str(self.var),
            "HOME": str(self.home),  # gunicorn's default control socket would be in here
            "TMPDIR": str(self.tmp),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Serve:
        with self.output.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tpr_ws", "serve"],
                env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                assert self.proc.poll() is None, self.text()
                assert time.monotonic() < deadline, "serve did not become ready"
                time.sleep(0.3)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def text(self) -> str:
        return self.output.read_text(errors="replace")


ServeFactory = Callable[..., Serve]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """Start `serve` with extra environment variables; killed after the test if still up."""
    started: list[Serve] = []

    def make(**env: str) -> Serve:
        s = Serve(tmp_path / f"serve{len(started)}", **env)
        started.append(s.start())
        return s

    yield make
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_serve_runs_embedded_redis_and_several_workers(serve: ServeFactory) -> None:
    s = serve()
    s.wait_ready()
    # No keep-alive: every request and socket is a new connection, so the kernel hands it
    # to whichever worker accepts it.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        async with http.get(s.url + "/") as r:
            assert r.status == 200 and "<html" in (await r.text()).lower()
        c = ChatClient(http)
        await c.create_session(s.url)
        await c.connect(s.url)
        first = c.welcome["worker"]
        # With the first worker stopped, only another worker can take the next connection:
        # serve runs several workers, each serving the session.
        stopped = int(first.rsplit(":", 1)[1])
        await c.disconnect()
        os.kill(stopped, signal.SIGSTOP)
        try:
            # Well within gunicorn's worker timeout, which would replace the stopped one.
            await asyncio.wait_for(c.connect(s.url), 20)
            second = c.welcome["worker"]
        finally:
            os.kill(stopped, signal.SIGCONT)
        assert second != first
        await c.say("sample")
        await c.wait_stage("select_state")
        await c.disconnect()
    assert (s.var / "redis").is_dir()
    assert s.stop() == 0, s.text()[-2000:]
    assert f"open http://127.0.0.1:{s.port}/" in s.text()
    # Every log line carries its level, gunicorn's own and the workers' alike.
    lines = [line for line in s.text().splitlines() if not line.startswith("tpr-ws: ")]
    level = re.compile(r"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) \d+ \S+ ")
    assert lines and all(level.match(line) for line in lines), lines
    assert any(" INFO " in line and " gunicorn.error Booting worker" in line for line in lines)
    assert any(" INFO " in line and " tpr_ws.access GET /ws 101" in line for line in lines)


def test_serve_keeps_its_files_and_redis_private_and_leaves_nothing_behind(
    serve: ServeFactory,
) -> None:
    s = serve()
    s.wait_ready()
    # The data dir, the Redis dir and whatever the server wrote: the owner's only.
    assert _mode(s.var) == 0o700 and _mode(s.var / "redis") == 0o700
    assert _mode(s.var / "secret") == 0o600
    assert _mode(s.var / "redis-password") == 0o600
    written = [p for p in (s.var / "redis").rglob("*") if p.is_file()]
    assert written and all(_mode(p) & 0o077 == 0 for p in written), {
        str(p): oct(_mode(p)) for p in written
    }
    # The embedded server wants its password, which no command line shows.
    port = int(re.search(r"redis://:\*\*\*@127\.0\.0\.1:(\d+)/", s.text()).group(1))
    password = (s.var / "redis-password").read_text().strip()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, socket_timeout=5).ping()
    assert redis.Redis(port=port, password=password, socket_timeout=5).ping()
    assert password not in s.text()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert password.encode() not in cmdline.read_bytes(), cmdline
        except OSError:
            continue  # a process that ended meanwhile
    # No control socket at gunicorn's per-user default, which every instance would share.
    assert not (s.home / ".gunicorn").exists()
    assert list(s.tmp.glob("tpr-ws-metrics-*")), "the metrics dir is in TMPDIR while serving"
    assert s.stop() == 0, s.text()[-2000:]
    assert list(s.tmp.glob("tpr-ws-metrics-*")) == []


def test_serve_with_a_secret_given_writes_none(serve: ServeFactory, redis_url: str) -> None:
    s = serve(TPR_WS_SECRET="a-secret-from-the-operator-0123", REDIS_URL=redis_url)
    s.wait_ready()
    assert s.stop() == 0, s.text()[-2000:]
    assert not (s.var / "secret").exists()
    assert list(s.tmp.glob("tpr-ws-metrics-*")) == []


def test_serve_refuses_an_empty_secret(serve: ServeFactory, tmp_path: Path) -> None:
    s = serve(TPR_WS_SECRET="")
    assert s.proc is not None and s.proc.wait(timeout=60) == 2
    assert "TPR_WS_SECRET is empty" in s.text() and "Traceback" not in s.text()


def test_serve_refuses_an_empty_secret_file(serve: ServeFactory, tmp_path: Path) -> None:
    var = tmp_path / "var-with-empty-secret"
    var.mkdir()
    (var / "secret").write_text("\n")
    s = serve(TPR_WS_DATA_DIR=str(var))
    assert s.proc is not None and s.proc.wait(timeout=60) == 2
    assert f"{var / 'secret'} is empty" in s.text() and "Traceback" not in s.text()
