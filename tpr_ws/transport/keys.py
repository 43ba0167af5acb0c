"""Typed application keys for the objects a worker shares between handlers."""

from __future__ import annotations

import weakref

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
CLIENTS = web.AppKey("clients", ClientAddresses)
SLOTS = web.AppKey("slots", Slots)
