"""Per-ward sums the TPR rule needs, computed once per upload, so a choice change is cheap.

The rule decides per facility-month row which method contributes (`tpr.contributions`); a
ward's figures are sums of those contributions. So, at upload, for every ward x facility level
(each level present, and "All") x age group, the six sums (RDT/microscopy tested and positive,
reporting rows, excluded rows) plus the ward's facilities and rows at that level are kept in a
small table. A results turn reads only that table: the national file's 337k rows become about
20k ward-level rows, and a choice change never touches the rows again.

The ward table built from the sums equals `tpr.compute_tpr` on the rows (tests pin it, and both
agree with the row-by-row oracle); each sum adds the same rows in the same order as the
row-level path, so even the floating-point values are identical.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from tpr_ws.domain import schema
from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.tpr import (
    CONTRIBUTION_COLUMNS,
    TprResult,
    WardColumns,
    contributions,
    facilities_named,
    finish_table,
    ward_codes,
)
from tpr_ws.domain.tpr_summary import summarise
from tpr_ws.errors import StateVersionError

FORMAT_VERSION: Final = b"1"
_VERSION_KEY: Final = b"tpr_ws.ward_sums"
ALL_LEVELS: Final = FacilityLevel.ALL.value
_NAMES: Final = ("State", "LGA", "Ward", "Level")


def _column(age: AgeGroup, name: str) -> str:
    return f"{age.value}:{name}"


def build_ward_sums(frame: pd.DataFrame) -> pd.DataFrame:
    """The sums table of a tidy frame: one row per (ward, level) with rows at that level, plus
    one "All" row per ward; rows of a state are contiguous, wards in first-appearance order."""
    ward = ward_codes(frame, [schema.STATE, schema.LGA, schema.WARD])
    n_wards = int(ward.max()) + 1 if len(ward) else 0
    first = np.unique(ward, return_index=True)[1]
    per_age = {age: contributions(frame, age) for age in AgeGroup}
    named = _facilities_named_by_ward(frame, ward, n_wards)
    levels = frame[schema.FACILITY_LEVEL].to_numpy(dtype=object)
    parts = []
    for level in [ALL_LEVELS, *sorted(set(levels.tolist()))]:
        mask = np.ones(len(frame), dtype=bool) if level == ALL_LEVELS else levels == level
        ward_at = ward[mask]
        rows = np.bincount(ward_at, minlength=n_wards)
        keep = rows > 0 if level != ALL_LEVELS else np.ones(n_wards, dtype=bool)
        part: dict[str, Any] = {
            "State": frame[schema.STATE].to_numpy(dtype=object)[first][keep],
            "LGA": frame[schema.LGA].to_numpy(dtype=object)[first][keep],
            "Ward": frame[schema.WARD].to_numpy(dtype=object)[first][keep],
            "Level": np.full(int(keep.sum()), level, dtype=object),
            "ward_index": np.flatnonzero(keep),
            "Rows": rows[keep].astype(np.int64),
            "Facilities": _facilities(frame[mask], ward_at, n_wards, named)[keep],
        }
        for age, values in per_age.items():
            for name in CONTRIBUTION_COLUMNS:
                summed = np.bincount(ward_at, weights=values[name][mask], minlength=n_wards)
                part[_column(age, name)] = summed[keep]
        parts.append(pd.DataFrame(part))
    table = pd.concat(parts, ignore_index=True)
    # Group by state (wards keep their order inside it): a state is then one slice.
    table = table.sort_values(["ward_index"], kind="stable").reset_index(drop=True)
    state_first = table.groupby("State", sort=False)["ward_index"].transform("min")
    order = np.lexsort((table["ward_index"].to_numpy(), state_first.to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    # A ward's place among its state's wards (first-appearance order), for the query side.
    table["Ward_Position"] = (
        table.groupby("State", sort=False)["ward_index"].rank(method="dense").astype(np.int32) - 1
    )
    return table.drop(columns="ward_index")


def _facilities_named_by_ward(frame: pd.DataFrame, ward: np.ndarray, n_wards: int) -> np.ndarray:
    """Per ward, whether its state's rows name facilities (`tpr.facilities_named`)."""
    named = np.zeros(n_wards, dtype=bool)
    for _state, rows in frame.groupby(schema.STATE, sort=False):
        named[np.unique(ward[rows.index.to_numpy()])] = facilities_named(rows)
    return named


