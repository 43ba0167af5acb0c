"""Ward-level malaria Test Positivity Rate under the product's one rule (DOMAIN.md).

Per facility-month row and method, sum the selected ages' tested and positive cells; a method
is usable when tested > 0 and 0 <= positive <= tested; the row contributes the usable method
with more tests (RDT on a tie), both numbers from that method. Wards pool their rows; the state
figure pools all wards. Vectorised: a few array operations and one groupby.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.schema import AgeGroup, FacilityLevel, Method
from tpr_ws.domain.tpr_summary import summarise

WARD_KEYS: Final = (schema.STATE, schema.LGA, schema.WARD)


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
    negative = (np.nan_to_num(tested_cells) < 0).any(axis=1) | (
        np.nan_to_num(positive_cells) < 0
    ).any(axis=1)
    flawed = present & (negative | (positive > tested))
    usable = present & ~flawed & (tested > 0)
    return _MethodRows(np.where(present, tested, 0.0), positive, usable, flawed)


def contributions(rows: pd.DataFrame, age: AgeGroup) -> pd.DataFrame:
    """Per row: the tested/positive each method contributes under the rule, and flags."""
    rdt = _method_rows(rows, Method.RDT, age)
    mic = _method_rows(rows, Method.MICROSCOPY, age)
    use_rdt = rdt.usable & (~mic.usable | (rdt.tested >= mic.tested))
    use_mic = mic.usable & ~use_rdt
    return pd.DataFrame(
        {
            "RDT_Tested": np.where(use_rdt, rdt.tested, 0.0),
            "RDT_Positive": np.where(use_rdt, rdt.positive, 0.0),
            "Microscopy_Tested": np.where(use_mic, mic.tested, 0.0),
            "Microscopy_Positive": np.where(use_mic, mic.positive, 0.0),
            "Reporting_Rows": (use_rdt | use_mic).astype(np.int64),
            "Excluded_Rows": (rdt.flawed | mic.flawed).astype(np.int64),
        },
        index=rows.index,
    )


def _facility_key(rows: pd.DataFrame) -> np.ndarray:
    keys = [*WARD_KEYS, schema.FACILITY]
    return rows.groupby(keys, sort=False, observed=True).ngroup().to_numpy()


def select_rows(frame: pd.DataFrame, state: str, level: FacilityLevel) -> pd.DataFrame:
    """The rows of `state` at facility `level` (every level for All)."""
    in_state = frame[frame[schema.STATE] == state]
    if level is not FacilityLevel.ALL:
        in_state = in_state[in_state[schema.FACILITY_LEVEL] == level.value]
    return in_state


def ward_table(
    frame: pd.DataFrame, state: str, level: FacilityLevel, age: AgeGroup
) -> pd.DataFrame:
    """One row per ward of `state` at `level` (schema.WARD_TABLE_COLUMNS), sorted by LGA, ward.

    The state's wards at a level are those with at least one facility of that level; a ward
    without any contributing row has TPR NaN ("no data").
    """
    return _table(select_rows(frame, state, level), level, age)


def _table(in_state: pd.DataFrame, level: FacilityLevel, age: AgeGroup) -> pd.DataFrame:
    wards = in_state[list(WARD_KEYS)].drop_duplicates()
    parts = contributions(in_state, age)
    parts[list(WARD_KEYS)] = in_state[list(WARD_KEYS)]
    parts["_facility"] = _facility_key(in_state)
    grouped = parts.groupby(list(WARD_KEYS), sort=False, observed=True)
    sums = grouped.sum(numeric_only=True).drop(columns="_facility")
    sums["Facilities"] = grouped["_facility"].nunique()
    table = wards.set_index(list(WARD_KEYS)).join(sums).reset_index()
    table["Tested"] = table["RDT_Tested"] + table["Microscopy_Tested"]
    table["Positive"] = table["RDT_Positive"] + table["Microscopy_Positive"]
    tested = table["Tested"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["TPR"] = np.where(tested > 0, 100.0 * table["Positive"] / tested, np.nan)
    table = table.rename(columns={schema.STATE: "State", schema.LGA: "LGA", schema.WARD: "Ward"})
    table["Facility_Level"] = level.value
    table["Age_Group"] = age.value
    for column in ("Facilities", "Reporting_Rows", "Excluded_Rows"):
        table[column] = table[column].astype(np.int64)
    table = table.sort_values(["LGA", "Ward"], kind="stable").reset_index(drop=True)
    return table[list(schema.WARD_TABLE_COLUMNS)]


def compute_tpr(
    frame: pd.DataFrame, state: str, level: FacilityLevel | str, age: AgeGroup | str
) -> TprResult:
    """TPR per ward of `state` for facility `level` and `age` group, with a summary."""
    level, age = FacilityLevel(level), AgeGroup(age)
    rows = select_rows(frame, state, level)
    wards = _table(rows, level, age)
    return TprResult(state, level, age, wards, summarise(wards, state, level, age, len(rows)))
