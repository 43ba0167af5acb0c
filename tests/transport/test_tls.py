"""Real workers on Redis over TLS (``rediss://``, through a TLS terminator in front of the
suite's server): the whole chat works, pub/sub included, and a wrong CA is reported."""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import ChatClient, WorkerProcess
from tests.tls import Certs, TlsTerminator, make_certs
from tests.transport.conftest import reset_quotas
from tpr_ws.embedded import EmbeddedRedis

pytestmark = pytest.mark.slow

Workers = Callable[..., list[WorkerProcess]]


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path / "tls")


@pytest.fixture
def terminator(
    certs: Certs, redis_url: str, redis_server: EmbeddedRedis
) -> Iterator[TlsTerminator]:
    assert redis_server.port is not None
    reset_quotas(redis_url)
    with TlsTerminator(certs, ("127.0.0.1", redis_server.port)) as t:
        yield t


@pytest.fixture
def tls_workers(tmp_path: Path) -> Iterator[Workers]:
    """Start `n` workers on the given Redis URL, launched together; killed after the test."""
    started: list[WorkerProcess] = []
    secret = secrets.token_urlsafe(24)

    def start(url: str, n: int = 2, *, wait: bool = True) -> list[WorkerProcess]:
        workers = [WorkerProcess(url, secret, tmp_path) for _ in range(n)]
        for w in workers:
            started.append(w)
            w.launch()
        for w in workers:
            if wait:
                w.wait_ready()
        return workers

    yield start
    for w in started:
        w.kill()


async def test_the_chat_works_on_redis_over_tls(
    certs: Certs, terminator: TlsTerminator, tls_workers: Workers, client_factory
) -> None:
    w = tls_workers(certs.url(terminator.port))
    a, b = client_factory(), client_factory()
    await a.create_session(w[0].url)
    b.sid, b.token = a.sid, a.token
    await a.connect(w[0].url)  # hello: the session read and its channel subscribed over TLS
    await b.connect(w[1].url)  # a second tab on the other worker
    ack = await a.say("sample")
    assert ack["type"] == "ack"
    # b's worker did not run the turn: its events reach b through pub/sub only.
    await b.wait_until(lambda: b.last_seq == a.last_seq and a.last_seq >= ack["seq"], 30)
    assert [e["text"] for e in b.events] == [e["text"] for e in a.events]

    # a leaves, b talks on; a comes back on b's worker and gets what it missed.
    await a.disconnect()
    await b.say("help")
    await a.connect(w[1].url)
    assert a.last_seq == b.last_seq
    assert [e["seq"] for e in a.events] == list(range(1, a.last_seq + 1))

    # Every Redis connection of both workers is cut (a restarted TLS proxy): the pipe and
    # pub/sub connect again over TLS, and b still hears a's next turn.
    before = terminator.handshakes
    assert terminator.drop_all() >= 4
    assert (await a.say("status"))["type"] == "ack"
    await b.wait_until(lambda: b.last_seq == a.last_seq, 30)
    assert terminator.handshakes > before
    _assert_clean(a)
    _assert_clean(b)


async def test_a_worker_given_the_wrong_ca_says_why_it_is_not_ready(
    certs: Certs, terminator: TlsTerminator, tls_workers: Workers
) -> None:
    (w,) = tls_workers(certs.url(terminator.port, ssl_ca_certs=str(certs.other_ca)), 1, wait=False)
    # It boots without Redis after its first attempt: up, not ready, and the log says why.
    assert _readyz_status(w) == 503
    assert "CERTIFICATE_VERIFY_FAILED" in w.log_path.read_text()


def _readyz_status(w: WorkerProcess) -> int:
    """The status of the worker's /readyz once it listens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert w.alive, w.log_path.read_text()[-3000:]
        try:
            with urllib.request.urlopen(w.url + "/readyz", timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as refused:
            return refused.code
        except OSError:
            time.sleep(0.1)  # not listening yet
    raise AssertionError("the worker never listened: " + w.log_path.read_text()[-3000:])


def _assert_clean(c: ChatClient) -> None:
    assert [e["seq"] for e in c.events] == list(range(1, len(c.events) + 1))
    assert not c.errors, c.errors
