"""Ward-level malaria Test Positivity Rate under the product's one rule (DOMAIN.md).

Per facility-month row and method, sum the selected ages' tested and positive cells; a method
is usable when tested > 0 and 0 <= positive <= tested; the row contributes the usable method
with more tests (RDT on a tie), both numbers from that method. Wards pool their rows; the state
figure pools all wards. Vectorised: array operations per method, then a bincount per ward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.schema import AgeGroup, FacilityLevel, Method
from tpr_ws.domain.tpr_summary import summarise


@dataclass(frozen=True)
class TprResult:
    """The ward table (schema.WARD_TABLE_COLUMNS) and a JSON-able summary of one analysis."""

    state: str
    level: FacilityLevel
    age: AgeGroup
    wards: pd.DataFrame
    summary: dict[str, Any]


@dataclass(frozen=True)
class _MethodRows:
    """One method's per-row sums over the selected ages, and what the rule makes of them."""

    tested: np.ndarray  # 0 where absent
    positive: np.ndarray  # blank positives count 0
    usable: np.ndarray
    flawed: np.ndarray  # present, with a negative cell or positive > tested


def _method_rows(rows: pd.DataFrame, method: Method, age: AgeGroup) -> _MethodRows:
    tested_cols = [schema.count_column(method, "tested", a) for a in age.parts]
    positive_cols = [schema.count_column(method, "positive", a) for a in age.parts]
    tested_cells = rows[tested_cols].to_numpy(dtype=np.float64)
    positive_cells = rows[positive_cols].to_numpy(dtype=np.float64)
    present = ~np.isnan(tested_cells).all(axis=1)
    tested = np.nansum(tested_cells, axis=1)
    positive = np.nansum(positive_cells, axis=1)
    # NaN < 0 is False: blank cells are never negative.
    negative = (tested_cells < 0).any(axis=1) | (positive_cells < 0).any(axis=1)
    flawed = present & (negative | (positive > tested))
    usable = present & ~flawed & (tested > 0)
    return _MethodRows(np.where(present, tested, 0.0), positive, usable, flawed)


CONTRIBUTION_COLUMNS = (
    "RDT_Tested",
    "RDT_Positive",
    "Microscopy_Tested",
    "Microscopy_Positive",
    "Reporting_Rows",
    "Excluded_Rows",
)


def contributions(rows: pd.DataFrame, age: AgeGroup) -> dict[str, np.ndarray]:
    """Per row: the tested/positive each method contributes under the rule, and flags."""
    rdt = _method_rows(rows, Method.RDT, age)
    mic = _method_rows(rows, Method.MICROSCOPY, age)
    use_rdt = rdt.usable & (~mic.usable | (rdt.tested >= mic.tested))
    use_mic = mic.usable & ~use_rdt
    return {
        "RDT_Tested": np.where(use_rdt, rdt.tested, 0.0),
        "RDT_Positive": np.where(use_rdt, rdt.positive, 0.0),
        "Microscopy_Tested": np.where(use_mic, mic.tested, 0.0),
        "Microscopy_Positive": np.where(use_mic, mic.positive, 0.0),
        "Reporting_Rows": (use_rdt | use_mic).astype(np.int64),
        "Excluded_Rows": (rdt.flawed | mic.flawed).astype(np.int64),
    }


