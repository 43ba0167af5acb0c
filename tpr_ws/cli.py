"""The `tpr-ws` command: serve (embedded Redis + gunicorn workers), worker (one process), sample."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tpr_ws.config import Settings

GUNICORN_CONF = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def _secret(data_dir: Path) -> str:
    """A secret kept in the data directory, so session tokens survive a restart."""
    path = data_dir / "secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def serve(args: argparse.Namespace) -> int:
    """Start the embedded Redis-protocol server (unless REDIS_URL is set) and gunicorn."""
    from tpr_ws.embedded import EmbeddedRedis

    settings = Settings.from_env()
    data_dir = settings.data_dir.resolve()
    env = dict(os.environ)
    env["TPR_WS_HOST"] = args.host or settings.host
    env["TPR_WS_PORT"] = str(args.port or settings.port)
    env["TPR_WS_WORKERS"] = str(args.workers or settings.workers)
    env.setdefault("TPR_WS_SECRET", _secret(data_dir))
    metrics_dir = tempfile.mkdtemp(prefix="tpr-ws-metrics-")
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(data_dir=data_dir / "redis", appendonly=True)
        embedded.start()
        env["REDIS_URL"] = embedded.url
        print(f"tpr-ws: embedded Redis-protocol server at {embedded.url}, data in {data_dir}")
    url = f"http://{env['TPR_WS_HOST']}:{env['TPR_WS_PORT']}/"
    print(f"tpr-ws: {env['TPR_WS_WORKERS']} workers; open {url}", flush=True)
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "tpr_ws.app:create_app"]
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        return proc.wait()
    finally:
        if embedded is not None:
            embedded.stop()


def worker(args: argparse.Namespace) -> int:
    """One aiohttp worker process without gunicorn (tests, development)."""
    import asyncio

    from aiohttp import web

    from tpr_ws.app import build_app
    from tpr_ws.embedded import EmbeddedRedis

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    settings = Settings.from_env()
    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(data_dir=settings.data_dir.resolve() / "redis", appendonly=True)
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
            loop=asyncio.new_event_loop(),
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
    return serve(args) if args.command == "serve" else worker(args)


if __name__ == "__main__":
    raise SystemExit(main())
