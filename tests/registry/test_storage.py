"""Storage: the log, blobs, and the lease scripts' contract, on a real server."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.registry.conftest import ClientFactory
from tests.registry.helpers import fencing_epoch, lease_holder, waiting_tokens
from tpr_ws.registry.storage import Storage


async def test_append_numbers_events_and_reads_back(storage: Storage) -> None:
    out = await storage.append_events("s1", [{"text": "a", "seq": 99}, {}, {"l": []}])
    assert [e["seq"] for e in out] == [1, 2, 3]
    assert out[0] == {"seq": 1, "text": "a"}
    read = await storage.read_log("s1", 0)
    assert read.events == out and read.last_seq == 3 and not read.gap
    assert (await storage.read_log("s1", 1)).events == out[1:]
    assert await storage.last_seq("s1") == 3
    assert await storage.read_log("s1", 3) == type(read)([], 3, False)


async def test_trimmed_log_reports_gap(storage: Storage) -> None:
    await storage.append_events("s1", [{"i": i} for i in range(60)])
    assert (await storage.read_log("s1", 0)).gap
    assert (await storage.read_log("s1", 5)).gap
    read = await storage.read_log("s1", 10)  # 11..60 are the 50 kept
    assert not read.gap and [e["seq"] for e in read.events] == list(range(11, 61))
    assert (await storage.read_log("s1", 61)).gap  # ahead of the log: resync too


async def test_appended_events_are_published(storage: Storage) -> None:
    pubsub = storage.redis.pubsub()
    await pubsub.subscribe(storage.events_channel("s1"))
    try:
        await storage.append_events("s1", [{"x": 1.5, "y": []}])
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if msg is not None:
                break
        origin, _, body = msg["data"].partition(b"|")
        assert origin == b""  # an append outside a turn: every worker delivers it
        assert orjson.loads(body) == [{"seq": 1, "x": 1.5, "y": []}]
        # A commit's batch names its worker, which delivers it to its own sockets in-process.
        token = storage.new_token()
        granted = await storage.acquire("s1", "m1", token, 5000)
        await storage.commit("s1", "m1", token=token, epoch=granted.epoch, state=b"{}",
                             events=[{"z": 1}], result={}, ttl_ms=5000)  # fmt: skip
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if msg is not None:
                break
        origin, _, body = msg["data"].partition(b"|")
        assert origin == storage.wake_tag.encode()
        assert orjson.loads(body) == [{"seq": 2, "z": 1}]
    finally:
        await pubsub.aclose()


async def test_blobs(storage: Storage) -> None:
    await storage.put_blob("abc", b"\x00data", ttl_s=60)
    assert await storage.get_blob("abc") == b"\x00data"
    assert await storage.get_blob("nope") is None


async def test_acquire_grants_queues_and_commit_hands_over(storage: Storage) -> None:
    A, B, _C = (storage.new_token(name) for name in "ABC")  # woken on its wake channel
    a = await storage.acquire("s", "m1", A, 5000)
    assert a.kind == "granted" and a.epoch == 1 and a.state is None and a.ticket == 1
    b = await storage.acquire("s", "m2", B, 5000)
    assert b.kind == "queued" and b.position == 0 and b.ticket == 2
    assert await storage.renew("s", A, 1, 5000)
    assert not await storage.renew("s", B, 1, 5000)
    done = await storage.commit(
        "s",
        "m1",
        token=A,
        epoch=1,
        state=b"one",
        events=[{"t": 1}],
        result={"r": 1},
        ttl_ms=5000,
    )
    assert done.kind == "ok" and done.record is not None
    assert (done.record.first_seq, done.record.last_seq, done.record.result) == (1, 1, {"r": 1})
    # B was handed the lease (a new epoch) and woken with the state it needs.
    woken = await storage.wait_wake("s", B, 1)
    assert woken is not None and (woken.kind, woken.epoch, woken.state) == ("granted", 2, b"one")
    holder, _ = await lease_holder(storage, "s")
    assert holder == B
    # Coming back by timeout instead (the wake-up missed) gives the same lease.
    b2 = await storage.acquire("s", "m2", B, 5000, first=False)
    assert b2.kind == "granted" and b2.epoch == 2 and b2.state == b"one"
    # A's late commit is fenced.
    late = await storage.commit(
        "s", "m3", token=A, epoch=1, state=b"bad", events=[], result={}, ttl_ms=5000
    )
    assert late.kind == "fenced"
    assert await storage.load_state("s") == b"one"


async def test_committed_id_answers_duplicate_without_lease(storage: Storage) -> None:
    A, _B, C = (storage.new_token(name) for name in "ABC")  # woken on its wake channel
    await storage.acquire("s", "m1", A, 5000)
    await storage.commit(
        "s", "m1", token=A, epoch=1, state=b"x", events=[{}], result={"k": "v"}, ttl_ms=5000
    )
    dup = await storage.acquire("s", "m1", C, 5000)
    assert dup.kind == "duplicate" and dup.record is not None and dup.record.result == {"k": "v"}
    assert await lease_holder(storage, "s") == (None, -2)
    assert await fencing_epoch(storage, "s") == 1


async def test_release_wakes_next_and_leaving_waiter_unqueues(storage: Storage) -> None:
    A, B, C = (storage.new_token(name) for name in "ABC")  # woken on its wake channel
    await storage.acquire("s", "m1", A, 5000)
    await storage.acquire("s", "m2", B, 5000)
    await storage.acquire("s", "m3", C, 5000)
    assert await waiting_tokens(storage, "s") == [B, C]
    assert not await storage.release("s", B, 5000)  # B leaves the queue
    assert await waiting_tokens(storage, "s") == [C]
    assert await storage.release("s", A, 5000)
    assert await storage.wait_wake("s", C, 1)
    assert (await lease_holder(storage, "s"))[0] == C


async def test_expired_lease_moves_queue_to_head(storage: Storage) -> None:
    A, B, C = (storage.new_token(name) for name in "ABC")  # woken on its wake channel
    await storage.acquire("s", "m1", A, 200)
    await storage.acquire("s", "m2", B, 200)
    while (await lease_holder(storage, "s"))[0] is not None:  # noqa: ASYNC110 - Redis-side state
        await asyncio.sleep(0.01)  # A died: wait until its lease has expired
    c = await storage.acquire("s", "m3", C, 5000)
    assert c.kind == "queued"  # B came first
    assert await storage.wait_wake("s", B, 1)  # and C's arrival woke it


@pytest.mark.parametrize("sid", ["", "a{b", "a}b"])
async def test_bad_session_ids_are_refused(storage: Storage, sid: str) -> None:
    with pytest.raises(ValueError):
        await storage.last_seq(sid)


async def test_log_is_trimmed_by_bytes_and_a_reader_behind_sees_a_gap(
    client_factory: ClientFactory,
) -> None:
    storage = Storage(await client_factory(), prefix="t", log_max_bytes=4000)
    body = "x" * 900  # each event's body is about 1 KB: four fit
    for i in range(10):
        await storage.append_events("s1", [{"i": i, "pad": body}])
    assert 3000 < await storage.log_bytes("s1") <= 4000
    read = await storage.read_log("s1", 6)
    assert not read.gap and [e["i"] for e in read.events] == [6, 7, 8, 9]
    assert (await storage.read_log("s1", 5)).gap  # event 6 is gone: resync, never a silent gap
    # one event larger than the bound on its own is kept (the newest always stays)
    await storage.append_events("s1", [{"big": "y" * 10_000}])
    read = await storage.read_log("s1", 10)
    assert [e["seq"] for e in read.events] == [11]


async def test_a_commit_trims_the_log_by_bytes_too(client_factory: ClientFactory) -> None:
    storage = Storage(await client_factory(), prefix="t", log_max_bytes=3000)
    for n in range(1, 6):
        granted = await storage.acquire("s", f"m{n}", "A", 5000)
        assert granted.kind == "granted"
        done = await storage.commit(
            "s", f"m{n}", token="A", epoch=granted.epoch, state=b"s",
            events=[{"pad": "z" * 1000}], result={}, ttl_ms=5000,
        )  # fmt: skip
        assert done.kind == "ok"
    assert await storage.log_bytes("s") <= 3000
    assert [e["seq"] for e in (await storage.read_log("s", 3)).events] == [4, 5]
    assert (await storage.read_log("s", 2)).gap


async def test_read_tail_returns_the_newest_events_within_a_byte_budget(
    storage: Storage,
) -> None:
    await storage.append_events("s1", [{"i": i, "pad": "p" * 500} for i in range(40)])
    tail = await storage.read_tail("s1", max_bytes=2000)
    assert [e["i"] for e in tail.events] == [37, 38, 39]  # oldest first, ~530 bytes each
    assert tail.last_seq == 40 and tail.gap
    whole = await storage.read_tail("s1", max_bytes=10**6)
    assert [e["seq"] for e in whole.events] == list(range(1, 41)) and not whole.gap
    assert [e["seq"] for e in (await storage.read_tail("s1", 10**6, limit=5)).events] == [
        36, 37, 38, 39, 40,
    ]  # fmt: skip
    empty = await storage.read_tail("nobody", max_bytes=1000)
    assert empty.events == [] and empty.last_seq == 0 and not empty.gap


async def test_result_objects_are_immutable_and_expire(storage: Storage) -> None:
    assert await storage.put_result("k1", b"first", ttl_s=60) == b"first"
    assert await storage.put_result("k1", b"second", ttl_s=60) == b"first"  # first writer wins
    assert await storage.get_result("k1", ttl_s=60) == b"first"
    assert 0 < await storage.redis.ttl(storage.keys.result("k1")) <= 60
    assert await storage.get_result("k2", ttl_s=60) is None
