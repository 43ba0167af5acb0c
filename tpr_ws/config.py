"""Settings: built once from the environment; nothing else reads os.environ."""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tpr_ws.errors import ConfigError

_PREFIX = "TPR_WS_"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WILDCARD = ("", "0.0.0.0", "::")


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port, or None if ``origin``
    is not an http(s) origin (e.g. ``null``, a path, a user name)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}"


def redact_url(url: str) -> str:
    """A URL fit for logs: its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


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
    public_origins: tuple[str, ...] = ()
    control_socket: Path | None = None
    download_link_ttl_s: int = 600
    # Limits (invariant 9). Concurrency caps are per worker; windows are shared in Redis.
    trusted_proxies: tuple[str, ...] = ()
    hello_timeout_s: float = 10.0
    max_sockets_per_client: int = 50
    rate_limit_session_messages: int = 20
    rate_limit_client_messages: int = 60
    new_sessions_per_client: int = 60
    new_sessions_window_s: int = 3600
    upload_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    max_uploads_per_session: int = 2
    max_uploads_per_client: int = 4
    upload_stall_s: float = 60.0
    upload_min_progress_bytes: int = 64 * 1024
    upload_quota_bytes: int = 1024**3
    upload_quota_window_s: int = 3600
    parse_timeout_s: float = 300.0
    storage_retry_max_s: float = 5.0
    durability: str = "none"
    durability_timeout_ms: int = 2_000
    embedded_fsync: str = "always"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, require_secret: bool = False
    ) -> Settings:
        """Read `REDIS_URL` and `TPR_WS_*` variables; unset ones keep their defaults.

        An unset `TPR_WS_SECRET` gives this process a random secret of its own, which only a
        single process can use: ``require_secret`` (several workers) refuses that. A set but
        empty one is always refused."""
        env = os.environ if env is None else env
        base = cls()
        secret_raw = env.get(_PREFIX + "SECRET")
        if secret_raw is not None and not secret_raw.strip():
            raise ConfigError(
                "TPR_WS_SECRET is empty: set it to a long random value shared by every worker "
                "(or unset it: `tpr-ws serve` then keeps one in <data dir>/secret)"
            )
        if secret_raw is None and require_secret:
            raise ConfigError(
                "TPR_WS_SECRET is not set: every worker must share one secret (session tokens "
                "are signed with it); set it, or start with `tpr-ws serve`"
            )
        public = env.get(_PREFIX + "PUBLIC_ORIGINS", "")
        control_socket = env.get(_PREFIX + "CONTROL_SOCKET", "").strip()
        values: dict[str, Any] = {
            "redis_url": env.get("REDIS_URL") or None,
            "secret": secret_raw.encode() if secret_raw is not None else base.secret,
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
            "allowed_origins": _list(env, _PREFIX + "ALLOWED_ORIGINS"),
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
            "public_origins": tuple(o.strip() for o in public.split(",") if o.strip()),
            "control_socket": Path(control_socket) if control_socket else None,
            "download_link_ttl_s": _int(
                env, _PREFIX + "DOWNLOAD_LINK_TTL_S", base.download_link_ttl_s
            ),
            **cls._limits_from_env(env, base),
            "durability": env.get(_PREFIX + "DURABILITY", base.durability).strip().lower(),
            "embedded_fsync": env.get(_PREFIX + "EMBEDDED_FSYNC", base.embedded_fsync)
            .strip()
            .lower(),
            "durability_timeout_ms": _int(
                env, _PREFIX + "DURABILITY_TIMEOUT_MS", base.durability_timeout_ms
            ),
        }
        settings = cls(**values)
        settings.validate()
        return settings

    @staticmethod
    def _limits_from_env(env: Mapping[str, str], base: Settings) -> dict[str, Any]:
        b = base
        return {
            "trusted_proxies": _list(env, _PREFIX + "TRUSTED_PROXIES"),
            "hello_timeout_s": _float(env, _PREFIX + "HELLO_TIMEOUT_S", b.hello_timeout_s),
            "max_sockets_per_client": _int(
                env, _PREFIX + "MAX_SOCKETS_PER_CLIENT", b.max_sockets_per_client
            ),
            "rate_limit_session_messages": _int(
                env, _PREFIX + "RATE_LIMIT_SESSION_MESSAGES", b.rate_limit_session_messages
            ),
            "rate_limit_client_messages": _int(
                env, _PREFIX + "RATE_LIMIT_CLIENT_MESSAGES", b.rate_limit_client_messages
            ),
            "new_sessions_per_client": _int(
                env, _PREFIX + "NEW_SESSIONS_PER_CLIENT", b.new_sessions_per_client
            ),
            "new_sessions_window_s": _int(
                env, _PREFIX + "NEW_SESSIONS_WINDOW_S", b.new_sessions_window_s
            ),
            "upload_dir": Path(env.get(_PREFIX + "UPLOAD_DIR") or b.upload_dir),
            "max_uploads_per_session": _int(
                env, _PREFIX + "MAX_UPLOADS_PER_SESSION", b.max_uploads_per_session
            ),
            "max_uploads_per_client": _int(
                env, _PREFIX + "MAX_UPLOADS_PER_CLIENT", b.max_uploads_per_client
            ),
            "upload_stall_s": _float(env, _PREFIX + "UPLOAD_STALL_S", b.upload_stall_s),
            "upload_min_progress_bytes": _int(
                env, _PREFIX + "UPLOAD_MIN_PROGRESS_BYTES", b.upload_min_progress_bytes
            ),
            "upload_quota_bytes": _int(env, _PREFIX + "UPLOAD_QUOTA_BYTES", b.upload_quota_bytes),
            "upload_quota_window_s": _int(
                env, _PREFIX + "UPLOAD_QUOTA_WINDOW_S", b.upload_quota_window_s
            ),
            "parse_timeout_s": _float(env, _PREFIX + "PARSE_TIMEOUT_S", b.parse_timeout_s),
            "storage_retry_max_s": _float(
                env, _PREFIX + "STORAGE_RETRY_MAX_S", b.storage_retry_max_s
            ),
        }

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
        if self.download_link_ttl_s < 10:
            problems.append("TPR_WS_DOWNLOAD_LINK_TTL_S must be at least 10")
        if self.durability not in ("none", "replica", "aof", "replica+aof"):
            problems.append("TPR_WS_DURABILITY must be none, replica, aof or replica+aof")
        if self.embedded_fsync not in ("always", "everysec"):
            problems.append("TPR_WS_EMBEDDED_FSYNC must be always or everysec")
        if self.durability_timeout_ms < 1:
            problems.append("TPR_WS_DURABILITY_TIMEOUT_MS must be at least 1")
        if self.log_max_bytes < 16 * 1024:
            problems.append("TPR_WS_LOG_MAX_BYTES must be at least 16384")
        if self.message_ids_kept < 10:
            problems.append("TPR_WS_MESSAGE_IDS_KEPT must be at least 10")
        bad = [o for o in self.public_origins if normalize_origin(o) is None]
        if bad:
            problems.append(
                f"TPR_WS_PUBLIC_ORIGINS must list http(s)://host[:port] origins, got {bad}"
            )
        if len(self.secret) < 16:
            problems.append("TPR_WS_SECRET must be at least 16 characters")
        problems += self._limit_problems()
        if problems:
            raise ConfigError("; ".join(problems))

    @cached_property
    def accepted_origins(self) -> frozenset[str]:
        """Origins a browser may call from: the public origins (by default where the server
        listens: for a loopback address its loopback names too; none for a wildcard address)
        and the allowlist, normalized (`normalize_origin`)."""
        listed = self.public_origins or self.bound_origins()
        found = (normalize_origin(o) for o in (*listed, *self.allowed_origins))
        return frozenset(o for o in found if o is not None)

    def bound_origins(self) -> tuple[str, ...]:
        """The origins of the address the server listens on (none for a wildcard address)."""
        if self.host in _WILDCARD:
            return ()
        hosts = _LOOPBACK if self.host in _LOOPBACK else (self.host,)
        return tuple(f"http://{f'[{h}]' if ':' in h else h}:{self.port}" for h in hosts)

    def _limit_problems(self) -> list[str]:
        positive = {
            "HELLO_TIMEOUT_S": self.hello_timeout_s,
            "MAX_SOCKETS_PER_CLIENT": self.max_sockets_per_client,
            "RATE_LIMIT_SESSION_MESSAGES": self.rate_limit_session_messages,
            "RATE_LIMIT_CLIENT_MESSAGES": self.rate_limit_client_messages,
            "NEW_SESSIONS_PER_CLIENT": self.new_sessions_per_client,
            "NEW_SESSIONS_WINDOW_S": self.new_sessions_window_s,
            "MAX_UPLOADS_PER_SESSION": self.max_uploads_per_session,
            "MAX_UPLOADS_PER_CLIENT": self.max_uploads_per_client,
            "UPLOAD_STALL_S": self.upload_stall_s,
            "UPLOAD_QUOTA_BYTES": self.upload_quota_bytes,
            "UPLOAD_QUOTA_WINDOW_S": self.upload_quota_window_s,
            "PARSE_TIMEOUT_S": self.parse_timeout_s,
            "STORAGE_RETRY_MAX_S": self.storage_retry_max_s,
        }
        problems = [f"TPR_WS_{name} must be positive" for name, v in positive.items() if v <= 0]
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                problems.append(f"TPR_WS_TRUSTED_PROXIES: {proxy!r} is not an address or network")
        return problems

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and the launcher use this)."""
        return replace(self, **changes)
