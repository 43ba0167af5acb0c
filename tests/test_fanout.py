"""Fan-out's subscriptions are the session's, not the first socket's: a socket that goes away
while the subscription waits for its confirmation (its hello cancelled: the client closed)
must not take the other sockets of the session with it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from tpr_ws.embedded import EmbeddedRedis, free_port
from tpr_ws.fanout import Fanout
from tpr_ws.registry.subscriber import Subscriber

GUARD_S = 30  # a hang fails the test instead of the suite


def channel_of(sid: str) -> str:
    return f"t:events:{sid}"


async def publish_empty_turn(url: str, sid: str) -> None:
    """Another worker's turn with no events, as the commit script publishes it: exactly one
    subscriber (this worker's pub/sub connection) must get it."""
    publisher = aioredis.Redis.from_url(url)
    try:
        assert await publisher.publish(channel_of(sid), b"w2|[]") == 1
    finally:
        await publisher.aclose()


class Received:
    """A socket's listener: the events it was handed (not the subscriber's None, "read the
    log": it comes after every (re)connection), and an event once it was handed some."""

    def __init__(self) -> None:
        self.payloads: list[Any] = []
        self.event = asyncio.Event()

    def __call__(self, events: Any) -> None:
        if events is not None:
            self.payloads.append(events)
            self.event.set()


async def test_a_cancelled_first_hello_leaves_the_sessions_other_sockets_subscribed(
    tmp_path: Path,
) -> None:
    # The server is not there yet: the first SUBSCRIBE waits (as while Redis restarts).
    port = free_port()
    subscriber = Subscriber(f"redis://127.0.0.1:{port}/0", timeout_s=1, connect_timeout_s=1)
    fanout = Fanout(subscriber, channel_of, origin="w1")
    first_got: list[Any] = []
    second_got = Received()
    server = EmbeddedRedis(data_dir=tmp_path, port=port, appendonly=False)
    try:
        await fanout.start()
        first = asyncio.create_task(fanout.subscribe("s", first_got.append))
        await asyncio.sleep(0)  # the first hello is waiting for the confirmation
        second = asyncio.create_task(fanout.subscribe("s", second_got))
        await asyncio.sleep(0)  # and so is the second socket's
        first.cancel()  # the first client closed its socket mid-hello
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await fanout.unsubscribe("s", first_got.append)  # what its handler does on the way out
        server.start()
        await asyncio.wait_for(second, GUARD_S)  # confirmed, not cancelled with the first
        await publish_empty_turn(server.url, "s")
        await asyncio.wait_for(second_got.event.wait(), GUARD_S)
        assert second_got.payloads == [[]]  # the published (empty) event list
        assert fanout.local_count("s") == 1
    finally:
        await fanout.stop()
        await subscriber.aclose()
        server.cleanup()


async def test_a_session_watched_again_after_its_last_socket_left_gets_its_messages(
    redis_url: str,
) -> None:
    subscriber = Subscriber(redis_url, timeout_s=1, connect_timeout_s=1)
    fanout = Fanout(subscriber, channel_of, origin="w1")
    got = Received()
    try:
        await fanout.start()
        await asyncio.wait_for(fanout.subscribe("s", got), GUARD_S)
        await fanout.unsubscribe("s", got)
        assert fanout.local_count("s") == 0
        await asyncio.wait_for(fanout.subscribe("s", got), GUARD_S)  # afresh
        await publish_empty_turn(redis_url, "s")
        await asyncio.wait_for(got.event.wait(), GUARD_S)
        assert got.payloads == [[]]
    finally:
        await fanout.stop()
        await subscriber.aclose()


async def test_a_session_left_while_storage_was_away_is_confirmed_at_once_when_watched_again(
    tmp_path: Path,
) -> None:
    # Its last socket left while the server was away (a host cut off, a restart), before the
    # subscription was confirmed. Once the server is back, the next hello of that session
    # must get its own confirmation, not wait out the subscription timeout behind a stale
    # one (it did: the hello failed after 20 s, and at a worker's shutdown the wait was
    # still pending).
    port = free_port()
    subscriber = Subscriber(f"redis://127.0.0.1:{port}/0", timeout_s=1, connect_timeout_s=1)
    fanout = Fanout(subscriber, channel_of, origin="w1")
    gone, back = Received(), Received()
    server = EmbeddedRedis(data_dir=tmp_path, port=port, appendonly=False)
    try:
        await fanout.start()
        first = asyncio.create_task(fanout.subscribe("s", gone))
        await asyncio.sleep(0)  # waiting for a confirmation that cannot come yet
        first.cancel()  # the client closed
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await fanout.unsubscribe("s", gone)
        server.start()
        await asyncio.wait_for(fanout.subscribe("other", Received()), GUARD_S)  # connected
        # Well inside the subscription timeout (4 x (1 + 1) s): a stale confirmation in the
        # queue would leave this one unanswered until then, and it would raise.
        await asyncio.wait_for(fanout.subscribe("s", back), GUARD_S)
        await publish_empty_turn(server.url, "s")
        await asyncio.wait_for(back.event.wait(), GUARD_S)
    finally:
        await fanout.stop()
        await subscriber.aclose()
        server.cleanup()
