"""Settings are built once from the environment, with clear errors."""

from __future__ import annotations

import pytest

from tpr_ws.config import Settings, normalize_origin, redact_url
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


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_an_empty_secret_is_refused_not_replaced_by_a_random_one(value: str) -> None:
    with pytest.raises(ConfigError, match="TPR_WS_SECRET is empty"):
        Settings.from_env({"TPR_WS_SECRET": value})


def test_several_workers_require_a_secret() -> None:
    with pytest.raises(ConfigError, match="TPR_WS_SECRET is not set"):
        Settings.from_env({}, require_secret=True)
    s = Settings.from_env({"TPR_WS_SECRET": "y" * 20}, require_secret=True)
    assert s.secret == b"y" * 20


def test_accepted_origins_default_to_where_the_server_listens() -> None:
    loopback = Settings.from_env({"TPR_WS_PORT": "8080"})
    assert loopback.accepted_origins == {
        "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080",
    }  # fmt: skip
    named = Settings.from_env({"TPR_WS_HOST": "tpr.lan", "TPR_WS_PORT": "80"})
    assert named.accepted_origins == {"http://tpr.lan"}
    assert Settings.from_env({"TPR_WS_HOST": "0.0.0.0"}).accepted_origins == frozenset()


def test_public_origins_replace_the_default_and_are_checked() -> None:
    s = Settings.from_env(
        {
            "TPR_WS_PUBLIC_ORIGINS": "https://TPR.example.org:443/, http://tpr.example.org:8443",
            "TPR_WS_ALLOWED_ORIGINS": "https://partner.example",
        }
    )
    assert s.accepted_origins == {
        "https://tpr.example.org", "http://tpr.example.org:8443", "https://partner.example",
    }  # fmt: skip
    with pytest.raises(ConfigError, match="TPR_WS_PUBLIC_ORIGINS"):
        Settings.from_env({"TPR_WS_PUBLIC_ORIGINS": "tpr.example.org, https://x.org/app"})


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("HTTPS://Example.ORG:443", "https://example.org"),
        ("http://[::1]:80", "http://[::1]"),
        ("null", None),
        ("file://", None),
        ("http://user:pw@example.org", None),
        ("http://example.org:99999", None),
        ("https://example.org/path", None),
    ],
)
def test_normalize_origin(origin: str, expected: str | None) -> None:
    assert normalize_origin(origin) == expected


def test_redact_url_hides_the_password_only() -> None:
    assert redact_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
