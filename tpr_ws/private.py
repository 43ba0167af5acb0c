"""Files and directories only their owner can read: the data dir, the secret, the Redis password."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path

from tpr_ws.errors import ConfigError


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (0700); a new one is made so from the
    start, an existing one is tightened if it is ours (never a shared sticky one like /tmp)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat()
    if mode.st_uid == os.getuid() and mode.st_mode & 0o077 and not mode.st_mode & stat.S_ISVTX:
        path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only (0600) from its first byte."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def stored_secret(path: Path) -> str:
    """The secret kept in ``path``; a new random one (0600 from its first byte, never a file
    others could read for a moment) if there is none. An empty file is refused (ConfigError):
    every process must find the same secret."""
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
            with contextlib.suppress(FileExistsError):  # another process made it first: read its
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"{path} is empty: put a secret in it, or delete it to have one made")
    return value
