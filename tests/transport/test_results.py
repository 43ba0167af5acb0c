"""Analyses over HTTP: result objects out of the log, every analysis's own downloads through
signed links, the same bytes every time, and an analysis opened again without recomputing."""

from __future__ import annotations

import csv
import gzip
import io
import time
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from tests.domain.oracle import oracle_tpr
from tests.harness import ChatClient
from tpr_ws.domain.sample.generator import sample_upload
from tpr_ws.domain.workbook import parse_workbook
from tpr_ws.transport import auth

pytestmark = pytest.mark.slow


def results_events(c: ChatClient) -> list[dict[str, Any]]:
    return [e for e in c.bot_events() if "results" in e["data"]]


async def two_analyses(c: ChatClient, url: str) -> list[dict[str, Any]]:
    await c.create_session(url)
    await c.connect(url)
    for reply in ("sample", "Adamawa", "primary", "under 5"):
        await c.say(reply)
    first = await c.wait_stage("results")
    await c.say("pregnant women")
    await c.wait_until(lambda: len(results_events(c)) == 2)
    return [first, results_events(c)[1]]


async def get(c: ChatClient, url: str, **headers: str) -> tuple[int, bytes, Any]:
    async with c.http.get(url, headers=headers, auto_decompress=False) as r:
        return r.status, await r.read(), r.headers


def csv_by_ward(body: bytes) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["LGA"], r["Ward"]): r for r in csv.DictReader(io.StringIO(body.decode()))}


async def test_results_events_name_their_object_and_each_card_downloads_its_own_analysis(
    worker_factory, client_factory
) -> None:
    w = worker_factory(2)
    c = client_factory()
    first, second = await two_analyses(c, w[0].url)
    for event in (first, second):
        assert "wards" not in event["data"]  # the table is not in the log ...
        assert len(orjson.dumps(event)) < 8_000  # ... so events stay small
    keys = [e["data"]["analysis"]["key"] for e in (first, second)]
    assert keys[0] != keys[1]
    assert first["data"]["analysis"]["label"].startswith("Adamawa · Primary · Under 5 · ")

    # The page's table: the stored object, cacheable forever, revalidated by its ETag.
    bearer = {"Authorization": f"Bearer {c.token}", "Accept-Encoding": "gzip"}
    status, body, headers = await get(c, w[1].url + first["data"]["analysis"]["url"], **bearer)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert (
        "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    )
    document = orjson.loads(gzip.decompress(body))
    assert (
        document["key"] == keys[0]
        and len(document["rows"]) == first["data"]["results"]["wards_total"]
    )
    again = await get(c, w[0].url + first["data"]["analysis"]["url"],
                      **bearer, **{"If-None-Match": headers["ETag"]})  # fmt: skip
    assert again[0] == 304

    # Each card's own CSV, through its signed links (no token in any URL), checked by the oracle.
    sample = sample_upload()
    frame = parse_workbook(sample.data, sample.file_name).frame
    for key, age in zip(keys, ("u5", "pw"), strict=True):
        links = await c.links(w[1].url, key)
        assert all("token" not in url for url in links["links"].values())
        status, body, headers = await get(c, w[0].url + links["links"]["csv"])
        assert status == 200
        assert f'filename="Adamawa_TPR_Primary_{age}.csv"' in headers["Content-Disposition"]
        got = csv_by_ward(body)
        for ward_id, want in oracle_tpr(frame, "Adamawa", "Primary", age).wards.items():
            assert float(got[ward_id]["Tested"] or 0) == want.tested


async def test_links_are_bound_to_session_result_format_and_time(
    worker_factory, client_factory
) -> None:
    (w,) = worker_factory(1)
    c, other = client_factory(), client_factory()
    first, second = await two_analyses(c, w.url)
    await other.create_session(w.url)
    key = first["data"]["analysis"]["key"]
    links = (await c.links(w.url, key))["links"]
    assert (await get(c, w.url + links["html"]))[0] == 200
    csv_query = links["csv"].split("?")[1]
    base = f"/api/sessions/{c.sid}/results/{key}"
    # the CSV's signature does not open the workbook, another analysis, or another session
    assert (await get(c, f"{w.url}{base}/xlsx?{csv_query}"))[0] == 401
    second_key = second["data"]["analysis"]["key"]
    assert (await get(c, f"{w.url}/api/sessions/{c.sid}/results/{second_key}/csv?{csv_query}"))[
        0
    ] == 401
    other_base = f"/api/sessions/{other.sid}/results/{key}"
    assert (await get(c, f"{w.url}{other_base}/csv?{csv_query}"))[0] == 401
    # an expired link (signed with the real secret, expiry in the past) is refused
    past = int(time.time()) - 1
    stale = auth.sign_link(w.secret.encode(), c.sid, key, "csv", past)
    status, body, _ = await get(c, f"{w.url}{base}/csv?{stale}")
    assert status == 401 and orjson.loads(body)["error"]["code"] == "link_expired"
    # another session's owner cannot fetch this session's result object or get links to it
    theirs = {"Authorization": f"Bearer {other.token}"}
    assert (await get(c, f"{w.url}{other_base}", **theirs))[0] == 404
    assert (await get(c, f"{w.url}{other_base}/links", **theirs))[0] == 404
    # the session token is refused in a URL
    assert (await get(c, f"{w.url}{base}/csv?token={c.token}"))[0] == 401


async def test_old_links_return_the_same_bytes_and_an_analysis_reopens_without_recomputing(
    worker_factory, client_factory, redis_server
) -> None:
    w = worker_factory(1)
    c = client_factory()
    first, second = await two_analyses(c, w[0].url)
    key, second_key = first["data"]["analysis"]["key"], second["data"]["analysis"]["key"]
    links = (await c.links(w[0].url, key))["links"]
    before = {fmt: (await get(c, w[0].url + url))[1] for fmt, url in links.items()}
    assert b"<svg" in before["html"] and before["xlsx"][:2] == b"PK"

    # The uploaded file is gone from Redis (its blob expired); a worker that never saw it
    # serves the same bytes and reopens the first analysis from the stored result object.
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        dataset_keys = [k async for k in client.scan_iter(match="tpr:blob:*")]
        assert dataset_keys
        await client.delete(*dataset_keys)
    finally:
        await client.aclose()
    (fresh,) = worker_factory(1)
    after = {fmt: (await get(c, fresh.url + url))[1] for fmt, url in links.items()}
    assert after == before

    await c.connect(fresh.url)
    listed = await c.say("analyses")
    assert listed["type"] == "ack"
    await c.wait_until(lambda: "Your analyses" in c.last_bot()["text"])
    options = c.last_bot()["options"]
    assert [o["value"] for o in options] == [f"open:{key}", f"open:{second_key}"]
    await c.say(f"open:{key}")
    await c.wait_until(lambda: len(results_events(c)) == 3)
    reopened = results_events(c)[2]
    assert reopened["data"]["analysis"]["key"] == key
    assert reopened["data"]["results"] == first["data"]["results"]
    assert reopened["stage"] == "results"
