"""Uploads are spooled to disk while they stream, stalled bodies are closed, concurrent
uploads are capped per session and per client address, and each address has an upload quota."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import aiohttp
import pytest

from tests.harness import ChatClient
from tests.transport.rawhttp import RawUpload, gauge, wait_for
from tpr_ws.domain.sample.generator import sample_upload

pytestmark = pytest.mark.slow

RECEIVING = "tpr_ws_uploads_receiving"


async def _session(http, w) -> ChatClient:  # type: ignore[no-untyped-def]
    c = ChatClient(http)
    await c.create_session(w.url)
    await c.connect(w.url)
    return c


def _spooled(directory: Path) -> list[Path]:
    return sorted(directory.glob("tpr-ws-upload-*")) if directory.is_dir() else []


async def test_an_upload_streams_to_disk_and_a_stalled_one_is_closed_and_removed(
    worker_factory, http, tmp_path
) -> None:
    spool = tmp_path / "uploads"
    (w,) = worker_factory(1, TPR_WS_UPLOAD_DIR=str(spool), TPR_WS_UPLOAD_STALL_S="3")
    c = await _session(http, w)
    raw = await RawUpload(w.port, c.sid, c.token, "slow.xlsx", 1_000_000).open()
    try:
        await raw.send(b"x" * 300_000)
        # what has arrived is on disk, not in the worker's memory (the multipart reader holds
        # back its last piece until the next one shows whether a boundary spans them)
        await wait_for(
            lambda: [p.stat().st_size >= 200_000 for p in _spooled(spool)] == [True],
            what="spooled bytes",
        )
        status, headers, body = await raw.answer(timeout=60)
    finally:
        raw.close()
    assert status == 408 and body["error"]["code"] == "upload_stalled", body
    assert headers.get("connection", "").lower() == "close"
    assert _spooled(spool) == []
    sample = sample_upload()
    status, body = await c.upload(w.url, sample.data, sample.file_name)
    assert status == 202, body
    assert _spooled(spool) == []  # a finished upload's file is removed too


async def _trickle(raw: RawUpload, piece: int, every_s: float, total: int) -> None:
    sent = 0
    while sent < total:
        await raw.send(b"y" * min(piece, total - sent))
        sent += piece
        await asyncio.sleep(every_s)


async def test_progress_is_judged_not_total_time(worker_factory, http) -> None:
    # 2 KB every 2 s is enough: a steady 5 KB/s upload taking longer than 2 s gets through,
    # a trickle of 0.4 KB/s is closed although bytes keep coming.
    (w,) = worker_factory(1, TPR_WS_UPLOAD_STALL_S="2", TPR_WS_UPLOAD_MIN_PROGRESS_BYTES="2048")
    c = await _session(http, w)
    sample = sample_upload()
    steady = await RawUpload(w.port, c.sid, c.token, sample.file_name, len(sample.data)).open()
    try:
        for i in range(0, len(sample.data), 1024):
            await steady.send(sample.data[i : i + 1024])
            await asyncio.sleep(0.2)
        await steady.finish()
        status, _, body = await steady.answer()
    finally:
        steady.close()
    assert status == 202, body
    trickle = await RawUpload(w.port, c.sid, c.token, "drip.xlsx", 1_000_000).open()
    sender = asyncio.create_task(_trickle(trickle, 100, 0.25, 1_000_000))
    try:
        status, _, body = await trickle.answer(timeout=60)
    finally:
        sender.cancel()
        trickle.close()
    assert status == 408 and body["error"]["code"] == "upload_stalled", body


async def test_concurrent_uploads_are_capped_per_session_and_per_client(
    worker_factory, http
) -> None:
    (w,) = worker_factory(1, TPR_WS_MAX_UPLOADS_PER_SESSION="1", TPR_WS_MAX_UPLOADS_PER_CLIENT="2")
    a, b, c = [await _session(http, w) for _ in range(3)]
    sample = sample_upload()
    held = [await RawUpload(w.port, a.sid, a.token, "a.xlsx", 1_000_000).open()]
    try:
        await held[0].send(b"z" * 1000)
        await wait_for(lambda: gauge(w.url, RECEIVING) == 1, what="first upload held")
        status, body = await a.upload(w.url, sample.data, sample.file_name)
        assert status == 429 and body["error"]["code"] == "too_many_uploads", body
        held.append(await RawUpload(w.port, b.sid, b.token, "b.xlsx", 1_000_000).open())
        await held[1].send(b"z" * 1000)
        await wait_for(lambda: gauge(w.url, RECEIVING) == 2, what="second upload held")
        status, body = await c.upload(w.url, sample.data, sample.file_name)
        assert status == 429 and body["error"]["code"] == "too_many_uploads", body
        held.pop(0).close()  # the first client gives up: its slots are free again
        await wait_for(lambda: gauge(w.url, RECEIVING) == 1, what="first upload released")
        for client in (a, c):
            status, body = await client.upload(w.url, sample.data, sample.file_name)
            assert status == 202, body
    finally:
        for raw in held:
            raw.close()


async def test_the_upload_quota_per_client_is_shared_by_every_worker(worker_factory, http) -> None:
    sample = sample_upload()
    size = len(sample.data)
    workers = worker_factory(2, TPR_WS_UPLOAD_QUOTA_BYTES=str(2 * size + size // 2))
    c = await _session(http, workers[0])
    for w in workers:  # two uploads, one per worker: 2 sizes counted, under the quota
        status, body = await c.upload(w.url, sample.data, sample.file_name)
        assert status == 202, body
    # the third (to either worker) is counted against the same window: 3 sizes > quota
    status, body = await c.upload(workers[0].url, sample.data, sample.file_name)
    assert status == 202, body
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(sample.data), filename=sample.file_name)
    async with http.post(
        f"{workers[1].url}/api/sessions/{c.sid}/upload",
        data=form,
        headers={"Authorization": f"Bearer {c.token}"},
    ) as r:
        assert r.status == 429
        assert (await r.json())["error"]["code"] == "upload_quota"
        assert int(r.headers["Retry-After"]) > 0


async def test_resumable_uploads_count_against_the_same_quota(worker_factory, http) -> None:
    (w,) = worker_factory(1, TPR_WS_UPLOAD_QUOTA_BYTES="1000")
    c = await _session(http, w)

    async def create(length: int) -> tuple[int, dict]:
        headers = {
            "Tus-Resumable": "1.0.0",
            "Authorization": f"Bearer {c.token}",
            "Upload-Length": str(length),
        }
        async with http.post(f"{w.url}/api/sessions/{c.sid}/files", headers=headers) as r:
            return r.status, (await r.json() if r.status >= 400 else {})

    assert (await create(1500))[0] == 201  # counted when created
    status, body = await create(10)
    assert status == 429 and body["error"]["code"] == "upload_quota", body
    sample = sample_upload()  # and the one-request upload meets the same window
    status, body = await c.upload(w.url, sample.data, sample.file_name)
    assert status == 429 and body["error"]["code"] == "upload_quota", body
