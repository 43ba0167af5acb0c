"""Typed application keys for the objects a worker shares between handlers."""

from __future__ import annotations

import weakref
from typing import Any

from aiohttp import web

from tpr_ws.config import Settings
from tpr_ws.metrics import Metrics
from tpr_ws.pool import ParsePool
from tpr_ws.transport.backend import Backend
from tpr_ws.transport.limits import ClientAddresses, Slots

SETTINGS = web.AppKey("settings", Settings)
BACKEND = web.AppKey("backend", Backend)  # everything that needs Redis (`Backend.require()`)
METRICS = web.AppKey("metrics", Metrics)
PARSE_POOL = web.AppKey("parse_pool", ParsePool)
SOCKETS = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])
WORKER_ID = web.AppKey("worker_id", str)
# gunicorn reloads (SIGHUP) before this worker was forked: a newer one answers with a higher
GENERATION = web.AppKey("generation", int)
# the open sockets' connections, told to finish their turn before a shutdown closes them
CONNECTIONS = web.AppKey("connections", weakref.WeakSet[Any])
CLIENTS = web.AppKey("clients", ClientAddresses)
SLOTS = web.AppKey("slots", Slots)
