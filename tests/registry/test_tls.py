"""The registry's own connections over TLS (``rediss://``): the pipe and the pub/sub
connection through a TLS terminator in front of the suite's server, with the URL's parameters
read as redis-py reads them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError

from tests.registry.counter import count_of
from tests.registry.helpers import count_turn, counter, waiting_tokens
from tests.tls import Certs, TlsTerminator, make_certs
from tpr_ws.embedded import EmbeddedRedis, free_port
from tpr_ws.registry.client import connect, pipe_of
from tpr_ws.registry.pipe import Pipe
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.subscriber import Subscriber
from tpr_ws.registry.tls import client_context
from tpr_ws.registry.turns import Lease, Registry, TurnOutput

GUARD_S = 30  # far above every timeout here: without TLS errors being raised, a test hangs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def terminator(
    certs: Certs, redis_url: str, redis_server: EmbeddedRedis
) -> Iterator[TlsTerminator]:
    assert redis_server.port is not None
    with TlsTerminator(certs, ("127.0.0.1", redis_server.port)) as t:
        yield t


async def _pipe_answers(url: str) -> None:
    pipe = Pipe(url, timeout_s=2, connect_timeout_s=2)
    try:
        assert await asyncio.wait_for(pipe.execute("PING"), GUARD_S) == b"PONG"
    finally:
        await pipe.aclose()


async def _subscriber_delivers(url: str, publisher: aioredis.Redis) -> None:
    subscriber = Subscriber(url, timeout_s=1, connect_timeout_s=1)
    got: asyncio.Queue[bytes | None] = asyncio.Queue()
    try:
        await asyncio.wait_for(subscriber.subscribe(b"ch", got.put_nowait), GUARD_S)
        await publisher.publish(b"ch", b"hi")
        while (payload := await asyncio.wait_for(got.get(), GUARD_S)) is None:
            pass  # "messages may have been lost" after the first pong
        assert payload == b"hi"
    finally:
        await subscriber.aclose()


async def test_pipe_over_tls_answers_pipelined_script_calls(
    certs: Certs, terminator: TlsTerminator
) -> None:
    pipe = Pipe(certs.url(terminator.port), timeout_s=2, connect_timeout_s=2)
    try:
        sha = (await pipe.execute("SCRIPT", "LOAD", "return ARGV[1] .. '!'")).decode()
        # Issued in one loop iteration: they leave in one write, the replies come back in order.
        calls = [pipe.execute("EVALSHA", sha, 0, str(i)) for i in range(50)]
        replies = await asyncio.wait_for(asyncio.gather(*calls), GUARD_S)
        assert replies == [f"{i}!".encode() for i in range(50)]
        assert terminator.handshakes == 1  # one shared connection, and it spoke TLS
    finally:
        await pipe.aclose()


async def test_subscriber_over_tls_delivers_and_comes_back_after_a_drop(
    certs: Certs, terminator: TlsTerminator, redis_url: str
) -> None:
    publisher = aioredis.Redis.from_url(redis_url)
    subscriber = Subscriber(certs.url(terminator.port), timeout_s=1, connect_timeout_s=1)
    got: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def next_message() -> bytes:
        while (payload := await asyncio.wait_for(got.get(), GUARD_S)) is None:
            pass
        return payload

    try:
        await asyncio.wait_for(subscriber.subscribe(b"ch", got.put_nowait), GUARD_S)
        assert await publisher.publish(b"ch", b"one") == 1
        assert await next_message() == b"one"
        assert terminator.drop_all() >= 1
        # Told of the loss, then told again once subscribed anew (over TLS again).
        while terminator.handshakes < 2 or (await publisher.pubsub_numsub(b"ch"))[0][1] < 1:  # noqa: ASYNC110 - server-side state
            await asyncio.sleep(0.01)
        assert await publisher.publish(b"ch", b"two") == 1
        assert await next_message() == b"two"
    finally:
        await subscriber.aclose()
        await publisher.aclose()


async def test_the_subscriber_moves_to_another_node_over_tls(
    certs: Certs, terminator: TlsTerminator, redis_url: str
) -> None:
    # The URL's node is gone (a failed cluster node); the other address the cluster client
    # knows is the TLS terminator, and the connection that moves there speaks TLS too.
    dead = free_port()
    publisher = aioredis.Redis.from_url(redis_url)
    subscriber = Subscriber(
        certs.url(dead),
        timeout_s=1,
        connect_timeout_s=1,
        addresses=lambda: [("localhost", dead), ("localhost", terminator.port)],
    )
    got: asyncio.Queue[bytes | None] = asyncio.Queue()
    try:
        await asyncio.wait_for(subscriber.subscribe(b"ch", got.put_nowait), GUARD_S)
        assert terminator.handshakes == 1
        assert await publisher.publish(b"ch", b"moved") == 1
        while (payload := await asyncio.wait_for(got.get(), GUARD_S)) is None:
            pass
        assert payload == b"moved"
    finally:
        await subscriber.aclose()
        await publisher.aclose()


async def test_the_storage_client_runs_turns_and_wakeups_over_tls(
    certs: Certs, terminator: TlsTerminator
) -> None:
    client = connect(certs.url(terminator.port), timeout_s=2, connect_timeout_s=2)
    assert pipe_of(client) is not None, "over TLS too, scripts travel the shared pipe"
    storage = Storage(client, prefix="t", log_max_events=50)
    await storage.initialize()
    registry = Registry(storage, lease_ttl_ms=60_000)
    entered, go = asyncio.Event(), asyncio.Event()

    async def holder(state: bytes | None, lease: Lease) -> TurnOutput:
        entered.set()
        await go.wait()
        return await count_turn(state, lease)

    try:
        first = asyncio.create_task(registry.run("s", "m0", holder))
        await asyncio.wait_for(entered.wait(), GUARD_S)
        waiting = [asyncio.create_task(registry.run("s", f"m{i}", counter(f"m{i}"))) for i in
                   range(1, 4)]  # fmt: skip
        while len(await waiting_tokens(storage, "s")) < 3:  # noqa: ASYNC110 - Redis-side state
            await asyncio.sleep(0.01)
        go.set()
        # Each hand-over wakes the next waiter through the pub/sub connection, well before
        # the 60 s lease would expire.
        await asyncio.wait_for(asyncio.gather(first, *waiting), GUARD_S)
        assert count_of(await storage.load_state("s")) == 4
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("params", "refusal"),
    [
        ({"ssl_ca_certs": "other"}, "certificate verify failed"),
        ({"host": "127.0.0.1"}, "IP address mismatch"),  # the certificate names localhost
    ],
    ids=["wrong CA", "wrong host name"],
)
async def test_a_certificate_that_does_not_verify_is_refused_with_a_clear_error(
    certs: Certs, terminator: TlsTerminator, params: dict[str, str], refusal: str
) -> None:
    host = params.pop("host", "localhost")
    if params.get("ssl_ca_certs") == "other":
        params["ssl_ca_certs"] = str(certs.other_ca)
    url = certs.url(terminator.port, host, **params)
    with pytest.raises(ConnectionError, match=f"over TLS: .*{refusal}"):
        await _pipe_answers(url)
    subscriber = Subscriber(url, timeout_s=1, connect_timeout_s=1)
    try:
        # At once, not after the subscription's own timeout (which raises a TimeoutError).
        with pytest.raises(ConnectionError, match=f"TLS certificate is refused: .*{refusal}"):
            await asyncio.wait_for(subscriber.subscribe(b"ch", lambda _: None), GUARD_S)
    finally:
        await subscriber.aclose()


async def test_the_urls_verification_parameters_are_honoured(
    certs: Certs, terminator: TlsTerminator, redis_url: str
) -> None:
    publisher = aioredis.Redis.from_url(redis_url)
    lenient = [
        certs.url(terminator.port, "127.0.0.1", ssl_check_hostname="false"),
        certs.url(terminator.port, ssl_ca_certs=str(certs.other_ca), ssl_cert_reqs="none"),
    ]
    try:
        for url in lenient:
            await _pipe_answers(url)
            await _subscriber_delivers(url, publisher)
    finally:
        await publisher.aclose()


async def test_a_client_certificate_from_the_url_is_presented(
    certs: Certs, redis_url: str, redis_server: EmbeddedRedis
) -> None:
    assert redis_server.port is not None
    publisher = aioredis.Redis.from_url(redis_url)
    try:
        with TlsTerminator(certs, ("127.0.0.1", redis_server.port), client_ca=certs.ca) as t:
            mutual = certs.url(
                t.port, ssl_certfile=str(certs.client_cert), ssl_keyfile=str(certs.client_key)
            )
            await _pipe_answers(mutual)
            await _subscriber_delivers(mutual, publisher)
            with pytest.raises(ConnectionError):
                await _pipe_answers(certs.url(t.port))  # no certificate: the server hangs up
    finally:
        await publisher.aclose()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?ssl_cert_reqs=none",
        "?ssl_cert_reqs=optional&ssl_check_hostname=false",
        "?ssl_cert_reqs=required&ssl_min_version=772",
        "?ssl_ca_certs={ca}&ssl_certfile={cert}&ssl_keyfile={key}",
    ],
)
def test_the_context_is_the_one_redis_py_makes_for_the_url(certs: Certs, query: str) -> None:
    files = {"ca": certs.ca, "cert": certs.client_cert, "key": certs.client_key}
    url = "rediss://localhost:6380/0" + query.format(**files)
    ours = client_context(parse_url(url))
    theirs = ConnectionPool.from_url(url).make_connection().ssl_context.get()  # type: ignore[attr-defined]
    assert ours is not None
    assert ours.verify_mode == theirs.verify_mode
    assert ours.check_hostname == theirs.check_hostname
    assert ours.minimum_version == theirs.minimum_version
    assert ours.verify_flags == theirs.verify_flags
    assert ours.cert_store_stats() == theirs.cert_store_stats()
    assert client_context(parse_url("redis://localhost:6379/0")) is None
