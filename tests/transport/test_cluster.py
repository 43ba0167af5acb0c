"""The server on a 3-master Redis Cluster: the same conversation, fan-out included."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.harness import WorkerProcess
from tpr_ws.embedded import EmbeddedRedis

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


async def test_conversation_and_second_tab_on_redis_cluster(
    cluster_servers: list[EmbeddedRedis], client_factory, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(24)
    # two workers, each given a different seed node of the same cluster
    workers = [WorkerProcess(n.url, secret, tmp_path) for n in cluster_servers[:2]]
    try:
        for w in workers:
            w.start()
        a, b = client_factory(), client_factory()
        await a.create_session(workers[0].url)
        b.sid, b.token = a.sid, a.token
        await a.connect(workers[0].url)
        await b.connect(workers[1].url)
        for reply in ("sample", "Kano", "all", "under 5"):
            await a.say(reply)
        await a.wait_stage("results")
        await b.wait_until(lambda: b.last_seq == a.last_seq, timeout=30)
        assert [e["text"] for e in b.events] == [e["text"] for e in a.events]
        status, body, _ = await b.download(workers[1].url, "results.csv")
        assert status == 200 and body.startswith(b"State,LGA,Ward,TPR")
    finally:
        for w in workers:
            w.kill()
