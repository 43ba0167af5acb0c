"""gunicorn configuration used by `tpr-ws serve` (and in production): aiohttp workers.

Run: gunicorn -c deploy/gunicorn.conf.py tpr_ws.app:create_app
Settings come from the environment through tpr_ws.config (REDIS_URL, TPR_WS_*).
"""

from tpr_ws.config import Settings

_settings = Settings.from_env()

bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "aiohttp.GunicornWebWorker"
# A worker that stops answering its heartbeat is replaced; clients reconnect elsewhere.
timeout = 60
graceful_timeout = 10
keepalive = 5
max_requests = 0
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "tpr-ws"


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Drop a dead worker's Prometheus files so /metrics stops counting it."""
    if _settings.metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, _settings.metrics_dir)
