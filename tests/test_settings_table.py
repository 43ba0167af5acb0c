"""README's configuration table lists every setting `tpr_ws/config.py` reads, and nothing else.

A setting added to `Settings.from_env()` without a row fails here: add the row (full variable
name in backticks, default, meaning) to the table under "## Configuration" in README.md.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tpr_ws import config

ROOT = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"`([A-Z][A-Z0-9_]*[A-Z0-9])`")
_READERS = ("_int", "_float", "_list")  # config.py's typed readers: reader(env, NAME, ...)


def _literal(node: ast.expr) -> str | None:
    """The variable name an argument spells: "NAME" or _PREFIX + "NAME"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Add)
        and isinstance(node.left, ast.Name)
        and node.left.id == "_PREFIX"
        and isinstance(node.right, ast.Constant)
        and isinstance(node.right.value, str)
    ):
        return config._PREFIX + node.right.value
    return None


def read_by_config() -> set[str]:
    """Every environment variable `config.py` reads (`env.get(NAME)`, `_int(env, NAME, ...)`,
    `_float`, `_list`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(Path(config.__file__).read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get":
            arg = node.args[0]
        elif isinstance(func, ast.Name) and func.id in _READERS and len(node.args) > 1:
            arg = node.args[1]
        else:
            continue
        name = _literal(arg)
        if name is not None and name.isupper():
            names.add(name)
    return names


def documented_in_readme() -> set[str]:
    """The variables named in the first column of README's configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in _NAME.findall(row.split("|")[1])}


def test_config_reads_what_the_parser_expects() -> None:
    read = read_by_config()
    assert {"REDIS_URL", "TPR_WS_SECRET", "TPR_WS_LEASE_TTL_MS"} <= read
    # Every Settings field is read from somewhere.
    assert len(read) >= len(config.Settings.__dataclass_fields__)


def test_every_setting_has_a_row_in_the_readme() -> None:
    missing = read_by_config() - documented_in_readme()
    assert not missing, (
        f"config.py reads {sorted(missing)} but README.md's configuration table has no row for "
        "them: add one row per setting (the full variable name in backticks, its default, what "
        "it does) to the table under '## Configuration'"
    )


def test_the_readme_lists_no_setting_that_is_not_read() -> None:
    stale = documented_in_readme() - read_by_config()
    assert not stale, (
        f"README.md's configuration table lists {sorted(stale)}, which config.py does not read: "
        "remove or correct the row (write every variable name in full, e.g. "
        "`TPR_WS_RATE_LIMIT_WINDOW_S`, not `_WINDOW_S`)"
    )
