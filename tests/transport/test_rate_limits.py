"""Rates shared by every worker: messages per session and per client address (not only per
socket), and new sessions per client address."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.harness import ChatClient

pytestmark = pytest.mark.slow


async def _sockets(http, workers, sid: str, token: str, n: int) -> list[ChatClient]:  # type: ignore[no-untyped-def]
    clients = []
    for i in range(n):
        c = ChatClient(http)
        c.sid, c.token = sid, token
        await c.connect(workers[i % len(workers)].url)
        clients.append(c)
    return clients


def _outcomes(answers: list[dict]) -> Counter[str]:
    return Counter("ack" if a["type"] == "ack" else a["code"] for a in answers)


async def test_eight_sockets_of_one_session_share_its_message_rate(worker_factory, http) -> None:
    workers = worker_factory(
        2,
        TPR_WS_RATE_LIMIT_MESSAGES="20",
        TPR_WS_RATE_LIMIT_SESSION_MESSAGES="20",
        TPR_WS_RATE_LIMIT_CLIENT_MESSAGES="1000",
        TPR_WS_RATE_LIMIT_WINDOW_S="60",
    )
    first = ChatClient(http)
    await first.create_session(workers[0].url)
    clients = await _sockets(http, workers, first.sid, first.token, 8)
    answers = await asyncio.gather(
        *(c.say("help", mid=f"s{i}-m{j}") for i, c in enumerate(clients) for j in range(20))
    )
    assert _outcomes(answers) == {"ack": 20, "session_rate_limited": 140}


async def test_sessions_of_one_client_address_share_its_message_rate(worker_factory, http) -> None:
    workers = worker_factory(
        2,
        TPR_WS_RATE_LIMIT_SESSION_MESSAGES="20",
        TPR_WS_RATE_LIMIT_CLIENT_MESSAGES="25",
        TPR_WS_RATE_LIMIT_WINDOW_S="60",
    )
    clients = []
    for i in range(4):
        c = ChatClient(http)
        await c.create_session(workers[i % 2].url)
        await c.connect(workers[(i + 1) % 2].url)
        clients.append(c)
    answers = await asyncio.gather(
        *(c.say("help", mid=f"s{i}-m{j}") for i, c in enumerate(clients) for j in range(10))
    )
    outcomes = _outcomes(answers)
    assert outcomes == {"ack": 25, "client_rate_limited": 15}
    refused = next(a for a in answers if a["type"] == "error")
    assert "address" in refused["message"]


async def _create(http, url: str, forwarded_for: str | None = None) -> tuple[int, dict, dict]:  # type: ignore[no-untyped-def]
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with http.post(url + "/api/sessions", headers=headers) as r:
        return r.status, await r.json(), dict(r.headers)


async def test_new_sessions_per_client_address_are_throttled_across_workers(
    worker_factory, http
) -> None:
    workers = worker_factory(2, TPR_WS_NEW_SESSIONS_PER_CLIENT="3")
    statuses = [(await _create(http, workers[i % 2].url))[0] for i in range(3)]
    assert statuses == [201, 201, 201]
    status, body, headers = await _create(http, workers[1].url)
    assert status == 429 and body["error"]["code"] == "too_many_sessions"
    assert 0 < int(headers["Retry-After"]) <= 3600


async def test_behind_a_trusted_proxy_sessions_count_per_forwarded_address(
    worker_factory, http
) -> None:
    (w,) = worker_factory(
        1, TPR_WS_NEW_SESSIONS_PER_CLIENT="2", TPR_WS_TRUSTED_PROXIES="127.0.0.0/8"
    )
    assert [(await _create(http, w.url, "198.51.100.1"))[0] for _ in range(3)] == [201, 201, 429]
    assert (await _create(http, w.url, "198.51.100.2"))[0] == 201
