"""What makes a sheet unusable, said in the analyst's words, all at once."""

from __future__ import annotations

from tpr_ws.domain import schema
from tpr_ws.domain.headers import ROLE_LABELS, HeaderMap

_METHOD_NAMES = {schema.Method.RDT: "RDT", schema.Method.MICROSCOPY: "microscopy"}


def _method_columns(method: schema.Method) -> list[str]:
    return [c for c in schema.INDICATOR_COLUMNS if c.startswith(f"{method.value}_")]


def _absent_methods(header_map: HeaderMap) -> list[schema.Method]:
    """Methods none of whose six columns is present."""
    return [
        m for m in schema.Method if not any(c in header_map.indicators for c in _method_columns(m))
    ]


def header_problems(header_map: HeaderMap) -> list[str]:
    """Every reason the recognised header row cannot be used (empty when it can).

    A file may lack one method entirely (e.g. no microscopy columns): that method is then
    simply not reported. Any other gap in the twelve indicator columns is a problem.
    """
    problems: list[str] = []
    absent = _absent_methods(header_map)
    tolerated = set() if len(absent) != 1 else set(_method_columns(absent[0]))
    missing = [
        schema.DHIS2_NAMES[c]
        for c in schema.INDICATOR_COLUMNS
        if c not in header_map.indicators and c not in tolerated
    ]
    if missing:
        listed = "; ".join(f"'{name}'" for name in missing)
        problems.append(f"Missing {len(missing)} indicator columns: {listed}.")
    roles = [label for role, label in ROLE_LABELS.items() if role not in header_map.roles]
    if roles:
        problems.append(f"Missing geography columns: {'; '.join(roles)}.")
    if "period_code" not in header_map.roles and "period_name" not in header_map.roles:
        problems.append("Missing the period column (periodcode or periodname).")
    return problems


def missing_method_warnings(header_map: HeaderMap) -> list[str]:
    """A note for a method the file has no columns for."""
    absent = _absent_methods(header_map)
    if len(absent) != 1:
        return []
    name = _METHOD_NAMES[absent[0]]
    return [f"The file has no {name} columns; {name} is treated as not reported."]
