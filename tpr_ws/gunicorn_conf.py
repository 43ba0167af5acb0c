"""gunicorn configuration shipped in the package: what `tpr-ws serve` runs, and production too.

    gunicorn -c python:tpr_ws.gunicorn_conf tpr_ws.app:create_app

Settings come from the environment through tpr_ws.config (REDIS_URL, TPR_WS_*). gunicorn reads
this module's names as its settings when it starts.
"""

import importlib.util

from tpr_ws.config import Settings
from tpr_ws.logs import gunicorn_logconfig

_settings = Settings.from_env()

bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
# uvloop where installed (the optional extra `tpr-ws[fast]`), else asyncio's own loop.
worker_class = (
    "aiohttp.GunicornUVLoopWebWorker"
    if importlib.util.find_spec("uvloop") is not None
    else "aiohttp.GunicornWebWorker"
)
# A worker that stops answering its heartbeat is replaced; clients reconnect elsewhere.
timeout = 60
graceful_timeout = 10
keepalive = 5
max_requests = 0
accesslog = None
errorlog = "-"
loglevel = "info"
logconfig_dict = gunicorn_logconfig()  # every line with its level, in one format
proc_name = "tpr-ws"
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), shared by
# every instance, each taking it over from the last: off unless TPR_WS_CONTROL_SOCKET names
# this instance's own (owner-only, 0600).
control_socket_disable = _settings.control_socket is None
control_socket = str(_settings.control_socket or "gunicorn.ctl")
control_socket_mode = 0o600
