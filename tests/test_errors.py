"""Errors: they keep their meaning across a process boundary (the parsing pool pickles them),
every code is declared once in tpr_ws/errors.py, documented in docs/PROTOCOL.md, and the page
retries only codes that exist."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

from tpr_ws.errors import (
    CLOSE_CODES,
    RETRYABLE,
    ErrorCode,
    NotFound,
    TprWsError,
    UploadRejected,
)


def test_upload_rejected_survives_pickling_with_every_problem() -> None:
    err = UploadRejected(["first problem", "second problem"], code=ErrorCode.UNUSABLE_WORKBOOK)
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == ["first problem", "second problem"]
    assert back.code == "unusable_workbook"
    assert str(back) == "first problem; second problem"


def test_client_error_keeps_its_code() -> None:
    back = pickle.loads(pickle.dumps(NotFound("gone", code=ErrorCode.UNKNOWN_SESSION)))
    assert back.code == "unknown_session" and back.message == "gone" and back.http_status == 404


# -- every code declared once, documented, and known to the page ------------------------------

ROOT = Path(__file__).resolve().parent.parent
_ROW = re.compile(r"^\| `([a-z_]+)` \|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|$")
_RETRY_TABLE = re.compile(r"AUTO_RETRY\s*=\s*(?:Object\.freeze\()?\{([^}]*)\}")
_JS_CLOSE = re.compile(r"CLOSE_[A-Z_]+\s*=\s*(44\d\d)\b")  # 4000-4399: the page's own


def _documented() -> dict[str, tuple[bool, int | None]]:
    """PROTOCOL.md's error table: code -> (retryable, close code)."""
    rows: dict[str, tuple[bool, int | None]] = {}
    for line in (ROOT / "docs" / "PROTOCOL.md").read_text().splitlines():
        match = _ROW.match(line.strip())
        if match is None:
            continue
        code, _where, retryable, close, _meaning = (g.strip() for g in match.groups())
        assert code not in rows, f"{code} documented twice"
        assert retryable in ("yes", "no"), line
        rows[code] = (retryable == "yes", int(close) if close else None)
    return rows


def test_every_declared_code_is_documented_with_its_close_code_and_retryability() -> None:
    declared = {
        str(c): (c in RETRYABLE, CLOSE_CODES.get(c)) for c in ErrorCode
    }  # fmt: skip
    assert _documented() == declared


def test_every_error_class_has_a_declared_code() -> None:
    classes: list[type[TprWsError]] = [TprWsError]
    for cls in classes:
        classes.extend(cls.__subclasses__())
        assert isinstance(cls.code, ErrorCode), cls


def _string_codes(path: Path) -> list[str]:
    """Places in a module that write an error code as a bare string."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        pairs: list[tuple[object, ast.expr]] = []
        if isinstance(node, ast.keyword):
            pairs.append((node.arg, node.value))
        elif isinstance(node, ast.Assign):
            pairs += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.Dict):
            pairs += [
                (k.value, v) for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant)
            ]  # fmt: skip
        for name, value in pairs:
            if name == "code" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.append(f"{path.relative_to(ROOT)}:{value.lineno}")
    return found


def test_no_error_code_is_written_as_a_bare_string() -> None:
    offenders = [
        place for path in sorted((ROOT / "tpr_ws").rglob("*.py")) for place in _string_codes(path)
    ]
    assert offenders == [], "use an ErrorCode member (tpr_ws/errors.py) instead"


def _static_js() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "tpr_ws" / "static").rglob("*.js")))


def test_the_pages_retry_table_names_exactly_the_retryable_codes() -> None:
    tables = _RETRY_TABLE.findall(_static_js())
    assert len(tables) == 1, "one AUTO_RETRY table in tpr_ws/static"
    keys = {entry.split(":")[0].strip().strip("\"'") for entry in tables[0].split(",")}
    assert keys - {""} == {str(c) for c in RETRYABLE}


def test_the_pages_close_codes_are_the_servers() -> None:
    assert set(map(int, _JS_CLOSE.findall(_static_js()))) == set(CLOSE_CODES.values())
