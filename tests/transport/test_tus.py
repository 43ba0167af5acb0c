"""Resumable uploads (tus 1.0 core + creation, checksum, expiration, termination) across real
worker processes: every request may reach another worker; the end is the same session events
as the one-request upload."""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
from typing import Any

import aiohttp

from tests.domain.factories import csv_bytes, table
from tests.harness import ChatClient, WorkerProcess

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class Tus:
    """A tus client that sends each request to the next worker in turn."""

    def __init__(self, client: ChatClient, workers: list[WorkerProcess]) -> None:
        self.c = client
        self.urls = itertools.cycle([w.url for w in workers])
        self.auth = {**TUS, "Authorization": f"Bearer {client.token}"}

    async def create(
        self, length: int, key: str | None = None, **meta: str
    ) -> aiohttp.ClientResponse:
        headers = {**self.auth, "Upload-Length": str(length), "Upload-Metadata": metadata(**meta)}
        if key:
            headers["Idempotency-Key"] = key
        async with self.c.http.post(
            f"{next(self.urls)}/api/sessions/{self.c.sid}/files", headers=headers
        ) as r:
            await r.read()
            return r

    async def head(self, location: str) -> aiohttp.ClientResponse:
        async with self.c.http.head(next(self.urls) + location, headers=self.auth) as r:
            return r

    async def patch(
        self, location: str, offset: int, chunk: bytes, **headers: str
    ) -> tuple[int, dict[str, str], Any]:
        h = {
            **self.auth,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        async with self.c.http.patch(next(self.urls) + location, data=chunk, headers=h) as r:
            body = await r.json() if r.content_type == "application/json" else None
            return r.status, dict(r.headers), body


async def session(worker_factory: Any, client_factory: Any, n: int = 3) -> tuple[Tus, Any]:
    workers = worker_factory(n)
    c = client_factory()
    await c.create_session(workers[0].url)
    await c.connect(workers[0].url)
    return Tus(c, workers), workers


def shape(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    """What a user sees of an upload's events, without the timing-dependent parse ticks."""
    return [
        (
            e["role"],
            e["stage"],
            e["data"]["progress"]["phase"] if "progress" in e["data"] else e["text"],
        )
        for e in events
        if e["data"].get("progress", {}).get("phase") != "parsing"
    ]


async def test_chunks_on_every_worker_end_in_the_one_request_upload_events(
    worker_factory: Any, client_factory: Any
) -> None:
    tus, workers = await session(worker_factory, client_factory)
    data = csv_bytes(table(30))
    r = await tus.create(len(data), filename="export.csv", sha256=hashlib.sha256(data).hexdigest())
    assert (
        r.status == 201 and r.headers["Tus-Resumable"] == "1.0.0" and "Upload-Expires" in r.headers
    )
    location = r.headers["Location"]
    assert (await tus.patch(location, 0, data[:1000]))[0] == 204
    head = await tus.head(location)
    assert head.headers["Upload-Offset"] == "1000" and head.headers["Upload-Length"] == str(
        len(data)
    )
    assert (
        head.headers["Tpr-Upload-State"] == "receiving"
        and head.headers["Cache-Control"] == "no-store"
    )
    status, headers, _ = await _rest(tus, location, data, 1000)
    assert status == 204 and headers["Tpr-Upload-State"] == "done"
    c = tus.c
    await c.wait_stage("select_facility_level")
    tus_events = c.events[2:]

    # The same file through the one-request upload, in another session.
    other = client_factory()
    await other.create_session(workers[1].url)
    await other.connect(workers[1].url)
    assert (await other.upload(workers[1].url, data, "export.csv"))[0] == 202
    await other.wait_stage("select_facility_level")
    assert shape(tus_events) == shape(other.events[2:])
    uid = location.rsplit("/", 1)[1]
    assert [e["reply_to"] for e in tus_events if e["role"] == "user"] == [f"upload:{uid}"]

    # Completion again (a reply lost on the way): the same answer, nothing new in the log.
    last = c.last_seq
    status, headers, _ = await tus.patch(location, len(data), b"")
    assert status == 204 and headers["Tpr-Upload-State"] == "done"
    assert headers["Upload-Offset"] == str(len(data))
    assert (await tus.head(location)).headers["Tpr-Upload-State"] == "done"
    seen = list(c.events)
    c.events = []
    await c.connect(workers[2].url, last_seq=0)  # the whole log again, from another worker
    assert c.events == seen and c.last_seq == last


async def _rest(
    tus: Tus, location: str, data: bytes, offset: int
) -> tuple[int, dict[str, str], Any]:
    answer: tuple[int, dict[str, str], Any] = (0, {}, None)
    while offset < len(data):
        chunk = data[offset : offset + 700]
        answer = await tus.patch(location, offset, chunk)
        assert answer[0] == 204, answer
        offset += len(chunk)
    return answer


async def test_gzip_csv_is_decoded_and_checked_before_parsing(
    worker_factory: Any, client_factory: Any
) -> None:
    tus, _ = await session(worker_factory, client_factory, n=2)
    data = csv_bytes(table(40))
    packed = gzip.compress(data)
    assert len(packed) < len(data) / 3
    r = await tus.create(
        len(packed), filename="export.csv", encoding="gzip", sha256=hashlib.sha256(data).hexdigest()
    )
    _, headers, _ = await _rest(tus, r.headers["Location"], packed, 0)
    assert headers["Tpr-Upload-State"] == "done"
    await tus.c.wait_stage("select_facility_level")
    user = [e for e in tus.c.events if e["role"] == "user"][-1]
    assert user["text"].startswith("Uploaded **export.csv**")


async def test_a_file_damaged_on_the_way_is_refused_and_said_in_the_chat(
    worker_factory: Any, client_factory: Any
) -> None:
    tus, _ = await session(worker_factory, client_factory, n=2)
    data = csv_bytes(table(10))
    r = await tus.create(len(data), filename="x.csv", sha256=hashlib.sha256(b"other").hexdigest())
    status, _, body = await tus.patch(r.headers["Location"], 0, data)
    assert status == 422 and body["error"]["code"] == "checksum_mismatch"
    assert "did not arrive intact" in body["error"]["problems"][0]
    await tus.c.wait_until(lambda: "did not arrive intact" in tus.c.last_bot()["text"])
    # Sent again, the same refusal; the session's state is unchanged (still at the upload step).
    assert (await tus.patch(r.headers["Location"], len(data), b""))[:3:2] == (422, body)
    assert tus.c.last_bot()["stage"] == "awaiting_upload"


async def test_offsets_checksums_and_versions_are_enforced(
    worker_factory: Any, client_factory: Any
) -> None:
    tus, workers = await session(worker_factory, client_factory, n=2)
    r = await tus.create(100, filename="x.csv")
    location = r.headers["Location"]
    assert (await tus.patch(location, 5, b"abc"))[0] == 409
    good = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    bad = base64.b64encode(hashlib.sha256(b"abd").digest()).decode()
    assert (await tus.patch(location, 0, b"abc", Upload_Checksum=f"sha256 {bad}"))[0] == 460
    assert (await tus.patch(location, 0, b"abc", Upload_Checksum=f"md5 {good}"))[0] == 400
    assert (await tus.patch(location, 0, b"abc", Upload_Checksum=f"sha256 {good}"))[0] == 204
    assert (await tus.patch(location, 0, b"abc"))[0] == 409  # a resent chunk is not stored twice
    assert (await tus.head(location)).headers["Upload-Offset"] == "3"
    assert (await tus.patch(location, 3, b"x" * 200))[0] == 400  # past Upload-Length
    http = tus.c.http
    url = workers[0].url + location
    async with http.patch(url, data=b"x", headers={**tus.auth, "Upload-Offset": "3"}) as resp:
        assert resp.status == 415  # not application/offset+octet-stream
    async with http.head(url, headers={"Authorization": tus.auth["Authorization"]}) as resp:
        assert resp.status == 412  # no Tus-Resumable
    async with http.head(url, headers={**TUS, "Authorization": "Bearer nope"}) as resp:
        assert resp.status == 401
    async with http.options(f"{workers[1].url}/api/sessions/{tus.c.sid}/files") as resp:
        assert resp.status == 204
        assert resp.headers["Tus-Extension"] == "creation,checksum,expiration,termination"
        assert "sha256" in resp.headers["Tus-Checksum-Algorithm"]


async def test_limits_per_upload_and_per_session(worker_factory: Any, client_factory: Any) -> None:
    workers = worker_factory(
        1,
        TPR_WS_MAX_UPLOAD_BYTES="200000",
        TPR_WS_UPLOAD_MAX_PENDING="2",
        TPR_WS_UPLOAD_CHUNK_MAX_BYTES="4096",
    )
    c = client_factory()
    await c.create_session(workers[0].url)
    await c.connect(workers[0].url)
    tus = Tus(c, workers)
    assert (await tus.create(200_001)).status == 413
    first = await tus.create(10, key="first-upload")
    assert first.status == 201
    again = await tus.create(10, key="first-upload")  # creation resent: the same upload
    assert again.headers["Location"] == first.headers["Location"]
    assert (await tus.create(10)).status == 201
    assert (await tus.create(10)).status == 429  # two unfinished already
    assert (await tus.patch(first.headers["Location"], 0, b"x" * 5000))[0] == 413
    async with c.http.delete(workers[0].url + first.headers["Location"], headers=tus.auth) as r:
        assert r.status == 204
    assert (await tus.head(first.headers["Location"])).status == 404
    assert (await tus.create(10)).status == 201  # the deleted one no longer counts


async def test_a_gzip_bomb_is_refused(worker_factory: Any, client_factory: Any) -> None:
    workers = worker_factory(1, TPR_WS_MAX_UPLOAD_BYTES="200000")
    c = client_factory()
    await c.create_session(workers[0].url)
    await c.connect(workers[0].url)
    tus = Tus(c, workers)
    bomb = gzip.compress(b"0" * 5_000_000)  # 5 KB on the wire, 5 MB once expanded
    r = await tus.create(len(bomb), filename="bomb.csv", encoding="gzip")
    status, _, body = await tus.patch(r.headers["Location"], 0, bomb)
    assert status == 422 and body["error"]["code"] == "too_large"
    assert "expands to more than" in body["error"]["problems"][0]
