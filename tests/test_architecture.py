"""Layers import downward only (import-linter contracts in pyproject.toml); settings come from
one place."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tpr_ws"


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_config_reads_the_environment() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("config.py", "cli.py"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_pure_core_has_no_io_imports() -> None:
    forbidden = {"aiohttp", "redis", "asyncio", "socket", "subprocess"}
    offenders = []
    for sub in ("actors", "domain"):
        for path in (PACKAGE / sub).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert offenders == []


def test_only_the_registry_names_redis_keys() -> None:
    # Key names look like "<prefix>:{...}" or "<prefix>:<kind>:"; outside tpr_ws/registry/
    # nothing may build one (a second copy of a key name drifts from the first).
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "registry":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if ":{" in text or re.match(r"tpr(-ws)?:[\w{]", text) or text == ":meta":
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {text!r}")
    assert offenders == []
