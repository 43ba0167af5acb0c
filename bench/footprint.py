"""A session's Redis footprint: 50 results turns on a 10,000-ward file, with the ward tables
stored as shared result objects (now) against the same events with each table inline (before).

    python bench/footprint.py [--turns 50]

One worker process on an embedded Redis-protocol server. The baseline is measured in the same
run: every results event of the session is appended again, with its ward table inline as the
event used to carry it, to a log trimmed by events only (the old rule); both logs are weighed
with MEMORY USAGE, and the frames a returning client would get are sized.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.harness import ChatClient, WorkerProcess
from tpr_ws.domain.sample.generator import Preset, generate
from tpr_ws.domain.sample.geo import Sizes
from tpr_ws.embedded import EmbeddedRedis
from tpr_ws.registry.storage import Storage

REPLIES = ("pregnant women", "all ages", "5 and over", "under 5", "all levels", "primary",
           "Kano", "FCT", "Adamawa")  # fmt: skip


async def footprint(client: aioredis.Redis, pattern: str) -> int:
    keys = [k async for k in client.scan_iter(match=pattern, count=1000)]
    return sum([int(await client.memory_usage(k, samples=0) or 0) for k in keys])


async def results_session(base: str, turns: int, http: aiohttp.ClientSession) -> ChatClient:
    sizes = Sizes(states=3, lgas=60, wards=10_000, facilities=10_000)
    made = generate("A", Preset("wards10k", sizes, months=1), seed=5, fmt="csv")
    c = ChatClient(http)
    await c.create_session(base)
    await c.connect(base)
    status, body = await c.upload(base, made.data, made.file_name)
    assert status == 202, body
    await c.wait_stage("select_state")
    for reply in ("FCT", "all levels", "under 5"):
        await c.say(reply)
    await c.wait_stage("results")
    k = 0
    while sum("results" in e["data"] for e in c.bot_events()) < turns:
        await c.say(REPLIES[k % len(REPLIES)])
        k += 1
    return c


async def inline_events(c: ChatClient, base: str) -> list[dict[str, Any]]:
    """The session's events as they were before: each results event with its ward table."""
    tables: dict[str, list[dict[str, Any]]] = {}
    out = []
    for event in c.events:
        event = {k: v for k, v in event.items() if k not in ("seq", "type")}
        analysis = event["data"].get("analysis")
        if analysis:
            if analysis["key"] not in tables:
                headers = {"Authorization": f"Bearer {c.token}"}
                async with c.http.get(base + analysis["url"], headers=headers) as r:
                    doc = await r.json()
                tables[analysis["key"]] = [dict(zip(doc["columns"], row, strict=True))
                                           for row in doc["rows"]]  # fmt: skip
            event = {**event, "data": {**event["data"], "wards": tables[analysis["key"]]}}
        out.append(event)
    return out


async def main(turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "redis", appendonly=False)
        server.start()
        worker = WorkerProcess(server.url, secrets.token_urlsafe(24), Path(tmp)).start()
        client = aioredis.Redis.from_url(server.url)
        try:
            started = time.perf_counter()
            async with aiohttp.ClientSession() as http:
                c = await results_session(worker.url, turns, http)
                took = time.perf_counter() - started
                now = await footprint(client, f"*{{{c.sid}}}*")
                old_events = await inline_events(c, worker.url)
            before = Storage(client, prefix="before", log_max_events=2000, log_max_bytes=10**12)
            for event in old_events:
                await before.append_events(c.sid, [event])
            then = await footprint(client, f"before:*{{{c.sid}}}*")
            now_tail = await Storage(client).read_tail(c.sid, 256 * 1024)
            report(turns, took, now, then, c, old_events, now_tail.events)
        finally:
            await client.aclose()
            worker.stop()
            server.stop()


def report(turns: int, took: float, now: int, then: int, c: ChatClient,
           old_events: list[dict[str, Any]], tail: list[dict[str, Any]]) -> None:  # fmt: skip
    size = [len(orjson.dumps(e)) for e in c.events]
    old_size = [len(orjson.dumps(e)) for e in old_events]
    old_frame = len(orjson.dumps({"type": "resync", "events": old_events}))
    frame = len(orjson.dumps({"type": "resync", "events": tail}))
    print(f"{turns} results turns on a 10,000-ward file ({took:.1f} s), {len(size)} events")
    print(f"{'':32}{'before (inline)':>18}{'now (objects)':>16}{'ratio':>8}")
    for label, a, b in (
        ("session Redis bytes (KB)", then / 1024, now / 1024),
        ("largest event (KB)", max(old_size) / 1024, max(size) / 1024),
        ("mean event (KB)", sum(old_size) / len(old_size) / 1024, sum(size) / len(size) / 1024),
        ("resync frame (KB)", old_frame / 1024, frame / 1024),
    ):
        print(f"{label:32}{a:18.1f}{b:16.1f}{a / b:8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    asyncio.run(main(parser.parse_args().turns))
