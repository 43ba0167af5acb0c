"""Typed application keys for the objects a worker shares between handlers."""

from __future__ import annotations

import weakref

from aiohttp import web
from redis.asyncio import Redis

from tpr_ws.analyses import AnalysisStore
from tpr_ws.config import Settings
from tpr_ws.conversation import Conversation
from tpr_ws.downloads import Downloads
from tpr_ws.fanout import Fanout
from tpr_ws.metrics import Metrics
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
STORAGE = web.AppKey("storage", Storage)
REGISTRY = web.AppKey("registry", Registry)
CONVERSATION = web.AppKey("conversation", Conversation)
ANALYSES = web.AppKey("analyses", AnalysisStore)
DOWNLOADS = web.AppKey("downloads", Downloads)
FANOUT = web.AppKey("fanout", Fanout)
METRICS = web.AppKey("metrics", Metrics)
SOCKETS = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])
WORKER_ID = web.AppKey("worker_id", str)
