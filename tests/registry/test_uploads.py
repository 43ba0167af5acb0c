"""Resumable-upload storage: chunks appended only at the right offset, quotas per session,
expiry by a clock the test controls, one finishing claim, closed uploads remembered."""

from __future__ import annotations

from tpr_ws.registry.storage import Storage

TTL = 60_000
T0 = 1_000_000


async def create(storage: Storage, uid: str, length: int, now: int = T0, **quota: int) -> str:
    limits = {"max_pending": 3, "max_pending_bytes": 1000, **quota}
    kind, _ = await storage.create_upload(
        "s1", uid, length, {"filename": "a.csv"}, now_ms=now, ttl_ms=TTL, **limits
    )
    return kind


async def test_chunks_append_only_at_the_current_offset(storage: Storage) -> None:
    assert await create(storage, "u1", 10) == "created"
    ok = await storage.append_chunk("s1", "u1", 0, b"abcd", now_ms=T0, ttl_ms=TTL)
    assert (ok.kind, ok.offset, ok.length) == ("ok", 4, 10)
    # The same chunk again (its reply was lost): refused, nothing stored twice.
    again = await storage.append_chunk("s1", "u1", 0, b"abcd", now_ms=T0, ttl_ms=TTL)
    assert (again.kind, again.offset) == ("conflict", 4)
    past = await storage.append_chunk("s1", "u1", 4, b"0123456789", now_ms=T0, ttl_ms=TTL)
    assert (past.kind, past.offset) == ("too_long", 4)
    await storage.append_chunk("s1", "u1", 4, b"efghij", now_ms=T0, ttl_ms=TTL)
    assert await storage.upload_bytes("s1", "u1") == b"abcdefghij"
    info = await storage.upload_info("s1", "u1")
    assert info is not None
    assert (info.length, info.offset, info.state, info.finishing) == (10, 10, "receiving", False)
    assert info.meta == {"filename": "a.csv"} and 0 < info.ttl_ms <= TTL
    unknown = await storage.append_chunk("s1", "nope", 0, b"x", now_ms=T0, ttl_ms=TTL)
    assert unknown.kind == "gone"


async def test_creation_is_idempotent_and_bounded_per_session(storage: Storage) -> None:
    assert await create(storage, "u1", 400) == "created"
    assert await storage.create_upload(
        "s1", "u1", 400, {}, now_ms=T0, ttl_ms=TTL, max_pending=3, max_pending_bytes=1000
    ) == ("exists", 400)
    assert await create(storage, "u2", 500) == "created"
    assert await create(storage, "u3", 200) == "quota"  # 900 + 200 > 1000 bytes unfinished
    assert await create(storage, "u3", 50) == "created"
    assert await create(storage, "u4", 1) == "too_many"  # 3 unfinished already
    # Another session has its own quota.
    kind, _ = await storage.create_upload(
        "s2", "u4", 900, {}, now_ms=T0, ttl_ms=TTL, max_pending=3, max_pending_bytes=1000
    )
    assert kind == "created"


async def test_expired_and_closed_uploads_free_the_quota(storage: Storage) -> None:
    assert await create(storage, "u1", 600) == "created"
    assert await create(storage, "u2", 600) == "quota"
    # A chunk renews u1's expiry; past it (the test's clock), u1 no longer counts.
    await storage.append_chunk("s1", "u1", 0, b"x", now_ms=T0 + 1000, ttl_ms=TTL)
    assert await create(storage, "u2", 600, now=T0 + TTL) == "quota"
    assert await create(storage, "u2", 600, now=T0 + 1000 + TTL) == "created"
    assert await storage.close_upload("s1", "u2", "done", {}, 5000)
    assert await create(storage, "u3", 600, now=T0 + 1000 + TTL) == "created"
    closed = await storage.upload_info("s1", "u2")
    assert closed is not None and closed.state == "done" and closed.offset == 0
    assert await storage.upload_bytes("s1", "u2") is None
    late = await storage.append_chunk("s1", "u2", 0, b"x", now_ms=T0, ttl_ms=TTL)
    assert late.kind == "closed"


async def test_every_upload_key_expires(storage: Storage) -> None:
    await create(storage, "u1", 10)
    await storage.append_chunk("s1", "u1", 0, b"abc", now_ms=T0, ttl_ms=TTL)
    assert await storage.claim_upload("s1", "u1", "w1", 5000)
    keys = storage.keys.session("s1").upload("u1")
    for key in (keys.uploads, keys.meta, keys.data, keys.claim):
        assert 0 < await storage.redis.pttl(key) <= TTL, key


async def test_one_worker_finishes_an_upload(storage: Storage) -> None:
    await create(storage, "u1", 3)
    assert await storage.claim_upload("s1", "u1", "w1", 5000)
    assert not await storage.claim_upload("s1", "u1", "w2", 5000)
    info = await storage.upload_info("s1", "u1")
    assert info is not None and info.finishing
    assert not await storage.renew_upload_claim("s1", "u1", "w2", 5000)
    assert await storage.renew_upload_claim("s1", "u1", "w1", 5000)
    assert await storage.renew_upload_claim("s1", "u1", "w1", 0)  # given up
    assert await storage.claim_upload("s1", "u1", "w2", 5000)
    await storage.close_upload("s1", "u1", "failed", {"problems": ["bad"]}, 5000)
    info = await storage.upload_info("s1", "u1")
    assert info is not None and info.state == "failed" and not info.finishing
    assert info.meta["outcome"] == '{"problems":["bad"]}'
