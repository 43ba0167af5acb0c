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
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry
from tpr_ws.transport.headers import add_security_headers
from tpr_ws.transport.http import access_log_middleware, add_routes, error_middleware
from tpr_ws.transport.keys import (
    ANALYSES,
    CONVERSATION,
    DOWNLOADS,
    FANOUT,
    METRICS,
    REDIS,
    REGISTRY,
    SETTINGS,
    SOCKETS,
    STORAGE,
    WORKER_ID,
)
from tpr_ws.transport.tus import add_tus_routes

log = logging.getLogger(__name__)


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set: start the server with `tpr-ws serve`")
    # A plain connection to the given node serves pub/sub (PUBLISH reaches every node of a
    # cluster) and tells whether that node belongs to a cluster.
    plain = Redis.from_url(settings.redis_url, health_check_interval=30)
    cluster = bool((await plain.info("cluster")).get("cluster_enabled"))
    client = connect_storage(
        settings.redis_url,
        cluster=cluster,
        timeout_s=settings.redis_timeout_ms / 1000,
        connect_timeout_s=settings.redis_connect_timeout_ms / 1000,
        max_connections=settings.redis_max_connections,
    )
    storage = Storage(
        client,
        prefix=settings.key_prefix,
        log_max_events=settings.log_max_events,
        log_max_bytes=settings.log_max_bytes,
        session_ttl_s=settings.session_ttl_s,
        message_ids_kept=settings.message_ids_kept,
    )
    await storage.initialize()
    kind = "Redis Cluster" if cluster else "Redis"
    log.info("storage: %s at %s", kind, redact_url(settings.redis_url))
    app[REDIS] = plain
    app[STORAGE] = storage
    app[REGISTRY] = Registry(
        storage,
        lease_ttl_ms=settings.lease_ttl_ms,
        holder_prefix=app[WORKER_ID],
        metrics=app[METRICS],
    )
    yield
    await client.aclose()
    await plain.aclose()


async def _pool_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = ParsePool(settings.parse_processes, settings.parse_memory_limit_bytes)
    datasets = DatasetStore(app[STORAGE], ttl_s=settings.blob_ttl_s)
    analyses = AnalysisStore(app[STORAGE], datasets, ttl_s=settings.blob_ttl_s)
    app[ANALYSES] = analyses
    app[DOWNLOADS] = Downloads(analyses)
    app[CONVERSATION] = Conversation(
        app[REGISTRY], datasets, analyses, pool, max_upload_bytes=settings.max_upload_bytes
    )
    yield
    pool.shutdown()


async def _fanout_ctx(app: web.Application) -> AsyncIterator[None]:
    storage = app[STORAGE]
    if storage.subscriber is None:
        raise RuntimeError("the storage client has no pub/sub connection")
    fanout = Fanout(storage.subscriber, storage.events_channel, origin=storage.wake_tag)
    app[REGISTRY].on_committed = fanout.deliver
    await fanout.start()
    app[FANOUT] = fanout
    yield
    await fanout.stop()


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


async def _close_sockets(app: web.Application) -> None:
    # GOING_AWAY tells clients to reconnect, elsewhere, at once.
    for ws in list(app[SOCKETS]):  # type: ignore[index]
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def build_app(settings: Settings) -> web.Application:
    """The application for explicit settings (tests and the single-process worker)."""
    app = web.Application(
        middlewares=[access_log_middleware, error_middleware], client_max_size=1024**2
    )
    app[SETTINGS] = settings
    app[WORKER_ID] = f"{socket.gethostname()}:{os.getpid()}"
    app[METRICS] = Metrics(settings.metrics_dir)
    app[SOCKETS] = weakref.WeakSet()
    app.cleanup_ctx.extend([_redis_ctx, _pool_ctx, _fanout_ctx, _metrics_ctx, _gc_ctx])
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
