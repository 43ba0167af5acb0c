"""Settings: built once from the environment; nothing else reads os.environ."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tpr_ws.errors import ConfigError

_PREFIX = "TPR_WS_"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything tunable about a worker. Build with `Settings.from_env()`."""

    redis_url: str | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    lease_ttl_ms: int = 10_000
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 3
    data_dir: Path = Path("var")
    max_upload_bytes: int = 100 * 1024 * 1024
    max_message_bytes: int = 16 * 1024
    rate_limit_messages: int = 20
    rate_limit_window_s: int = 10
    log_max_events: int = 2_000
    log_max_bytes: int = 256 * 1024
    allowed_origins: tuple[str, ...] = ()
    heartbeat_s: float = 20.0
    parse_processes: int = 1
    parse_memory_limit_bytes: int = 6 * 1024**3
    key_prefix: str = "tpr"
    metrics_dir: str | None = None
    blob_ttl_s: int = 7 * 24 * 3600
    session_ttl_s: int = 30 * 24 * 3600
    message_ids_kept: int = 500
    upload_chunk_max_bytes: int = 8 * 1024 * 1024
    upload_ttl_s: int = 24 * 3600
    upload_max_pending: int = 4
    upload_max_pending_bytes: int = 200 * 1024 * 1024
    redis_timeout_ms: int = 3_000
    redis_connect_timeout_ms: int = 2_000
    redis_max_connections: int = 50

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read `REDIS_URL` and `TPR_WS_*` variables; unset ones keep their defaults."""
        env = os.environ if env is None else env
        base = cls()
        secret_raw = env.get(_PREFIX + "SECRET")
        origins = env.get(_PREFIX + "ALLOWED_ORIGINS", "")
        values: dict[str, Any] = {
            "redis_url": env.get("REDIS_URL") or None,
            "secret": secret_raw.encode() if secret_raw else base.secret,
            "lease_ttl_ms": _int(env, _PREFIX + "LEASE_TTL_MS", base.lease_ttl_ms),
            "host": env.get(_PREFIX + "HOST", base.host),
            "port": _int(env, _PREFIX + "PORT", base.port),
            "workers": _int(env, _PREFIX + "WORKERS", base.workers),
            "data_dir": Path(env.get(_PREFIX + "DATA_DIR", str(base.data_dir))),
            "max_upload_bytes": _int(env, _PREFIX + "MAX_UPLOAD_BYTES", base.max_upload_bytes),
            "max_message_bytes": _int(env, _PREFIX + "MAX_MESSAGE_BYTES", base.max_message_bytes),
            "rate_limit_messages": _int(
                env, _PREFIX + "RATE_LIMIT_MESSAGES", base.rate_limit_messages
            ),
            "rate_limit_window_s": _int(
                env, _PREFIX + "RATE_LIMIT_WINDOW_S", base.rate_limit_window_s
            ),
            "log_max_events": _int(env, _PREFIX + "LOG_MAX_EVENTS", base.log_max_events),
            "log_max_bytes": _int(env, _PREFIX + "LOG_MAX_BYTES", base.log_max_bytes),
            "allowed_origins": tuple(o.strip() for o in origins.split(",") if o.strip()),
            "heartbeat_s": float(_int(env, _PREFIX + "HEARTBEAT_S", int(base.heartbeat_s))),
            "parse_processes": _int(env, _PREFIX + "PARSE_PROCESSES", base.parse_processes),
            "parse_memory_limit_bytes": _int(
                env, _PREFIX + "PARSE_MEMORY_LIMIT_BYTES", base.parse_memory_limit_bytes
            ),
            "key_prefix": env.get(_PREFIX + "KEY_PREFIX", base.key_prefix),
            "metrics_dir": env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            "blob_ttl_s": _int(env, _PREFIX + "BLOB_TTL_S", base.blob_ttl_s),
            "session_ttl_s": _int(env, _PREFIX + "SESSION_TTL_S", base.session_ttl_s),
            "message_ids_kept": _int(env, _PREFIX + "MESSAGE_IDS_KEPT", base.message_ids_kept),
            "upload_chunk_max_bytes": _int(
                env, _PREFIX + "UPLOAD_CHUNK_MAX_BYTES", base.upload_chunk_max_bytes
            ),
            "upload_ttl_s": _int(env, _PREFIX + "UPLOAD_TTL_S", base.upload_ttl_s),
            "upload_max_pending": _int(
                env, _PREFIX + "UPLOAD_MAX_PENDING", base.upload_max_pending
            ),
            "upload_max_pending_bytes": _int(
                env, _PREFIX + "UPLOAD_MAX_PENDING_BYTES", base.upload_max_pending_bytes
            ),
            "redis_timeout_ms": _int(env, _PREFIX + "REDIS_TIMEOUT_MS", base.redis_timeout_ms),
            "redis_connect_timeout_ms": _int(
                env, _PREFIX + "REDIS_CONNECT_TIMEOUT_MS", base.redis_connect_timeout_ms
            ),
            "redis_max_connections": _int(
                env, _PREFIX + "REDIS_MAX_CONNECTIONS", base.redis_max_connections
            ),
        }
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        problems = []
        if self.lease_ttl_ms < 200:
            problems.append("TPR_WS_LEASE_TTL_MS must be at least 200")
        if self.workers < 1:
            problems.append("TPR_WS_WORKERS must be at least 1")
        if self.max_upload_bytes < 1024:
            problems.append("TPR_WS_MAX_UPLOAD_BYTES must be at least 1024")
        if self.redis_timeout_ms < 100 or self.redis_connect_timeout_ms < 100:
            problems.append("TPR_WS_REDIS_TIMEOUT_MS and _CONNECT_TIMEOUT_MS must be >= 100")
        if self.redis_max_connections < 2:
            problems.append("TPR_WS_REDIS_MAX_CONNECTIONS must be at least 2")
        if self.log_max_bytes < 16 * 1024:
            problems.append("TPR_WS_LOG_MAX_BYTES must be at least 16384")
        if self.message_ids_kept < 10:
            problems.append("TPR_WS_MESSAGE_IDS_KEPT must be at least 10")
        if len(self.secret) < 16:
            problems.append("TPR_WS_SECRET must be at least 16 characters")
        if problems:
            raise ConfigError("; ".join(problems))

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the launcher use this)."""
        return replace(self, **changes)
