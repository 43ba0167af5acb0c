"""The upload summary: numbers the chat shows about a dataset, per state, level and age group."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.schema import AgeGroup, FacilityLevel, Method

_QUALITY_COUNTS: Final = (
    "rows_read", "duplicates_removed", "positives_gt_tested", "negative_values", "unknown_wards",
)  # fmt: skip
_LEVELS: Final = (FacilityLevel.PRIMARY, FacilityLevel.SECONDARY, FacilityLevel.TERTIARY)


def _pct(part: float, whole: float) -> float:
    """A share in percent, unrounded (rounded once where it is shown)."""
    return 100.0 * part / whole if whole else 0.0


def _tested_cells(frame: pd.DataFrame, method: Method, ages: tuple[AgeGroup, ...]) -> np.ndarray:
    cols = [schema.count_column(method, "tested", a) for a in ages]
    return frame[cols].to_numpy(dtype=np.float64)


def _nested_ids(frame: pd.DataFrame, keys: list[str]) -> list[np.ndarray]:
    """Integer ids of each key prefix (state; state+LGA; ...): factorising column by column is
    several times faster than grouping on string columns."""
    ids: list[np.ndarray] = []
    current = np.zeros(len(frame), dtype=np.int64)
    for key in keys:
        codes, uniques = pd.factorize(frame[key])
        combined = current * (len(uniques) + 1) + codes
        current, _ = pd.factorize(combined)
        ids.append(current.astype(np.int64))
    return ids


def _distinct(groups: np.ndarray, ids: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the number of distinct ids among its rows (ids are 0..n-1 codes)."""
    seen = np.zeros((n_groups, int(ids.max()) + 1 if len(ids) else 0), dtype=bool)
    seen[groups, ids] = True
    return np.asarray(seen.sum(axis=1), dtype=np.int64)


