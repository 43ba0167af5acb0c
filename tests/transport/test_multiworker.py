"""The chat across several real worker processes: reconnects, second tabs, resends, kills."""

from __future__ import annotations

import asyncio
import csv
import io
import signal
import uuid

import aiohttp
import pandas as pd
import pytest

from tests.domain.oracle import oracle_tpr
from tests.harness import ChatClient
from tpr_ws.domain.sample.generator import generate

pytestmark = pytest.mark.slow


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _assert_matches_oracle(
    body: bytes, truth: pd.DataFrame, state: str, level: str, age: str
) -> None:
    rows = _csv_rows(body)
    expected = oracle_tpr(truth, state, level, age).wards
    assert len(rows) == len(expected)
    got = {(r["LGA"], r["Ward"]): r for r in rows}
    for (lga, ward), want in expected.items():
        row = got[(lga, ward)]
        assert float(row["Tested"] or 0) == want.tested
        assert float(row["Positive"] or 0) == want.positive
        if want.tpr is None:
            assert row["TPR"] == ""
        else:
            assert abs(float(row["TPR"]) - want.tpr) < 0.006


def _assert_log_clean(client: ChatClient) -> None:
    seqs = [e["seq"] for e in client.events]
    assert seqs == list(range(1, len(seqs) + 1)), "log has a gap or a duplicate"
    user_ids = [e["reply_to"] for e in client.events if e["role"] == "user"]
    assert len(user_ids) == len(set(user_ids)), "a user message appears twice"


async def test_workflow_reconnecting_to_a_different_worker_before_every_step(
    worker_factory, client_factory
) -> None:
    w = worker_factory(3)
    made = generate("A", "state", seed=7, fmt="xlsx")
    state = sorted(made.truth["state"].unique())[0]
    c = client_factory()
    await c.create_session(w[0].url)
    await c.connect(w[0].url)
    status, body = await c.upload(w[0].url, made.data, made.file_name)
    assert status == 202, body
    first = await c.wait_stage("select_facility_level")  # one state: state selection skipped
    assert state in first["text"] or any(state in e["text"] for e in c.bot_events())
    for i, reply in enumerate(["primary", "under 5"]):
        target = w[(i + 1) % 3]
        await c.connect(target.url)  # hello with the last seq seen
        assert c.welcome["worker"].endswith(str(target.proc.pid))
        ack = await c.say(reply)
        assert ack["type"] == "ack"
    await c.wait_stage("results")
    status, csv_body, disposition = await c.download(w[2].url, "results.csv")
    assert status == 200
    assert f"{state}_TPR_Primary_u5.csv" in disposition
    _assert_matches_oracle(csv_body, made.truth, state, "Primary", "u5")
    _assert_log_clean(c)


async def test_second_tab_on_another_worker_sees_every_event_live(
    worker_factory, client_factory
) -> None:
    w = worker_factory(2)
    a, b = client_factory(), client_factory()
    await a.create_session(w[0].url)
    b.sid, b.token = a.sid, a.token
    await a.connect(w[0].url)
    await b.connect(w[1].url)
    await a.say("sample")
    await a.say("2")
    await a.say("help")
    await b.wait_until(lambda: b.last_seq == a.last_seq and a.last_seq > 3, timeout=30)
    assert [e["seq"] for e in b.events] == [e["seq"] for e in a.events]
    assert [e["text"] for e in b.events] == [e["text"] for e in a.events]
    # b talks, a hears it
    await b.say("status")
    await a.wait_until(lambda: a.last_seq == b.last_seq, timeout=30)
    _assert_log_clean(a)
    _assert_log_clean(b)


async def test_message_resent_to_another_worker_after_dropped_socket_has_one_effect(
    worker_factory, client_factory
) -> None:
    w = worker_factory(2)
    c = client_factory()
    await c.create_session(w[0].url)
    await c.connect(w[0].url)
    mid = uuid.uuid4().hex
    await c.say("sample", mid=mid, wait=False)
    await c.disconnect()  # dropped before the ack could arrive
    c.events = []
    await c.connect(w[1].url, last_seq=0)
    ack1 = await c.say("sample", mid=mid)
    ack2 = await c.say("sample", mid=mid)
    assert ack1["type"] == ack2["type"] == "ack"
    assert ack1["seq"] == ack2["seq"]
    await c.wait_until(lambda: any(e["seq"] >= ack1["seq"] for e in c.events))
    users = [e for e in c.events if e["role"] == "user" and e["reply_to"] == mid]
    assert len(users) == 1
    summaries = [e for e in c.bot_events() if e["reply_to"] == mid]
    assert summaries and len({e["seq"] for e in summaries}) == len(summaries)
    _assert_log_clean(c)


async def test_killed_worker_mid_workflow_client_resumes_elsewhere(
    worker_factory, client_factory
) -> None:
    w = worker_factory(3)
    c = client_factory()
    await c.create_session(w[0].url)
    await c.connect(w[0].url)
    await c.say("sample")
    await c.wait_stage("select_state")
    w[0].kill(signal.SIGKILL)
    await c.connect(w[1].url)  # replays what was missed, from last_seq
    await c.say("1")
    await c.wait_stage("select_facility_level")
    w[1].kill(signal.SIGKILL)
    await c.connect(w[2].url)
    await c.say("all")
    await c.say("all ages")
    await c.wait_stage("results")
    status, body, _ = await c.download(w[2].url, "results.csv")
    assert status == 200 and body
    _assert_log_clean(c)
    # a fresh tab replaying from zero sees the same log
    d = client_factory()
    d.sid, d.token = c.sid, c.token
    await d.connect(w[2].url, last_seq=0)
    await d.wait_until(lambda: d.last_seq == c.last_seq)
    assert [e["text"] for e in d.events] == [e["text"] for e in c.events]


async def test_worker_killed_while_parsing_an_upload_retry_elsewhere_completes_once(
    worker_factory, client_factory
) -> None:
    w = worker_factory(2)
    made = generate("B", "state", seed=3, fmt="xlsx")
    c = client_factory()
    await c.create_session(w[0].url)
    await c.connect(w[1].url)
    key = uuid.uuid4().hex
    upload = asyncio.create_task(c.upload(w[0].url, made.data, made.file_name, key=key))
    # the first progress event says the bytes arrived and parsing began
    await c.wait_until(lambda: any(e["data"].get("progress") for e in c.events), timeout=60)
    w[0].kill(signal.SIGKILL)
    with pytest.raises((aiohttp.ClientError, asyncio.TimeoutError)):
        await upload
    status, body = await c.upload(w[1].url, made.data, made.file_name, key=key)
    assert status == 202, body
    status2, body2 = await c.upload(w[1].url, made.data, made.file_name, key=key)
    assert status2 == 202 and body2["seq"] == body["seq"]
    await c.wait_stage("select_facility_level")
    uploads = [e for e in c.events if e["role"] == "user" and e["reply_to"] == f"upload:{key}"]
    assert len(uploads) == 1
    _assert_log_clean(c)
