"""Bad input gets a specific error, changes nothing, and the worker keeps serving."""

from __future__ import annotations

import io
import zipfile

import aiohttp
import orjson
import pytest

from tests.harness import ChatClient

pytestmark = pytest.mark.slow


@pytest.fixture
async def chat(worker_factory, client_factory):
    (w,) = worker_factory(1, TPR_WS_MAX_MESSAGE_BYTES="2048", TPR_WS_MAX_UPLOAD_BYTES="5000000")
    c = client_factory()
    await c.create_session(w.url)
    await c.connect(w.url)
    return w, c


async def _still_serving(c: ChatClient) -> None:
    ack = await c.say("status")
    assert ack["type"] == "ack"


async def _stage_and_seq(c: ChatClient) -> tuple[str, int]:
    return c.last_bot()["stage"], c.last_seq


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "say", "id": "x y", "text": "hi"}', "bad_id"),
        ('{"type": "say", "id": "a1", "text": "   "}', "empty_text"),
        ('{"type": "say", "id": "a2", "text": "' + "x" * 3000 + '"}', "too_large"),
    ],
)
async def test_bad_frames_get_specific_errors(chat, frame: str, code: str) -> None:
    _w, c = chat
    before = await _stage_and_seq(c)
    await c.send_raw(frame)
    await c.wait_until(lambda: any(e["code"] == code for e in c.errors), timeout=15)
    assert await _stage_and_seq(c) == before
    await _still_serving(c)


async def test_say_before_hello_is_refused_then_hello_works(worker_factory, http) -> None:
    (w,) = worker_factory(1)
    c = ChatClient(http)
    await c.create_session(w.url)
    ws = await http.ws_connect(w.ws_url)
    await ws.send_str(orjson.dumps({"type": "say", "id": "m1", "text": "hi"}).decode())
    frame = orjson.loads((await ws.receive()).data)
    assert frame["type"] == "error" and frame["code"] == "hello_required"
    await ws.send_str(
        orjson.dumps(
            {"type": "hello", "session_id": c.sid, "token": c.token, "last_seq": 0}
        ).decode()
    )
    assert orjson.loads((await ws.receive()).data)["type"] == "welcome"
    await ws.close()


async def test_wrong_token_closes_with_4401(worker_factory, http) -> None:
    (w,) = worker_factory(1)
    c = ChatClient(http)
    await c.create_session(w.url)
    ws = await http.ws_connect(w.ws_url)
    await ws.send_str(
        orjson.dumps(
            {"type": "hello", "session_id": c.sid, "token": "forged", "last_seq": 0}
        ).decode()
    )
    frame = orjson.loads((await ws.receive()).data)
    assert frame["code"] == "unauthorized"
    closing = await ws.receive()
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 4401
    # the HTTP side refuses the wrong token too
    status, body = await ChatClient.upload(_with(c, token="forged"), w.url, b"a,b\n1,2\n", "x.csv")
    assert status == 401 and body["error"]["code"] == "unauthorized"


def _with(c: ChatClient, **changes: str) -> ChatClient:
    clone = ChatClient(c.http)
    clone.sid, clone.token = c.sid, c.token
    for k, v in changes.items():
        setattr(clone, k, v)
    return clone


async def test_foreign_origin_is_refused_with_403(worker_factory, http) -> None:
    (w,) = worker_factory(1)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(w.ws_url, origin="http://evil.example")
    assert info.value.status == 403
    async with http.post(w.url + "/api/sessions", headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(300):  # 300 MB of zeros, about 300 KB compressed
                f.write(block)
    return buf.getvalue()


def _workbook_without_indicators() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        [
            "State",
            "LGA",
            "Ward",
            "Health Facility",
            "periodname",
            "Children <5 yrs who received LLIN",
        ]
    )
    ws.append(
        [
            "ad Adamawa State",
            "ad Yola North Local Government Area",
            "ad Karewa Ward",
            "PHC Bako",
            "January 2024",
            3,
        ]
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "code", "words"),
    [
        (
            "notes.xlsx",
            lambda: b"This is a text file, not a workbook.\n" * 20,
            "not_a_workbook",
            "workbook",
        ),
        ("bomb.xlsx", _zip_bomb, "zip_bomb", ""),
        ("empty.xlsx", lambda: b"", "empty_file", "empty"),
        ("llin.xlsx", _workbook_without_indicators, "unusable_workbook", "tested"),
    ],
)
async def test_bad_uploads_are_refused_with_every_reason_and_change_nothing(
    chat, name, make, code, words
) -> None:
    _w, c = chat
    await c.say("sample")
    await c.wait_stage("select_state")
    before_stage = c.last_bot()["stage"]
    status, body = await c.upload(_w.url, make(), name)
    assert status == 422, body
    assert body["error"]["code"] == code
    # the bot says what is wrong, and the workflow stays where it was
    await c.wait_until(lambda: c.last_bot()["reply_to"].startswith("upload:"), timeout=60)
    reply = c.last_bot()
    assert reply["stage"] == before_stage
    assert words.lower() in reply["text"].lower()
    await _still_serving(c)


