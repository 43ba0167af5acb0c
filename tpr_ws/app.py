"""The aiohttp application factory (zero-argument for gunicorn) and its resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tpr_ws.analyses import AnalysisStore
from tpr_ws.config import Settings, redact_url
from tpr_ws.conversation import Conversation
from tpr_ws.datasets import DatasetStore
from tpr_ws.downloads import Downloads
from tpr_ws.fanout import Fanout
from tpr_ws.logs import configure_logging
from tpr_ws.metrics import Metrics
from tpr_ws.pool import ParsePool
from tpr_ws.registry.client import connect as connect_storage
from tpr_ws.registry.durability import Durability, Policy
from tpr_ws.registry.quotas import Quotas
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry
from tpr_ws.transport.backend import Backend, Services
from tpr_ws.transport.headers import add_security_headers
from tpr_ws.transport.http import access_log_middleware, add_routes, error_middleware
from tpr_ws.transport.keys import (
    BACKEND,
    CLIENTS,
    CONNECTIONS,
    GENERATION,
    METRICS,
    PARSE_POOL,
    SETTINGS,
    SLOTS,
    SOCKETS,
    WORKER_ID,
)
from tpr_ws.transport.limits import ClientAddresses, Slots, Windows
from tpr_ws.transport.spool import remove_orphans
from tpr_ws.transport.tus import add_tus_routes

log = logging.getLogger(__name__)
CONNECT_ATTEMPT_TIMEOUT_S = 15.0


async def _connect(app: web.Application) -> Services:
    """Build everything that needs Redis; raises RedisError/OSError while it is unreachable."""
    settings = app[SETTINGS]
    assert settings.redis_url
    # A plain connection to the given node tells whether that node belongs to a cluster.
    plain = Redis.from_url(settings.redis_url)
    try:
        cluster = bool((await plain.info("cluster")).get("cluster_enabled"))
    finally:
        await plain.aclose()
    client = connect_storage(
        settings.redis_url,
        cluster=cluster,
        timeout_s=settings.redis_timeout_ms / 1000,
        connect_timeout_s=settings.redis_connect_timeout_ms / 1000,
        max_connections=settings.redis_max_connections,
    )
    try:
        storage = Storage(
            client,
            prefix=settings.key_prefix,
            log_max_events=settings.log_max_events,
            log_max_bytes=settings.log_max_bytes,
            session_ttl_s=settings.session_ttl_s,
            message_ids_kept=settings.message_ids_kept,
        )
        await storage.initialize()
        if storage.subscriber is None:
            raise RuntimeError("the storage client has no pub/sub connection")
        fanout = Fanout(storage.subscriber, storage.events_channel, origin=storage.wake_tag)
        await fanout.start()
    except BaseException:
        await client.aclose()
        raise
    kind = "Redis Cluster" if cluster else "Redis"
    log.info("storage: %s at %s", kind, redact_url(settings.redis_url))
    policy = Policy.parse(settings.durability, settings.durability_timeout_ms)
    durability = None if policy is None else Durability(client, storage.keys, policy)
    if durability is not None:
        await durability.check()
    registry = Registry(
        storage,
        lease_ttl_ms=settings.lease_ttl_ms,
        holder_prefix=app[WORKER_ID],
        metrics=app[METRICS],
        durability=durability,
    )
    registry.on_committed = fanout.deliver
    registry.on_unsure = fanout.poke
    datasets = DatasetStore(storage, ttl_s=settings.blob_ttl_s)
    analyses = AnalysisStore(storage, datasets, ttl_s=settings.blob_ttl_s)
    conversation = Conversation(
        registry, datasets, analyses, app[PARSE_POOL], max_upload_bytes=settings.max_upload_bytes
    )
    windows = Windows(Quotas(client, prefix=settings.key_prefix), settings)
    return Services(storage, registry, conversation, analyses, Downloads(analyses), fanout, windows)


async def _keep_connecting(app: web.Application, attempted: asyncio.Event) -> None:
    """Connect to Redis, retrying with backoff for as long as it is unreachable (`attempted`
    is set after the first attempt, whatever its outcome), then load the sample."""
    backend, cap = app[BACKEND], app[SETTINGS].storage_retry_max_s
    delay = min(0.2, cap)
    while True:
        try:
            async with asyncio.timeout(CONNECT_ATTEMPT_TIMEOUT_S):
                services = await _connect(app)
        except (RedisError, OSError, TimeoutError) as exc:
            backend.problem = f"storage unreachable: {type(exc).__name__}"
            log.warning("storage unreachable (%s); retrying in %.1f s", exc, delay)
            attempted.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)
            continue
        backend.connected(services)
        attempted.set()
        # Still in the background (the worker serves meanwhile), now that Redis answers.
        await services.conversation.sample.warm()
        return


async def _backend_ctx(app: web.Application) -> AsyncIterator[None]:
    if not app[SETTINGS].redis_url:
        raise RuntimeError("REDIS_URL is not set: start the server with `tpr-ws serve`")
    attempted = asyncio.Event()
    task = asyncio.create_task(_keep_connecting(app, attempted), name="storage-connect")
    # With Redis up, the worker takes no request before it is connected (as a worker that
    # needs Redis to boot would); with Redis down, it boots without it after one attempt.
    await attempted.wait()
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    services = app[BACKEND].services
    if services is not None:
        await services.conversation.sample.close()  # before Redis and the parsing pool go
        await services.fanout.stop()
        await services.storage.redis.aclose()


async def _pool_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    remove_orphans(settings.upload_dir)
    pool = ParsePool(
        settings.parse_processes, settings.parse_memory_limit_bytes, settings.parse_timeout_s
    )
    app[PARSE_POOL] = pool
    yield
    pool.shutdown()


async def _metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Write this worker's metrics snapshot for /metrics of any worker every few seconds."""
    metrics = app[METRICS]

    async def flush_every(seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            metrics.flush()

    task = asyncio.create_task(flush_every(5.0), name="metrics-flush")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    metrics.flush()


async def _gc_ctx(app: web.Application) -> AsyncIterator[None]:
    """After start-up, move everything alive into the permanent generation: the cyclic GC
    then never walks the modules, tables and caches loaded at start (fewer, shorter pauses)."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


TURN_DRAIN_S = 8.0  # within gunicorn's graceful_timeout (tpr_ws/gunicorn_conf.py, worker.py)


def set_generation(app: web.Application, generation: int) -> None:
    """How many reloads (SIGHUP) gunicorn's master had done when it forked this worker:
    /healthz and /readyz say it, so an old worker can tell a successor from a sibling."""
    app[GENERATION] = generation


async def _close_sockets(app: web.Application) -> None:
    """Shutdown (the worker no longer accepts): every socket's turn in flight finishes,
    committed and acknowledged (at most TURN_DRAIN_S; says not started are left for the
    client's resend), then every socket closes with GOING_AWAY ("reconnect"): clients
    reconnect at once, elsewhere, resending what was not acknowledged."""
    connections = list(app[CONNECTIONS])  # type: ignore[index]
    if connections:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TURN_DRAIN_S):
                await asyncio.gather(*(c.finish_turn() for c in connections))
    # All at once: each close waits for the client's close frame.
    sockets = list(app[SOCKETS])  # type: ignore[index]
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"reconnect") for ws in sockets),
        return_exceptions=True,
    )


def build_app(settings: Settings) -> web.Application:
    """The application for explicit settings (tests and the single-process worker)."""
    app = web.Application(
        middlewares=[access_log_middleware, error_middleware], client_max_size=1024**2
    )
    app[SETTINGS] = settings
    app[WORKER_ID] = f"{socket.gethostname()}:{os.getpid()}"
    app[METRICS] = Metrics(settings.metrics_dir)
    app[SOCKETS] = weakref.WeakSet()
    app[CONNECTIONS] = weakref.WeakSet()
    app[BACKEND] = Backend()
    app[CLIENTS] = ClientAddresses(settings.trusted_proxies)
    app[SLOTS] = Slots(settings)
    app.cleanup_ctx.extend([_pool_ctx, _backend_ctx, _metrics_ctx, _gc_ctx])
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(add_security_headers)
    add_routes(app)
    add_tus_routes(app)
    if not settings.accepted_origins and "*" not in settings.allowed_origins:
        log.warning(
            "no public origin (listening on %s): browsers are refused; set "
            "TPR_WS_PUBLIC_ORIGINS to the URL users open",
            settings.host,
        )
    return app


async def create_app() -> web.Application:
    """Zero-argument factory for `gunicorn tpr_ws.app:create_app`."""
    configure_logging()
    # Several workers: each must have the same secret, never a random one of its own.
    return build_app(Settings.from_env(require_secret=True))
