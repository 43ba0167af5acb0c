"""A session's Redis footprint stays small and bounded: 50 results turns on a 10,000-ward file
leave a few hundred KB at most (the ward tables live in shared result objects, not in the log),
and a hello after a long absence gets small frames (a bounded resync, or event by event)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from tests.harness import ChatClient
from tpr_ws.domain.sample.generator import Preset, generate
from tpr_ws.domain.sample.geo import Sizes

pytestmark = pytest.mark.slow

TURNS = 50
# Every reply below changes one choice at the results stage, so each is a results turn.
REPLIES = ("pregnant women", "all ages", "5 and over", "under 5", "all levels", "primary",
           "Kano", "FCT", "Adamawa")  # fmt: skip
FOOTPRINT_LIMIT = 300 * 1024
FRAME_LIMIT = 256 * 1024 + 16 * 1024  # the log's byte bound plus the frame's envelope


def ten_thousand_wards() -> tuple[bytes, str]:
    sizes = Sizes(states=3, lgas=60, wards=10_000, facilities=10_000)
    made = generate("A", Preset("wards10k", sizes, months=1), seed=5, fmt="csv")
    return made.data, made.file_name


async def session_footprint(url: str, sid: str) -> dict[str, int]:
    """MEMORY USAGE of every key of the session (they all carry its hash tag)."""
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"*{{{sid}}}*", count=1000)]
        return {bytes(k).decode(): int(await client.memory_usage(k, samples=0) or 0) for k in keys}
    finally:
        await client.aclose()


async def shared_objects(url: str) -> tuple[int, int]:
    """How many result objects are stored, and their bytes (shared by sessions, with a TTL)."""
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match="tpr:result:*", count=1000)]
        return len(keys), sum([int(await client.memory_usage(k, samples=0) or 0) for k in keys])
    finally:
        await client.aclose()


def frame_sizes(frames: list[dict[str, Any]]) -> list[int]:
    return [len(orjson.dumps(f)) for f in frames]


async def test_fifty_results_turns_on_ten_thousand_wards_keep_the_session_small(
    worker_factory, client_factory, redis_server
) -> None:
    (w,) = worker_factory(1)
    data, name = ten_thousand_wards()
    c: ChatClient = client_factory()
    await c.create_session(w.url)
    await c.connect(w.url)
    status, body = await c.upload(w.url, data, name)
    assert status == 202, body
    await c.wait_stage("select_state")
    for reply in ("FCT", "all levels", "under 5"):
        await c.say(reply)
    await c.wait_stage("results")
    k = 0
    while len(results := [e for e in c.bot_events() if "results" in e["data"]]) < TURNS:
        await c.say(REPLIES[k % len(REPLIES)])
        k += 1
    biggest_table = max(e["data"]["results"]["wards_total"] for e in results)
    assert biggest_table > 3_000  # a table of 3,000 wards made a 0.8 MB event before

    keys = await session_footprint(redis_server.url, c.sid)
    total = sum(keys.values())
    events = [len(orjson.dumps(e)) for e in c.events]
    objects, object_bytes = await shared_objects(redis_server.url)
    print(
        f"\nsession footprint after {len(results)} results turns on a 10,000-ward file: "
        f"{total / 1024:.1f} KB over {len(keys)} keys (limit {FOOTPRINT_LIMIT // 1024} KB)"
    )
    for key, size in sorted(keys.items(), key=lambda kv: -kv[1])[:4]:
        print(f"  {key.split('}')[-1] or key}: {size / 1024:.1f} KB")
    print(
        f"events: {len(events)}, largest {max(events) / 1024:.1f} KB, "
        f"mean {sum(events) / len(events) / 1024:.2f} KB"
    )
    print(f"result objects (shared, outside the session): {objects}, "
          f"{object_bytes / 1024:.0f} KB")  # fmt: skip
    assert total < FOOTPRINT_LIMIT
    assert max(events) < 16 * 1024

    # A tab back after a long absence: from zero (replay, one event per frame), and one whose
    # seq is ahead of the log (a resync: one frame, bounded by the log's byte bound).
    for last_seq in (0, c.last_seq + 1_000):
        tab: ChatClient = client_factory()
        tab.sid, tab.token = c.sid, c.token
        await tab.connect(w.url, last_seq=last_seq)
        sizes = frame_sizes(tab.frames)
        kinds = {f["type"] for f in tab.frames}
        print(f"hello with last_seq={last_seq}: {len(sizes)} frames ({', '.join(sorted(kinds))}),"
              f" largest {max(sizes) / 1024:.1f} KB")  # fmt: skip
        assert max(sizes) < FRAME_LIMIT
        assert tab.last_seq == c.last_seq