async def test_oversize_upload_is_refused_while_streaming(chat) -> None:
    w, c = chat
    status, body = await c.upload(w.url, b"x" * 6_000_000, "big.csv")
    assert status == 413 and body["error"]["code"] == "too_large"
    await _still_serving(c)


async def test_a_refused_say_names_its_message_id(chat) -> None:
    _w, c = chat
    await c.send_raw('{"type": "say", "id": "m-empty", "text": "  "}')
    await c.wait_until(lambda: any(e.get("id") == "m-empty" for e in c.errors), timeout=15)
    assert [e["code"] for e in c.errors if e.get("id") == "m-empty"] == ["empty_text"]


async def test_a_clicked_choice_shows_its_label_and_is_matched_by_value(chat) -> None:
    _w, c = chat
    await c.send_raw(
        '{"type": "say", "id": "m-sample", "text": "sample", "label": "Use the sample data"}'
    )
    await c.wait_until(lambda: any(e["reply_to"] == "m-sample" for e in c.bot_events()), timeout=60)
    (user,) = [e for e in c.events if e["role"] == "user" and e["reply_to"] == "m-sample"]
    assert user["text"] == "Use the sample data"
    assert c.last_bot()["stage"] == "select_state"


async def test_rate_limit_refuses_the_excess_by_id_and_keeps_the_rest(worker_factory, http) -> None:
    (w,) = worker_factory(1, TPR_WS_RATE_LIMIT_MESSAGES="5", TPR_WS_RATE_LIMIT_WINDOW_S="60")
    c = ChatClient(http)
    await c.create_session(w.url)
    await c.connect(w.url)
    answers = [await c.say("help", mid=f"burst-{i}") for i in range(8)]
    kinds = [a["type"] for a in answers]
    assert kinds[:5] == ["ack"] * 5
    assert all(a["type"] == "error" and a["code"] == "rate_limited" for a in answers[5:])
    assert [a["id"] for a in answers[5:]] == ["burst-5", "burst-6", "burst-7"]


async def test_health_readiness_and_metrics(worker_factory, client_factory, http) -> None:
    (w,) = worker_factory(1)
    c = client_factory()
    await c.create_session(w.url)
    await c.connect(w.url)
    await c.say("help")
    async with http.get(w.url + "/healthz") as r:
        assert r.status == 200
    async with http.get(w.url + "/readyz") as r:
        assert r.status == 200 and (await r.json())["status"] == "ready"
    async with http.get(w.url + "/metrics") as r:
        text = await r.text()
    names = ("tpr_ws_turns_total", "tpr_ws_turn_seconds", "tpr_ws_lease_wait_seconds",
             "tpr_ws_fenced_commits_total", "tpr_ws_sockets", "tpr_ws_replays_total")  # fmt: skip
    for name in names:
        assert name in text, name
    assert 'tpr_ws_turns_total{outcome="committed"}' in text


async def test_readyz_reports_redis_down_while_healthz_stays_up(tmp_path, http) -> None:
    import secrets

    from tests.harness import WorkerProcess
    from tpr_ws.embedded import EmbeddedRedis

    with EmbeddedRedis(data_dir=tmp_path / "redis", appendonly=False) as server:
        w = WorkerProcess(server.url, secrets.token_urlsafe(24), tmp_path).start()
        try:
            server.stop()
            async with http.get(w.url + "/readyz") as r:
                assert r.status == 503
            async with http.get(w.url + "/healthz") as r:
                assert r.status == 200
            async with http.post(w.url + "/api/sessions") as r:
                assert r.status == 503
                assert (await r.json())["error"]["code"] == "storage_unavailable"
        finally:
            w.kill()


async def test_ui_files_are_revalidated_on_every_load(worker_factory, http) -> None:
    (w,) = worker_factory(1)
    for path in ("/", "/static/app.js", "/static/app.css"):
        async with http.get(w.url + path) as r:
            assert r.status == 200
            assert r.headers["Cache-Control"] == "no-cache", path