def ward_codes(rows: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Dense integer ids of the key combinations, column by column (faster than a groupby)."""
    current = np.zeros(len(rows), dtype=np.int64)
    for key in keys:
        codes, uniques = pd.factorize(rows[key])
        current, _ = pd.factorize(current * (len(uniques) + 1) + codes)
    return np.asarray(current, dtype=np.int64)


def _at_level(rows: pd.DataFrame, level: FacilityLevel) -> np.ndarray:
    if level is FacilityLevel.ALL:
        return np.ones(len(rows), dtype=bool)
    return np.asarray(rows[schema.FACILITY_LEVEL] == level.value, dtype=bool)


@dataclass(frozen=True)
class _Table:
    table: pd.DataFrame
    rows: int  # facility-month rows at the level
    wards_at_level: int  # wards with at least one row at the level


def _table(
    in_state: pd.DataFrame, at_level: np.ndarray, level: FacilityLevel, age: AgeGroup
) -> _Table:
    # Wards within one state: LGA + ward identify them (the state is fixed by the selection).
    ward = ward_codes(in_state, [schema.LGA, schema.WARD])
    n_wards = int(ward.max()) + 1 if len(ward) else 0
    first = np.unique(ward, return_index=True)[1]
    rows, ward_at = in_state[at_level], ward[at_level]
    state = in_state[schema.STATE].to_numpy(dtype=object)[first]
    lga = in_state[schema.LGA].to_numpy(dtype=object)[first]
    ward_names = in_state[schema.WARD].to_numpy(dtype=object)[first]
    facilities = _facilities(rows, ward_at, n_wards, facilities_named(in_state))
    sums: dict[str, np.ndarray] = {}
    for name, values in contributions(rows, age).items():
        summed = np.bincount(ward_at, weights=values, minlength=n_wards)
        # (bincount of no rows gives int64 zeros whatever the weights: cast both ways)
        sums[name] = summed.astype(np.int64 if values.dtype.kind == "i" else np.float64)
    frame = finish_table(WardColumns(state, lga, ward_names, facilities, sums), level, age)
    present = int((np.bincount(ward_at, minlength=n_wards) > 0).sum())
    return _Table(frame, len(rows), present)


@dataclass(frozen=True)
class WardColumns:
    """A state's wards (first-appearance order) and their summed contributions."""

    state: np.ndarray
    lga: np.ndarray
    ward: np.ndarray
    facilities: np.ndarray
    sums: dict[str, np.ndarray]  # CONTRIBUTION_COLUMNS


def finish_table(columns: WardColumns, level: FacilityLevel, age: AgeGroup) -> pd.DataFrame:
    """The ward table (schema.WARD_TABLE_COLUMNS) from per-ward sums, sorted by LGA, ward."""
    order = np.lexsort((columns.ward.astype(str), columns.lga.astype(str)))  # stable
    sums = {name: np.asarray(values)[order] for name, values in columns.sums.items()}
    tested = sums["RDT_Tested"] + sums["Microscopy_Tested"]
    positive = sums["RDT_Positive"] + sums["Microscopy_Positive"]
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.where(tested > 0, 100.0 * positive / tested, np.nan)
    n = len(order)
    table: dict[str, object] = {
        "State": pd.Series(columns.state[order], dtype="str"),
        "LGA": pd.Series(columns.lga[order], dtype="str"),
        "Ward": pd.Series(columns.ward[order], dtype="str"),
        "TPR": tpr,
        "Tested": tested,
        "Positive": positive,
        **sums,
        "Facilities": np.asarray(columns.facilities)[order],
        "Facility_Level": level.value,
        "Age_Group": age.value,
    }
    frame = pd.DataFrame({name: table[name] for name in schema.WARD_TABLE_COLUMNS}, index=range(n))
    return frame


def _facilities(rows: pd.DataFrame, ward: np.ndarray, n_wards: int, counted: bool) -> np.ndarray:
    """Distinct facilities per ward among `rows`, or NaN everywhere when not `counted` (the
    file names no facility)."""
    if not counted:
        return np.full(n_wards, np.nan)
    facility = ward_codes(rows, [schema.LGA, schema.WARD, schema.FACILITY])
    width = int(facility.max(initial=0)) + 1
    pairs = np.unique(ward * width + facility)
    return np.bincount(pairs // width, minlength=n_wards).astype(np.int64)


def facilities_named(rows: pd.DataFrame) -> bool:
    """Whether the rows name their facilities (a file without a facility column does not:
    its facility cells are all "", and facilities are not counted)."""
    return bool(len(rows) == 0 or (rows[schema.FACILITY] != "").any())


def compute_tpr(
    frame: pd.DataFrame, state: str, level: FacilityLevel | str, age: AgeGroup | str
) -> TprResult:
    """TPR per ward of `state` for facility `level` and `age` group, with a summary."""
    level, age = FacilityLevel(level), AgeGroup(age)
    in_state = frame[frame[schema.STATE] == state]
    built = _table(in_state, _at_level(in_state, level), level, age)
    summary = summarise(built.table, state, level, age, built.rows, built.wards_at_level)
    return TprResult(state, level, age, built.table, summary)
