"""Shared limit windows in Redis: counted across clients, always with a TTL."""

from __future__ import annotations

import asyncio

from tpr_ws.registry.client import connect
from tpr_ws.registry.keys import KeySpace
from tpr_ws.registry.quotas import Quotas


async def test_a_window_counts_every_hit_and_expires_with_its_window(redis_url: str) -> None:
    a, b = connect(redis_url), connect(redis_url)  # two workers' clients
    try:
        qa, qb = Quotas(a), Quotas(b)
        hits = await asyncio.gather(*(q.hit("198.51.100.1", "messages", 60) for q in [qa, qb] * 5))
        assert sorted(h.count for h in hits) == list(range(1, 11))
        assert all(0 < h.reset_in_s <= 60 for h in hits)
        key = KeySpace().quota("198.51.100.1", "messages")
        assert 0 < await a.pttl(key) <= 60_000
        # reading (amount 0) neither counts nor extends the window
        assert (await qa.hit("198.51.100.1", "messages", 3600, 0)).count == 10
        assert await a.pttl(key) <= 60_000
        # amounts add up (upload bytes), and another subject has its own window
        assert (await qa.hit("198.51.100.1", "bytes", 60, 1500)).count == 1500
        assert (await qa.hit("198.51.100.2", "messages", 60)).count == 1
    finally:
        await a.aclose()
        await b.aclose()


async def test_every_quota_key_has_a_ttl(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        quotas = Quotas(client)
        await quotas.hit("session-id-aaaaaaaaaaaaaaaa", "messages", 10)
        await quotas.hit("203.0.113.9", "upload-bytes", 3600, 0)
        keys = [k async for k in client.scan_iter(match=KeySpace().quota_pattern())]
        assert len(keys) == 2
        for key in keys:
            assert await client.pttl(key) > 0, key
    finally:
        await client.aclose()
