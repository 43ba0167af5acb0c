"""Settings are built once from the environment, with clear errors."""

from __future__ import annotations

import pytest

from tpr_ws.config import Settings
from tpr_ws.errors import ConfigError


def test_defaults_without_environment() -> None:
    s = Settings.from_env({})
    assert s.redis_url is None and s.workers == 3 and s.lease_ttl_ms == 10_000
    assert s.allowed_origins == ()


def test_values_from_environment() -> None:
    s = Settings.from_env(
        {
            "REDIS_URL": "redis://127.0.0.1:7000/0",
            "TPR_WS_SECRET": "x" * 20,
            "TPR_WS_WORKERS": "5",
            "TPR_WS_ALLOWED_ORIGINS": "https://a.org, https://b.org",
        }
    )
    assert s.redis_url == "redis://127.0.0.1:7000/0"
    assert s.secret == b"x" * 20 and s.workers == 5
    assert s.allowed_origins == ("https://a.org", "https://b.org")


def test_every_problem_is_reported() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(
            {"TPR_WS_WORKERS": "0", "TPR_WS_LEASE_TTL_MS": "5", "TPR_WS_SECRET": "short"}
        )
    text = str(info.value)
    assert "WORKERS" in text and "LEASE_TTL" in text and "SECRET" in text


def test_non_integer_is_named() -> None:
    with pytest.raises(ConfigError, match="TPR_WS_PORT"):
        Settings.from_env({"TPR_WS_PORT": "eighty"})