def _row_ages(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per row and age choice: tests (RDT + microscopy, blanks and negatives as 0) and whether
    the row holds any tested figure for that choice."""
    out: dict[str, np.ndarray] = {}
    for age in schema.SINGLE_AGES:
        cells = np.hstack([_tested_cells(frame, m, (age,)) for m in Method])
        out[f"tests_{age.value}"] = np.where(cells > 0, cells, 0.0).sum(axis=1)
        out[f"has_{age.value}"] = (~np.isnan(cells)).any(axis=1)
    singles = [a.value for a in schema.SINGLE_AGES]
    out["tests_all"] = sum((out[f"tests_{a}"] for a in singles), np.zeros(len(frame)))
    out["has_all"] = np.logical_or.reduce([out[f"has_{a}"] for a in singles])
    return out


def _age_sums(
    per_row: dict[str, np.ndarray], groups: np.ndarray, n_groups: int
) -> dict[str, np.ndarray]:
    return {k: np.bincount(groups, weights=v, minlength=n_groups) for k, v in per_row.items()}


def _slice(rows: int, facilities: int, sums: dict[str, np.ndarray], at: int) -> dict[str, Any]:
    ages = {
        age.value: {
            "tests": round(float(sums[f"tests_{age.value}"][at])),
            "rows_with_data": int(sums[f"has_{age.value}"][at]),
            "pct_rows_with_data": _pct(float(sums[f"has_{age.value}"][at]), rows),
        }
        for age in (*schema.SINGLE_AGES, AgeGroup.ALL)
    }
    return {"rows": rows, "facilities": facilities, "tests": ages["all"]["tests"], "ages": ages}


def _by_state(frame: pd.DataFrame, ids: list[np.ndarray]) -> dict[str, Any]:
    """Per state and per (state, level): rows, distinct units, tests by age; integer group
    codes and bincount keep this a handful of array passes."""
    state_code, states = pd.factorize(frame[schema.STATE])
    n_states, n_levels = len(states), len(_LEVELS) + 1
    level_code = np.full(len(frame), len(_LEVELS), dtype=np.int64)  # unknown levels: only in All
    for i, level in enumerate(_LEVELS):
        level_code[(frame[schema.FACILITY_LEVEL] == level.value).to_numpy(dtype=bool)] = i
    cell = state_code * n_levels + level_code
    n_cells = n_states * n_levels
    per_row = _row_ages(frame)
    cell_sums = _age_sums(per_row, cell, n_cells)
    state_sums = _age_sums(per_row, state_code, n_states)
    cell_rows = np.bincount(cell, minlength=n_cells)
    cell_facs = _distinct(cell, ids[3], n_cells)
    state_units = [_distinct(state_code, ids[k], n_states) for k in (1, 2, 3)]
    state_rows = np.bincount(state_code, minlength=n_states)
    out: dict[str, Any] = {}
    for s in sorted(range(n_states), key=lambda k: str(states[k])):
        levels = {
            level.value: _slice(
                int(cell_rows[s * n_levels + i]), int(cell_facs[s * n_levels + i]),
                cell_sums, s * n_levels + i,
            )
            for i, level in enumerate(_LEVELS)
        }  # fmt: skip
        levels["All"] = _slice(int(state_rows[s]), int(state_units[2][s]), state_sums, s)
        out[str(states[s])] = {
            "rows": int(state_rows[s]),
            "lgas": int(state_units[0][s]),
            "wards": int(state_units[1][s]),
            "facilities": int(state_units[2][s]),
            "tests": levels["All"]["tests"],
            "levels": levels,
        }
    return out


def _quality(report: dict[str, Any]) -> dict[str, Any]:
    quality: dict[str, Any] = {key: int(report.get(key) or 0) for key in _QUALITY_COUNTS}
    quality["totals_row_dropped"] = bool(report.get("totals_row_dropped", False))
    dropped = report.get("dropped") or {}
    quality["dropped"] = {str(k): int(v) for k, v in dict(dropped).items()}
    quality["split_indicators"] = [dict(s) for s in report.get("split_indicators") or []]
    quality["warnings"] = [str(w) for w in report.get("warnings") or []]
    return quality


def _completeness(frame: pd.DataFrame, method: Method) -> float:
    cells = _tested_cells(frame, method, schema.SINGLE_AGES)
    return _pct(float((~np.isnan(cells)).any(axis=1).sum()), float(len(frame)))


def describe_dataset(frame: pd.DataFrame, report: dict[str, Any]) -> dict[str, Any]:
    """The dataset's overview (JSON-able): sizes, months, completeness, quality, per state.

    Completeness is the share of rows with any tested cell for the method (as the ingest
    report counts it). "tests" counts persons
    tested, RDT plus microscopy, over the slice; `report` is the ingest report's dict.
    """
    ids = _nested_ids(frame, [schema.STATE, schema.LGA, schema.WARD, schema.FACILITY])
    periods = frame[schema.PERIOD].dropna().astype(str)
    periods = periods[periods != ""]  # a file without a period column: months not given
    overview = {
        "rows": len(frame),
        "states": sorted(str(s) for s in frame[schema.STATE].unique()),
        "lgas": int(ids[1].max() + 1) if len(frame) else 0,
        "wards": int(ids[2].max() + 1) if len(frame) else 0,
        "facilities": int(ids[3].max() + 1) if len(frame) else 0,
        "months": {
            "first": str(periods.min()) if len(periods) else None,
            "last": str(periods.max()) if len(periods) else None,
            "count": int(periods.nunique()),
            "given": bool(len(periods)) or not len(frame),
        },
        "completeness": {
            "rdt": _completeness(frame, Method.RDT),
            "microscopy": _completeness(frame, Method.MICROSCOPY),
        },
        "quality": _quality(report),
        "by_state": _by_state(frame, ids),
        "coverage": dict(report.get("coverage") or {}),
    }
    if len(frame) and not (frame[schema.FACILITY] != "").any():
        _facilities_not_counted(overview)
    return overview


def _facilities_not_counted(overview: dict[str, Any]) -> None:
    """A file without facility names: every facility count becomes None ("not counted")."""
    overview["facilities"] = None
    for state in overview["by_state"].values():
        state["facilities"] = None
        for level in state["levels"].values():
            level["facilities"] = None
