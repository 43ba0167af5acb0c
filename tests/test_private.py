"""Files only their owner can read: made so from the start, whatever the umask."""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpr_ws.errors import ConfigError
from tpr_ws.private import private_dir, stored_secret, write_private

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: anything not private on purpose would be readable by all."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_private_dir_is_made_0700_and_an_open_one_is_tightened(
    tmp_path: Path, open_umask: None
) -> None:
    made = private_dir(tmp_path / "a" / "var")
    assert _mode(made) == 0o700
    existing = tmp_path / "open"
    existing.mkdir(mode=0o755)
    assert _mode(private_dir(existing)) == 0o700
    shared = tmp_path / "shared"  # like /tmp: sticky and open to all, left alone
    shared.mkdir()
    shared.chmod(0o1777)
    assert shared.stat().st_mode & 0o7777 == private_dir(shared).stat().st_mode & 0o7777 == 0o1777


def test_a_stored_secret_is_0600_kept_and_never_empty(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "secret"
    first = stored_secret(path)
    assert len(first) >= 32 and _mode(path) == 0o600
    assert stored_secret(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temporary file left
    path.write_text("  \n")
    with pytest.raises(ConfigError, match="is empty"):
        stored_secret(path)


def test_write_private_replaces_a_file_with_a_0600_one(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "auth.conf"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "requirepass x\n")
    assert path.read_text() == "requirepass x\n" and _mode(path) == 0o600


def test_gunicorn_control_socket_is_off_unless_this_instance_names_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = "tpr_ws.gunicorn_conf"  # what serve runs (deploy/gunicorn.conf.py imports it)
    # Run afresh (as gunicorn reads it), not over a copy another test imported.
    monkeypatch.delitem(sys.modules, conf, raising=False)
    monkeypatch.delenv("TPR_WS_CONTROL_SOCKET", raising=False)
    assert runpy.run_module(conf)["control_socket_disable"] is True
    monkeypatch.setenv("TPR_WS_CONTROL_SOCKET", str(tmp_path / "gunicorn.ctl"))
    settings = runpy.run_module(conf)
    assert settings["control_socket_disable"] is False
    assert settings["control_socket"] == str(tmp_path / "gunicorn.ctl")
    assert settings["control_socket_mode"] == 0o600
