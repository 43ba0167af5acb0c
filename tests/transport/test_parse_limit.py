"""Parsing has a time limit: the parsing process is killed and replaced, the user is told."""

from __future__ import annotations

import pytest

from tests.harness import ChatClient
from tpr_ws.domain.sample.generator import generate, preset_for_rows, sample_upload

pytestmark = pytest.mark.slow


async def test_a_file_that_parses_past_the_limit_is_refused_and_the_next_one_works(
    worker_factory, http
) -> None:
    # ~120k facility-months take seconds to read; the sample takes well under 0.2 s
    big = generate("A", preset_for_rows(120_000), seed=3, fmt="xlsx")
    (w,) = worker_factory(1, TPR_WS_PARSE_TIMEOUT_S="1")
    c = ChatClient(http)
    await c.create_session(w.url)
    await c.connect(w.url)
    status, body = await c.upload(w.url, big.data, big.file_name)
    assert status == 422 and body["error"]["code"] == "parse_timeout", body
    assert "longer than" in body["error"]["message"]
    await c.wait_until(lambda: c.last_bot()["reply_to"].startswith("upload:"), timeout=60)
    assert "longer than" in c.last_bot()["text"]
    assert c.last_bot()["stage"] == "awaiting_upload"
    sample = sample_upload()
    status, body = await c.upload(w.url, sample.data, sample.file_name)
    assert status == 202, body
    await c.wait_stage("select_state")
