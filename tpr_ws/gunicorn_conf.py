"""gunicorn configuration shipped in the package: what `tpr-ws serve` runs, and production too.

    gunicorn -c python:tpr_ws.gunicorn_conf tpr_ws.app:create_app

Settings come from the environment through tpr_ws.config (REDIS_URL, TPR_WS_*). gunicorn reads
this module's names as its settings when it starts.

What a reload (SIGHUP) loads anew: workers are forked from the master and inherit every module
it holds. The master imports the heavy third-party libraries (PRELOADED) once, so workers boot
in a fraction of the time; an upgrade of one of them needs a full restart (`systemctl
restart`). Every tpr_ws module the master imported (this one, config, errors, logs, the worker
class) is forgotten before each fork: each worker imports all of tpr_ws itself, and a reload
re-reads this module and the worker class, so a SIGHUP runs the new release's code throughout
(tests/test_gunicorn_conf.py, tests/transport/test_rolling_reload.py).
"""

import gc
import importlib
import importlib.util
import sys
from typing import Any

from tpr_ws.config import Settings
from tpr_ws.logs import gunicorn_logconfig

_settings = Settings.from_env()

bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
# uvloop where installed (the optional extra `tpr-ws[fast]`), else asyncio's own loop.
# aiohttp's worker, which on a reload keeps accepting until a new worker answers (worker.py).
worker_class = (
    "tpr_ws.worker.RollingUVLoopWorker"
    if importlib.util.find_spec("uvloop") is not None
    else "tpr_ws.worker.RollingWorker"
)
# A worker that stops answering its heartbeat is replaced; clients reconnect elsewhere.
timeout = 60
# A quitting worker: up to 40% waiting for a successor to answer (a reload), 8 s for the turns
# in flight (tpr_ws.app.TURN_DRAIN_S), 20% for HTTP requests still running, then it is killed.
# Worker boot under load measured 5-10 s without PRELOADED (`python bench/roll.py`).
graceful_timeout = 30
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

# Imported by the master before it forks: what every worker imports from third parties.
PRELOADED = (
    "numpy",
    "pandas",
    "pyarrow",
    "openpyxl",
    "python_calamine",
    "orjson",
    "hiredis",
    "redis.asyncio",
    "redis.asyncio.cluster",
    "aiohttp.web",
)


def on_starting(server: Any) -> None:
    """In the master, once: import the heavy libraries, then freeze them out of the cyclic
    GC (forked workers share those pages instead of copying them on the first collection)."""
    for name in PRELOADED:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()


def on_reload(server: Any) -> None:
    """A SIGHUP: the workers forked from now on are of the next generation."""
    server.tpr_ws_generation = getattr(server, "tpr_ws_generation", 0) + 1


def pre_fork(server: Any, worker: Any) -> None:
    """Before a fork: tell the worker its generation (it reports it on /readyz), and forget
    the master's tpr_ws modules so the worker imports this release's (module docstring)."""
    worker.generation = getattr(server, "tpr_ws_generation", 0)
    for name in [m for m in sys.modules if m == "tpr_ws" or m.startswith("tpr_ws.")]:
        del sys.modules[name]
