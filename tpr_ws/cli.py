"""The `tpr-ws` command: serve (embedded Redis + gunicorn workers), worker (one process), sample."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING

from tpr_ws.config import Settings, redact_url
from tpr_ws.errors import ConfigError
from tpr_ws.logs import configure_logging
from tpr_ws.private import private_dir, stored_secret

if TYPE_CHECKING:
    from tpr_ws.embedded import EmbeddedRedis

GUNICORN_CONF = "python:tpr_ws.gunicorn_conf"  # shipped in the package (works from a wheel)


def _embedded_redis(settings: Settings) -> EmbeddedRedis:
    """The private server in ``<data dir>/redis``, with the password kept beside it, its AOF
    fsynced as `TPR_WS_EMBEDDED_FSYNC` says."""
    from tpr_ws.embedded import EmbeddedRedis

    data_dir = settings.data_dir.resolve()
    private_dir(data_dir)
    password = stored_secret(data_dir / "redis-password")
    return EmbeddedRedis(
        data_dir=data_dir / "redis",
        appendonly=True,
        password=password,
        appendfsync=settings.embedded_fsync,
    )


def _gunicorn_env(settings: Settings, workers: int) -> dict[str, str]:
    """The workers' environment: where to listen, the shared secret (kept in the data dir
    only when none is given), and the public origin(s) this server is reached at."""
    env = dict(os.environ)
    env["TPR_WS_HOST"] = settings.host
    env["TPR_WS_PORT"] = str(settings.port)
    env["TPR_WS_WORKERS"] = str(workers)
    if "TPR_WS_SECRET" not in env:
        data_dir = private_dir(settings.data_dir.resolve())
        env["TPR_WS_SECRET"] = stored_secret(data_dir / "secret")
    if not settings.public_origins and settings.bound_origins():
        env["TPR_WS_PUBLIC_ORIGINS"] = ",".join(settings.bound_origins())
    return env


def serve(args: argparse.Namespace) -> int:
    """Start the embedded Redis-protocol server (unless REDIS_URL is set) and gunicorn."""
    settings = Settings.from_env()
    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    env = _gunicorn_env(settings, args.workers or settings.workers)
    metrics_dir = tempfile.mkdtemp(prefix="tpr-ws-metrics-")
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    embedded = None
    try:
        if not settings.redis_url:
            embedded = _embedded_redis(settings)
            embedded.start()
            env["REDIS_URL"] = embedded.url
            where = redact_url(embedded.url)
            print(f"tpr-ws: embedded Redis-protocol server at {where}, data in {embedded.data_dir}")
        url = f"http://{env['TPR_WS_HOST']}:{env['TPR_WS_PORT']}/"
        print(f"tpr-ws: {env['TPR_WS_WORKERS']} workers; open {url}", flush=True)
        return _run_gunicorn(env)
    finally:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _run_gunicorn(env: dict[str, str]) -> int:
    """Run gunicorn until it exits, passing it the signals this process gets."""
    cmd = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF, "tpr_ws.app:create_app"]
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    # SIGHUP: gunicorn starts fresh workers (new code, new settings), then stops the old ones
    # gracefully (their sockets close with 1001 and clients reconnect): a rolling restart.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    return proc.wait()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where installed (the optional extra `tpr-ws[fast]`), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()  # typed where uvloop is absent
    return loop


def worker(args: argparse.Namespace) -> int:
    """One aiohttp worker process without gunicorn (tests, development)."""

    from aiohttp import web

    from tpr_ws.app import build_app

    configure_logging()
    settings = Settings.from_env()
    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    embedded = None
    if not settings.redis_url:
        embedded = _embedded_redis(settings)
        embedded.start()
        settings = settings.with_(redis_url=embedded.url)
    try:
        web.run_app(
            build_app(settings),
            host=settings.host,
            port=settings.port,
            shutdown_timeout=5,
            access_log=None,  # the app logs requests itself, without query strings
            print=lambda s: print(s, flush=True),
            loop=_new_event_loop(),
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "sample":
        from tpr_ws.domain.sample.cli import main as sample_main

        return sample_main(argv[1:])
    parser = argparse.ArgumentParser(prog="tpr-ws", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("serve", "embedded Redis + gunicorn workers"),
        ("worker", "one worker process (REDIS_URL or embedded Redis)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", default=None)
        p.add_argument("--port", type=int, default=None)
        if name == "serve":
            p.add_argument("--workers", type=int, default=None)
    sub.add_parser("sample", help="write a synthetic NMEP file (see `tpr-ws sample --help`)")
    args = parser.parse_args(argv)
    try:
        return serve(args) if args.command == "serve" else worker(args)
    except ConfigError as exc:  # a configuration to fix: the message, not a traceback
        print(f"tpr-ws: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
