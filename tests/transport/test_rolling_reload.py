"""A rolling reload (SIGHUP to `tpr-ws serve`) has no accept gap and cancels no turn: the old
worker keeps accepting and serving until a new worker answers, then finishes its turn in
flight (acknowledged) before it closes its sockets with 1001.

The new workers are held (SIGSTOP) as soon as they are forked, so "before a new worker could
answer" is an event the test controls, not a race with their boot."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.harness import ChatClient
from tests.soak.chaos import wait_for
from tests.soak.deployment import ServeInstance, http_ok
from tpr_ws.registry.storage import Storage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def instance(redis_url: str, tmp_path: Path) -> Iterator[ServeInstance]:
    made = ServeInstance("serve", redis_url, secrets.token_urlsafe(24), tmp_path, workers=1)
    made.launch()
    try:
        made.wait_ready()
        yield made
    finally:
        made.stop()


def _held_successors(instance: ServeInstance, old: set[int]) -> list[int]:
    """After a SIGHUP: the new workers, stopped as soon as they are forked."""
    new: list[int] = []

    def forked() -> bool:
        new[:] = [pid for pid in instance.worker_pids() if pid not in old]
        return len(new) == instance.workers

    wait_for(forked, 30, "the new workers")
    for pid in new:
        os.kill(pid, signal.SIGSTOP)
    return new


def _by(client: ChatClient, pids: set[int]) -> bool:
    return str(client.welcome.get("worker", "")).rsplit(":", 1)[-1] in {str(p) for p in pids}


async def test_a_roll_keeps_accepting_and_finishes_the_turn_in_flight(
    instance: ServeInstance, redis_url: str
) -> None:
    old = set(instance.worker_pids())
    storage = Storage(aioredis.Redis.from_url(redis_url))
    async with aiohttp.ClientSession() as http:
        client = ChatClient(http)
        await client.create_session(instance.url)
        await client.connect(instance.url)
        # A turn in flight: queued behind a lease this test holds, on the old worker.
        blocker = storage.new_token("test:")
        granted = await storage.acquire(client.sid, "blocker", blocker, 120_000)
        assert granted.kind == "granted"
        mid = (await client.say("hello", wait=False))["id"]

        instance.roll()
        new = await asyncio.to_thread(_held_successors, instance, old)

        def quitting() -> bool:  # the old worker has acted on its SIGTERM
            return client.closed or "waiting for a successor" in instance.log_tail()

        await asyncio.to_thread(wait_for, quitting, 60, "the old worker's quit")
        # No new worker can answer: every connection made now is accepted and welcomed by
        # the old worker (aiohttp's own worker stopped accepting: they waited in the backlog).
        timeouts, welcomed_by_old = 0, 0
        for _ in range(5):
            late = ChatClient(http)
            late.sid, late.token = client.sid, client.token
            try:
                await late.connect(instance.url, timeout=5)
                welcomed_by_old += _by(late, old)
            except TimeoutError:
                timeouts += 1
            finally:
                await late.disconnect()
        assert (timeouts, welcomed_by_old) == (0, 5)
        assert not client.closed  # its socket is still served: no 1001 before a successor

        for pid in new:
            os.kill(pid, signal.SIGCONT)
        await asyncio.to_thread(
            wait_for, lambda: "; stopping" in instance.log_tail(), 60, "the old worker's stop"
        )
        # The old worker no longer accepts; its socket waits for the turn in flight (aiohttp's
        # shutdown would close it now, cancelling the turn).
        with contextlib.suppress(TimeoutError):
            await client.wait_until(lambda: client.closed, timeout=1.0)
        still_open = not client.closed
        await storage.release(client.sid, blocker, 120_000)
        await client.wait_until(lambda: client.closed, timeout=30)
        acked = [f for f in client.frames if f["type"] == "ack" and f["id"] == mid]
        assert still_open and acked and client.close_codes == [1001], client.frames[-4:]

        # Back at once, on a new worker of the next generation; the turn applied once.
        await client.connect(instance.url, timeout=30)
        assert _by(client, set(new))
        users = [e for e in client.events if e["role"] == "user" and e["reply_to"] == mid]
        assert len(users) == 1
        await client.disconnect()
    await storage.redis.aclose()
    assert http_ok(instance.url + "/readyz")


def _healthz(instance: ServeInstance) -> dict[str, object]:
    import json
    import urllib.request

    with urllib.request.urlopen(instance.url + "/healthz", timeout=10) as r:
        body: dict[str, object] = json.loads(r.read())
    return body


def test_a_reload_runs_the_new_release_code_throughout(redis_url: str, tmp_path: Path) -> None:
    """A copy of the package is served, changed (a module the gunicorn master imports too,
    and one only workers import), then reloaded: the new workers run the changed code."""
    import shutil

    from tests.harness import REPO

    release = tmp_path / "release"
    shutil.copytree(REPO / "tpr_ws", release / "tpr_ws", ignore=shutil.ignore_patterns("__py*"))
    served = ServeInstance(
        "release", redis_url, secrets.token_urlsafe(24), tmp_path, workers=1, cwd=release
    )
    served.launch()
    try:
        served.wait_ready()
        assert "release" not in _healthz(served)
        config = release / "tpr_ws" / "config.py"
        http = release / "tpr_ws" / "transport" / "http.py"
        config.write_text(config.read_text() + '\nRELEASE_MARK = "the next release"\n')
        before = '    return _json({"status": "ok", **_who(request.app)})'
        after = (
            "    from tpr_ws.config import RELEASE_MARK\n\n"
            '    return _json({"status": "ok", "release": RELEASE_MARK, **_who(request.app)})'
        )
        assert before in http.read_text()
        http.write_text(http.read_text().replace(before, after))
        old = set(served.worker_pids())
        served.roll()
        wait_for(lambda: not set(served.worker_pids()) & old, 90, "the old workers' exit")
        served.wait_ready()
        body = _healthz(served)
        assert (body.get("release"), body.get("generation")) == ("the next release", 1), body
    finally:
        served.stop()
