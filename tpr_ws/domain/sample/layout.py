"""Render the sample generator's truth as one of the four field layouts, with optional defects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.sample.geo import STATES
from tpr_ws.domain.sample.truth import MONTH_NAMES

LAYOUTS: Final = ("A", "B", "C", "D")
SHEET_NAMES: Final = {"A": "raw", "B": "Sheet1", "C": "data", "D": "Sheet 1"}
_PREFIX: Final = {clean: prefix for prefix, clean, _raw in STATES}
_RAW_STATE: Final = {clean: raw for _prefix, clean, raw in STATES}
LEVEL_SPELLINGS: Final = {
    "Primary": ("Primary", "Primary Health Facility", "primary", "PHC"),
    "Secondary": ("Secondary", "Secondary Health Facility", "secondary"),
    "Tertiary": ("Tertiary", "Tertiary Health Facility", "tertiary"),
}
SPLIT_COLUMN: Final = schema.count_column(schema.Method.RDT, "tested", schema.AgeGroup.UNDER_5)
ZERO_FILLED_COLUMN: Final = schema.count_column(schema.Method.RDT, "tested", schema.AgeGroup.OVER_5)


@dataclass
class Sheet:
    """One worksheet: a header and its columns (float arrays, or object arrays of str/num/None)."""

    name: str
    header: list[str]
    columns: list[np.ndarray]
    blank_first_row: bool = False

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def _prefixed(truth: pd.DataFrame, what: str, corrupt_na: bool = False) -> np.ndarray:
    """DHIS2 org-unit names: `ad Adamawa State`, `ad Yola North Local Government Area`, ...
    With `corrupt_na`, LGA and ward names have "na" after a letter written "0" (`Gwa0be`)."""
    prefix = truth[schema.STATE].map(_PREFIX).astype(object)
    if what == "state":
        values = prefix + " " + truth[schema.STATE].map(_RAW_STATE).astype(object)
    elif what == "lga":
        values = prefix + " " + _na(truth[schema.LGA], corrupt_na) + " Local Government Area"
    elif what == "ward":
        ward = truth[schema.WARD].astype(object)
        named = prefix + " " + _na(ward, corrupt_na) + " Ward"
        values = named.where(ward != "Unknown", "Unknown")
    else:
        values = prefix + " " + truth[schema.FACILITY].astype(object)
    return np.asarray(values.to_numpy(), dtype=object)


def _na(names: pd.Series, corrupt: bool) -> pd.Series:
    """Names with DHIS2's "na" -> "0" corruption (only after a letter), if asked."""
    names = names.astype(object)
    return names.str.replace(r"(?<=[A-Za-z])na", "0", regex=True) if corrupt else names


