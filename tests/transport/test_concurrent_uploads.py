"""The same upload sent twice at once (same session and Idempotency-Key, two workers, the
second while the first is still being parsed): one worker parses it, the other waits for its
answer, so the log holds one set of progress events and one summary, and both get one answer."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness import ChatClient
from tests.transport.conftest import WorkerFactory
from tpr_ws.domain.sample.generator import generate

pytestmark = pytest.mark.slow


def _phase(event: dict[str, Any]) -> str | None:
    progress = (event.get("data") or {}).get("progress")
    return str(progress["phase"]) if progress else None


async def test_concurrent_identical_uploads_parse_and_log_once(
    worker_factory: WorkerFactory, client_factory: Callable[[], ChatClient]
) -> None:
    w = worker_factory(2)
    made = generate("A", "state", seed=5, fmt="xlsx")  # big enough to take a while to parse
    c = client_factory()
    await c.create_session(w[0].url)
    await c.connect(w[0].url)
    key = uuid.uuid4().hex
    first = asyncio.create_task(c.upload(w[0].url, made.data, made.file_name, key=key))
    # The second copy leaves once the first is being parsed (its first progress event is logged).
    await c.wait_until(lambda: any(_phase(e) == "received" for e in c.events) or first.done())
    assert not first.done(), "the first upload finished before the second was sent"
    second = asyncio.create_task(c.upload(w[1].url, made.data, made.file_name, key=key))
    (status1, body1), (status2, body2) = await asyncio.gather(first, second)
    assert (status1, status2) == (202, 202) and body1 == body2, (body1, body2)
    await c.wait_stage("select_facility_level")
    # A message after both: once its answer is seen, everything the uploads logged is seen.
    ack = await c.say("status")
    await c.wait_until(lambda: any(e["reply_to"] == ack["id"] for e in c.bot_events()))
    phases = Counter(_phase(e) for e in c.events if _phase(e))
    assert phases["received"] == 1 and set(phases.values()) == {1}, phases  # one set
    summaries = [
        e
        for e in c.bot_events()
        if e.get("stage") == "select_facility_level" and e["reply_to"] != ack["id"]
    ]
    assert len(summaries) == 1, summaries
