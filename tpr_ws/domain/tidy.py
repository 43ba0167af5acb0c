"""Column-wise conversions from raw cells to tidy values: counts, names, levels and periods.

All work is vectorised over a column; Python-level functions run once per distinct value only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tpr_ws.domain import names


def text_column(cells: pd.Series) -> pd.Series:
    """Cells as stripped strings (object dtype); blanks become "" and whole-number floats lose
    their ".0". The string work runs on the distinct values only."""
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    text = pd.Series(uniques, dtype=object).astype("str").str.strip().fillna("")
    text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    spread = np.append(text.to_numpy(dtype=object), "")  # code -1 (blank) -> ""
    return pd.Series(spread[codes], index=cells.index, dtype=object)


def map_distinct(values: pd.Series, func: Callable[[object], object]) -> np.ndarray:
    """`func` applied to each distinct value, spread back over the rows (NaN -> None)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return mapped[codes]


def clean_names(text: pd.Series, role: str, prefix: pd.Series) -> pd.Series:
    """Cleaned place or facility names (see `names.clean_name`); `prefix` is each row's state
    code. The cleaning runs once per distinct (code, name) pair."""
    prefix_codes, prefixes = pd.factorize(prefix)
    text_codes, texts = pd.factorize(text)
    code_of, text_of = list(prefixes.astype(str)), list(texts.astype(str))
    width = len(text_of) + 1
    pair_codes, pairs = pd.factorize(prefix_codes.astype(np.int64) * width + text_codes)
    cleaned = np.array(
        [
            names.clean_name(text_of[p % width], role, code_of[p // width])
            if p % width < len(text_of) else ""
            for p in pairs.tolist()
        ],
        dtype=object,
    )  # fmt: skip
    return pd.Series(cleaned[pair_codes], index=text.index, dtype="str")


@dataclass(frozen=True)
class Counts:
    """One indicator column as float64 and the number of cells that were not numbers."""

    values: pd.Series
    not_numbers: int


def to_counts(cells: pd.Series) -> Counts:
    """Numbers from cells that may hold text (" 7 ", "1,234"); blanks and junk become NaN."""
    fast = _plain_numbers(cells)
    if fast is not None:
        return Counts(fast, 0)
    numbers = pd.to_numeric(cells, errors="coerce").astype("float64")
    missing = cells[numbers.isna()]
    missing = missing[missing.notna() & (missing != "")]  # readers give blanks as "" or None
    if missing.empty:
        return Counts(numbers, 0)
    text = missing.astype("str").str.replace(r"[,\s]", "", regex=True)
    text = text[text != ""]
    retried = pd.to_numeric(text, errors="coerce").astype("float64")
    numbers.loc[retried.index] = retried
    return Counts(numbers, int(retried.isna().sum()))


def _plain_numbers(cells: pd.Series) -> pd.Series | None:
    """The cells as float64 when they are only numbers and blanks, else None.

    Spreadsheet readers hand over floats and "" for blanks; this path is ~4x faster than
    `pd.to_numeric` on such columns, which is most of a national file.
    """
    if cells.dtype != object:
        try:
            return cells.astype("float64")
        except (ValueError, TypeError):
            return None
    values = cells.to_numpy()
    blank = pd.isna(values) | (values == "")
    if blank.any():
        values = values.copy()
        values[blank] = np.nan
    try:
        return pd.Series(values.astype("float64"), index=cells.index)
    except (ValueError, TypeError):  # text in the column: take the careful path
        return None


def periods(code: pd.Series | None, name: pd.Series | None, index: pd.Index) -> pd.Series:
    """Periods ("YYYY-MM"/"YYYY") from the code, else the name; "" where neither parses."""
    result = pd.Series("", index=index, dtype="str")
    for cells in (name, code):  # the code, when present, wins
        if cells is None:
            continue
        parsed = pd.Series(map_distinct(cells, names.normalise_period), index=index, dtype="str")
        result = parsed.where(parsed.notna(), result)
    return result.fillna("")


@dataclass(frozen=True)
class Levels:
    """Facility levels and how many rows had to fall back to the facility's name."""

    values: pd.Series
    from_name: int


def facility_levels(level: pd.Series | None, facility: pd.Series | None) -> Levels:
    """Normalised levels; derived from the facility name where there is no usable level cell.
    Without facility names (`facility` None) such rows get "" (no known level)."""
    if facility is None and level is None:
        raise ValueError("facility_levels needs the level cells or the facility names")
    index = facility.index if facility is not None else level.index  # type: ignore[union-attr]
    if facility is None:
        derived = pd.Series("", index=index, dtype=object)
    else:
        derived = pd.Series(
            map_distinct(facility, lambda v: names.level_from_name(str(v))), index=index
        )
    if level is None:
        return Levels(derived.astype("str"), len(index))
    given = pd.Series(
        map_distinct(level, lambda v: names.normalise_level(str(v))), index=level.index
    )
    fallback = given.isna()
    return Levels(given.where(~fallback, derived).astype("str"), int(fallback.sum()))


def org_unit_blank_or_total(geo: pd.DataFrame) -> pd.Series:
    """Rows whose every org-unit cell is blank or says "Total"."""
    hit = pd.Series(True, index=geo.index)
    for column in geo.columns:  # narrowing: after the state column, few rows remain to check
        cells = geo.loc[hit, column]
        flags = map_distinct(cells, lambda v: v == "" or names.is_total(str(v)))
        hit.loc[cells.index] = flags.astype(bool)
    return hit


def equals_column_sums(counts: pd.DataFrame, candidates: pd.Series, others: pd.Series) -> pd.Series:
    """Which candidate rows hold the column sums of the `others` rows (a totals row)."""
    sums = counts[others].sum()
    rows = counts[candidates].fillna(0.0)
    tolerance = 1e-6 * np.maximum(sums.abs(), 1.0)
    match = (rows - sums).abs().le(tolerance).all(axis=1)
    return match.reindex(counts.index, fill_value=False).astype(bool)