def _period_names(periods: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    year = periods.str.slice(0, 4).astype(int).to_numpy()
    month = periods.str.slice(5, 7).astype(int).to_numpy()
    names = np.asarray([f"{MONTH_NAMES[m - 1]} {y}" for y, m in zip(year, month, strict=True)])
    return names.astype(object), (year * 100 + month).astype(object)


def _levels(truth: pd.DataFrame, rng: np.random.Generator, spellings: bool) -> np.ndarray:
    levels = truth[schema.FACILITY_LEVEL].to_numpy(dtype=object)
    if not spellings:
        return levels.copy()
    out = levels.copy()
    for level, variants in LEVEL_SPELLINGS.items():
        hit = np.flatnonzero(levels == level)
        out[hit] = np.asarray(variants, dtype=object)[rng.integers(0, len(variants), len(hit))]
    return out


def _identity(
    layout: str, truth: pd.DataFrame, levels: np.ndarray, corrupt_na: bool = False
) -> list[tuple[str, np.ndarray]]:
    """The geography, facility and period columns of a layout, in the layout's order."""
    periods = truth[schema.PERIOD]

    def dhis2(what: str) -> np.ndarray:
        return _prefixed(truth, what, corrupt_na)

    if layout == "D":
        years = periods.astype(int).to_numpy().astype(object)
        return [
            ("orgunitlevel2", dhis2("state")),
            ("orgunitlevel3", dhis2("lga")),
            ("Ward", dhis2("ward")),
            ("organisationunit0me", dhis2("facility")),
            ("Facility level", levels),
            ("period0me", years),
        ]
    names, codes = _period_names(periods)
    if layout == "A":
        ownership = np.where(np.arange(len(truth)) % 7 == 3, "Private", "Public").astype(object)
        return [
            ("State", dhis2("state")), ("LGA", dhis2("lga")),
            ("Ward", dhis2("ward")), ("Health Faccility", dhis2("facility")),
            ("level", levels), ("ownership", ownership),
            ("periodname", names), ("periodcode", codes),
        ]  # fmt: skip
    if layout == "B":
        return [
            ("orgunitlevel1", np.full(len(truth), "ng Federal Government", dtype=object)),
            ("orgunitlevel2", dhis2("state")),
            ("orgunitlevel3", dhis2("lga")),
            ("orgunitlevel4", dhis2("ward")),
            ("orgunitlevel5", dhis2("facility")),
            ("periodname", names), ("periodcode", codes),
        ]  # fmt: skip
    state = truth[schema.STATE].replace({"FCT": "Federal Capital Territory"})
    return [
        ("State", state.to_numpy(dtype=object)), ("LGA", truth[schema.LGA].to_numpy(dtype=object)),
        ("WardName", truth[schema.WARD].to_numpy(dtype=object)),
        ("HealthFacility", truth[schema.FACILITY].to_numpy(dtype=object)),
        ("FacilityLevel", levels), ("periodname", names), ("periodcode", codes),
    ]  # fmt: skip


def _text_numbers(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Store a few counts as text, some with stray spaces, as hand-edited exports do."""
    out = values.astype(object)
    filled = np.flatnonzero(~np.isnan(values))
    hits = filled[rng.random(len(filled)) < 0.03]
    for i, row in enumerate(hits):
        number = str(int(values[row]))
        out[row] = f" {number} " if i % 2 else number
    out[np.isnan(values)] = None
    return out


def _counts(
    truth: pd.DataFrame, rng: np.random.Generator, defects: frozenset[str]
) -> list[tuple[str, np.ndarray]]:
    cols: list[tuple[str, np.ndarray]] = []
    for column in schema.INDICATOR_COLUMNS:
        values = truth[column].to_numpy(dtype=np.float64)
        cols.append((schema.DHIS2_NAMES[column], values))
    if "duplicate_header_pair" in defects:
        # A form migration split one indicator into two identically named, complementary columns.
        at = list(schema.INDICATOR_COLUMNS).index(SPLIT_COLUMN)
        values = cols[at][1]
        later = _later(truth)
        cols[at] = (cols[at][0], np.where(later, np.nan, values))
        cols.append((cols[at][0], np.where(later, values, np.nan)))
    if "zero_filled_split_pair" in defects:
        cols = _zero_filled_split(cols, truth, rng)
    if "text_numbers" in defects:
        cols = [(name, _text_numbers(v, rng)) for name, v in cols]
    return cols


def _later(truth: pd.DataFrame) -> np.ndarray:
    """Rows of the second half of the periods (alternate rows when there is one period)."""
    periods = sorted(truth[schema.PERIOD].unique().tolist())
    if len(periods) > 1:
        return np.asarray(truth[schema.PERIOD] >= periods[len(periods) // 2], dtype=bool)
    return np.asarray(np.arange(len(truth)) % 2 == 1, dtype=bool)


def _zero_filled_split(
    cols: list[tuple[str, np.ndarray]], truth: pd.DataFrame, rng: np.random.Generator
) -> list[tuple[str, np.ndarray]]:
    """ZERO_FILLED_COLUMN split in two same-named columns, both filled on every row (zeros
    where unused, as in the Kwara 2020-2025 export); on a few rows both report the same
    number, on a few others two different numbers that add up to the truth."""
    at = list(schema.INDICATOR_COLUMNS).index(ZERO_FILLED_COLUMN)
    values = np.nan_to_num(cols[at][1], nan=0.0)  # the generator's truth holds 0 here too
    later = _later(truth)
    first, second = np.where(later, 0.0, values), np.where(later, values, 0.0)
    candidates = np.flatnonzero(values >= 3)
    picks = rng.choice(candidates, size=min(len(candidates), 6), replace=False)
    same, differ = picks[: len(picks) // 2], picks[len(picks) // 2 :]
    first[same] = second[same] = values[same]
    part = np.floor(values[differ] / 3)
    first[differ], second[differ] = part, values[differ] - part
    cols[at] = (cols[at][0], first)
    cols.append((cols[at][0], second))
    return cols


def _headers(header: list[str], defects: frozenset[str]) -> list[str]:
    out = list(header)
    if "double_space_headers" in defects:
        out = [h.replace(" ≥", "  ≥") if i % 2 else h for i, h in enumerate(out)]
    if "mojibake_headers" in defects:
        # UTF-8 "≥" read as cp1252 and saved again: the CSV copies analysts pass around.
        out = [h.replace("≥", "â‰¥") for h in out]
    return out


def _duplicate_rows(columns: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    n = len(columns[0])
    picks = rng.choice(n, size=max(1, n // 100), replace=False)
    order = np.sort(np.concatenate([np.arange(n), picks]), kind="stable")
    return [c[order] for c in columns]


def _with_totals(columns: list[np.ndarray], n_identity: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for j, col in enumerate(columns):
        if j < n_identity:
            cell: object = "Total" if j == 0 else None
        else:
            cell = float(pd.to_numeric(pd.Series(col, dtype=object), errors="coerce").sum())
        out.append(np.append(col.astype(object), np.asarray([cell], dtype=object)))
    return out


# The columns a partial file lacks, by defect (header names as the layouts write them).
MISSING_COLUMNS: Final = {
    "rdt_only": frozenset(schema.DHIS2_NAMES[c] for c in schema.INDICATOR_COLUMNS if "mic" in c),
    "no_pregnant_women": frozenset(
        schema.DHIS2_NAMES[c] for c in schema.INDICATOR_COLUMNS if c.endswith("_pw")
    ),
    "no_period_column": frozenset({"periodname", "periodcode", "period0me"}),
    "no_facility_column": frozenset(
        {"Health Faccility", "orgunitlevel5", "HealthFacility", "organisationunit0me"}
    ),
}


def _missing(defects: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*(MISSING_COLUMNS[d] for d in defects if d in MISSING_COLUMNS))


def render(
    layout: str, truth: pd.DataFrame, rng: np.random.Generator, defects: frozenset[str]
) -> list[Sheet]:
    """The worksheets of a file in `layout` holding `truth`, with `defects` applied."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    levels = _levels(truth, rng, "level_spellings" in defects)
    ident = _identity(layout, truth, levels, corrupt_na="odd_name_starts" in defects)
    counts = _counts(truth, rng, defects)
    extra: list[tuple[str, np.ndarray]] = []
    if layout == "A":
        llin = truth[schema.count_column(schema.Method.RDT, "positive", schema.AgeGroup.PREGNANT)]
        extra = [
            ("PW who received LLIN", llin.to_numpy(dtype=np.float64)),
            ("Children <5 yrs who received LLIN", np.full(len(truth), np.nan)),
        ]
    ident = [(name, values) for name, values in ident if name not in _missing(defects)]
    counts = [(name, values) for name, values in counts if name not in _missing(defects)]
    named = ident + counts + extra
    header = _headers([name for name, _ in named], defects)
    columns = [values for _, values in named]
    if "duplicate_rows" in defects and len(truth):
        columns = _duplicate_rows(columns, rng)
    if "totals_row" in defects:
        columns = _with_totals(columns, len(ident))
    main = Sheet(SHEET_NAMES[layout], header, columns, blank_first_row=layout == "D")
    if layout != "A":
        return [main]
    return [_pivot_sheet(truth), main, _tpr_sheet(truth)]


def _pivot_sheet(truth: pd.DataFrame) -> Sheet:
    """A decoy: the pivot analysts build next to the data, with indicator-like headers."""
    tested, positive = SPLIT_COLUMN, SPLIT_COLUMN.replace("tested", "positive")
    sums = truth.groupby(schema.STATE)[[tested, positive]].sum()
    labels = [*sums.index.astype(str), "Grand Total"]
    t = [*sums[tested].tolist(), float(sums[tested].sum())]
    p = [*sums[positive].tolist(), float(sums[positive].sum())]
    header = [
        "Row Labels",
        f"Sum of {schema.DHIS2_NAMES[tested]}",
        f"Sum of {schema.DHIS2_NAMES[positive]}",
    ]
    cols = [np.asarray(labels, dtype=object), np.asarray(t), np.asarray(p)]
    return Sheet("pivot", header, cols)


def _tpr_sheet(truth: pd.DataFrame) -> Sheet:
    """A decoy: a hand-made TPR sheet (mixing methods, which this product never does)."""
    states = sorted(truth[schema.STATE].unique().tolist())
    return Sheet(
        "tpr",
        ["State", "TPR (%)"],
        [np.asarray(states, dtype=object), np.full(len(states), 42.0)],
    )
