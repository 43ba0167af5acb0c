"""Resends through real workers: a resent upload (same Idempotency-Key) is answered from its
record and shows nothing again, not even its progress events."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.harness import ChatClient
from tests.transport.conftest import WorkerFactory
from tpr_ws.domain.sample.generator import generate

pytestmark = pytest.mark.slow


async def test_a_resent_upload_appends_nothing_to_the_log(
    worker_factory: WorkerFactory, client_factory: Callable[[], ChatClient]
) -> None:
    w = worker_factory(2)
    made = generate("A", "state", seed=11, fmt="xlsx")
    c = client_factory()
    await c.create_session(w[0].url)
    await c.connect(w[0].url)
    key = uuid.uuid4().hex
    status, body = await c.upload(w[0].url, made.data, made.file_name, key=key)
    assert status == 202, body
    await c.wait_stage("select_facility_level")
    progress = [e for e in c.events if e["data"].get("progress")]
    assert progress and all(e["reply_to"] == key for e in progress)
    seen = c.last_seq
    # The page resends its unacknowledged upload after a reload, to any worker.
    for worker in (w[1], w[0]):
        again, body2 = await c.upload(worker.url, made.data, made.file_name, key=key)
        assert again == 202 and body2 == body
    # A message after the resends: everything logged since is that message and its answer.
    ack = await c.say("status")
    await c.wait_until(lambda: any(e["reply_to"] == ack["id"] for e in c.bot_events()))
    after = [e for e in c.events if e["seq"] > seen]
    assert after and all(e["reply_to"] == ack["id"] for e in after), after