def _facilities(rows: pd.DataFrame, ward: np.ndarray, n_wards: int, named: np.ndarray) -> Any:
    """Distinct facilities per ward among `rows` (NaN where the state names none)."""
    facility = ward_codes(rows, [schema.STATE, schema.LGA, schema.WARD, schema.FACILITY])
    width = int(facility.max(initial=0)) + 1
    pairs = np.unique(ward * width + facility)
    counts = np.bincount(pairs // width, minlength=n_wards).astype(np.float64)
    return np.where(named, counts, np.nan)


class WardSums:
    """A decoded sums table as plain arrays, with each state's slice found once: a query is
    array slicing, not a pandas join."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.columns: dict[str, np.ndarray] = {
            name: table[name].to_numpy() for name in table.columns
        }
        states = self.columns["State"]
        self.slices: dict[str, slice] = {}
        if len(states):
            starts = np.flatnonzero(np.r_[True, states[1:] != states[:-1]])
            ends = np.r_[starts[1:], len(states)]
            self.slices = {
                str(states[s]): slice(int(s), int(e)) for s, e in zip(starts, ends, strict=True)
            }

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.columns.values())

    def part(self, state: str, name: str) -> np.ndarray:
        return self.columns[name][self.slices.get(state, slice(0, 0))]


def compute_tpr_from_sums(
    sums: WardSums, state: str, level: FacilityLevel | str, age: AgeGroup | str
) -> TprResult:
    """`tpr.compute_tpr` for one choice, from the sums table alone."""
    level, age = FacilityLevel(level), AgeGroup(age)
    levels = sums.part(state, "Level")
    wards = levels == ALL_LEVELS  # one row per ward, in ward-position order
    at = levels == level.value
    where = sums.part(state, "Ward_Position")[at]
    n_wards = int(wards.sum())

    def spread(name: str, dtype: type) -> np.ndarray:
        out: np.ndarray = np.zeros(n_wards, dtype=dtype)
        out[where] = sums.part(state, name)[at]
        return out

    facilities_of_wards = sums.part(state, "Facilities")[wards]
    named = bool(n_wards == 0 or not np.isnan(facilities_of_wards).all())
    sums_at: dict[str, np.ndarray] = {}
    for name in CONTRIBUTION_COLUMNS:
        kind = np.int64 if name.endswith("_Rows") else np.float64
        sums_at[name] = spread(_column(age, name), kind)
    columns = WardColumns(
        state=sums.part(state, "State")[wards],
        lga=sums.part(state, "LGA")[wards],
        ward=sums.part(state, "Ward")[wards],
        facilities=spread("Facilities", np.int64) if named else np.full(n_wards, np.nan),
        sums=sums_at,
    )
    table = finish_table(columns, level, age)
    rows_at = sums.part(state, "Rows")[at]
    summary = summarise(table, state, level, age, int(rows_at.sum()), int((rows_at > 0).sum()))
    return TprResult(state, level, age, table, summary)


def encode_ward_sums(table: pd.DataFrame) -> bytes:
    """The sums table as a zstd-compressed Arrow IPC stream (names dictionary-encoded)."""
    arrays = []
    fields = []
    for name in table.columns:
        if name in _NAMES:
            arrays.append(pa.array(table[name], pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(table[name].to_numpy()))
        fields.append(pa.field(name, arrays[-1].type))
    schema_ = pa.schema(fields, metadata={_VERSION_KEY: FORMAT_VERSION})
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, schema_, options=options) as writer:
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema_))
    return bytes(sink.getvalue().to_pybytes())


def decode_ward_sums(data: bytes) -> WardSums:
    """`encode_ward_sums`'s bytes back, indexed by state."""
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        table = reader.read_all()
    version = (table.schema.metadata or {}).get(_VERSION_KEY)
    if version != FORMAT_VERSION:
        raise StateVersionError(f"ward sums format {version!r}, expected {FORMAT_VERSION!r}")
    columns: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        if name in _NAMES:
            columns[name] = column.cast(pa.string()).to_numpy(zero_copy_only=False)
        else:
            columns[name] = column.to_numpy()
    return WardSums(pd.DataFrame(columns))
