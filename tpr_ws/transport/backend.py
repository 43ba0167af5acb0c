"""A worker's Redis-backed objects, available once Redis has answered.

A worker tries Redis once while it starts; if Redis does not answer, it boots without it
(gunicorn stops the whole instance when a worker fails to boot) and keeps connecting in the
background. Until then every request that needs storage gets `storage_unavailable` (HTTP 503)
and /readyz says the worker is not ready.
"""

from __future__ import annotations

from dataclasses import dataclass

from tpr_ws.analyses import AnalysisStore
from tpr_ws.conversation import Conversation
from tpr_ws.downloads import Downloads
from tpr_ws.errors import StorageUnavailable
from tpr_ws.fanout import Fanout
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Registry
from tpr_ws.transport.limits import Windows


@dataclass(frozen=True)
class Services:
    """Everything that needs Redis, built together once Redis answers."""

    storage: Storage
    registry: Registry
    conversation: Conversation
    analyses: AnalysisStore
    downloads: Downloads
    fanout: Fanout
    windows: Windows


class Backend:
    """Holds the services once connected; `require()` is how handlers reach them."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self.problem = "connecting to storage"

    @property
    def services(self) -> Services | None:
        return self._services

    def connected(self, services: Services) -> None:
        self._services = services
        self.problem = ""

    def require(self) -> Services:
        """The services, or StorageUnavailable (retryable) while the worker has none yet."""
        if self._services is None:
            raise StorageUnavailable(
                "The server cannot reach its storage yet; try again in a moment."
            )
        return self._services
