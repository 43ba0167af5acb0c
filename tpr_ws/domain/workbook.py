"""Workbook ingestion: an uploaded NMEP export (any of layouts A-D) to the tidy dataset.

`parse_workbook` finds the data sheet and header row, recognises the columns, cleans names,
levels, periods and counts, drops the totals row and exact duplicates, and reports what it did
(`IngestReport`). A file it cannot use raises `UploadRejected` listing every problem at once:
code "unusable_workbook" (missing columns, no data rows) or "unreadable" (damaged workbook).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from tpr_ws.domain import schema, tidy
from tpr_ws.domain.coverage import Coverage, coverage_of
from tpr_ws.domain.headers import HeaderMap, find_header_row
from tpr_ws.domain.identity import identity_frame
from tpr_ws.domain.ingest_report import IngestReport, completeness, layout_of
from tpr_ws.domain.problems import header_problems
from tpr_ws.domain.safety import detect_format
from tpr_ws.domain.sheets import Book, open_book
from tpr_ws.domain.splits import Merged, merge_columns, split_findings
from tpr_ws.errors import ErrorCode, UploadRejected

_GEOGRAPHY = (schema.STATE, schema.LGA, schema.WARD, schema.FACILITY)


@dataclass(frozen=True)
class Ingested:
    """The tidy frame (exactly `schema.TIDY_COLUMNS`) and what ingestion did to get it."""

    frame: pd.DataFrame
    report: IngestReport


def parse_workbook(data: bytes, file_name: str) -> Ingested:
    """Parse an upload (xlsx, xls or csv, told apart by its bytes) into the tidy dataset."""
    file_format = detect_format(data, file_name)
    book = open_book(data, file_format)
    sheet, header_row, header_map = choose_sheet(book)
    grid = book.grid(sheet, header_row + 1)
    context = _sheet_context(book, sheet, header_row)
    problems = header_problems(header_map)
    if not _has_data(grid):
        problems.append(f"There are no data rows below the header row (row {header_row + 1}).")
    if problems:
        raise UploadRejected([*problems, context], code=ErrorCode.UNUSABLE_WORKBOOK)
    built = _build(grid, header_map)
    if built.frame.empty:
        reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in built.dropped.items())
        raise UploadRejected(
            [f"None of the {len(grid)} data rows could be used ({reasons}).", context],
            code=ErrorCode.UNUSABLE_WORKBOOK,
        )
    report = _report(file_name, file_format, sheet, header_row, header_map, len(grid), built)
    return Ingested(built.frame, report)


def choose_sheet(book: Book) -> tuple[str, int, HeaderMap]:
    """The sheet whose header row recognises the most columns (decoys like `pivot` lose)."""
    best: tuple[str, int, HeaderMap] | None = None
    for name in book.sheet_names:
        row, header_map = find_header_row(book.head(name))
        if best is None or header_map.score > best[2].score:
            best = (name, row, header_map)
    if best is None:
        raise UploadRejected(["The workbook has no sheets."], code=ErrorCode.UNUSABLE_WORKBOOK)
    return best


def _sheet_context(book: Book, sheet: str, header_row: int) -> str:
    names = ", ".join(f"'{n}'" for n in book.sheet_names)
    return f"Sheet tried: '{sheet}' (header row {header_row + 1}); sheets in the file: {names}."


def _has_data(grid: pd.DataFrame) -> bool:
    """Whether any cell below the header holds something (stops at the first such column)."""
    return any(bool((grid[c].notna() & (grid[c] != "")).any()) for c in grid.columns)


@dataclass(frozen=True)
class _Built:
    frame: pd.DataFrame
    dropped: dict[str, int]
    splits: list[dict[str, Any]]
    warnings: list[str]
    coverage: Coverage


def _build(grid: pd.DataFrame, header_map: HeaderMap) -> _Built:
    """The tidy frame from the data rows, with the drop counts and warnings."""
    warnings: list[str] = []
    coverage = coverage_of(header_map)
    raw = _raw_counts(grid, header_map, warnings)
    geo = pd.DataFrame(
        {
            r: tidy.text_column(grid[header_map.roles[r]])
            for r in _GEOGRAPHY
            if r in header_map.roles
        }
    )
    period = tidy.periods(
        _column(grid, header_map, "period_code"), _column(grid, header_map, "period_name"),
        grid.index,
    )  # fmt: skip
    empty = (geo == "").all(axis=1) & period.eq("") & raw.isna().all(axis=1)
    dropped = {"empty_row": int(empty.sum())}
    drop = _drop_unplaced(geo, raw, empty, dropped, warnings)
    no_period = period.eq("") & ~drop & coverage.has_period  # no period column: "not given"
    dropped["missing_period"] = int(no_period.sum())
    if no_period.any():
        warnings.append(f"{int(no_period.sum())} rows had no readable period and were left out.")
    keep = ~(drop | no_period)
    counts, splits = _indicators(raw[keep], header_map, coverage)
    level = _column(grid, header_map, "level")
    names = identity_frame(geo[keep], None if level is None else level[keep], warnings)
    frame = pd.concat([names, period[keep].astype("str").rename(schema.PERIOD), counts], axis=1)
    frame = frame[list(schema.TIDY_COLUMNS)]
    unique = ~frame.duplicated().to_numpy()
    dropped["duplicate"] = int((~unique).sum())
    frame = frame[unique].reset_index(drop=True)
    splits = {c: Merged(m.values, m.same[unique], m.summed[unique]) for c, m in splits.items()}
    headers = {c: [header_map.raw[p].strip() for p in header_map.indicators[c]] for c in splits}
    found = split_findings(frame, splits, headers)
    return _Built(frame, {k: v for k, v in dropped.items() if v}, found, warnings, coverage)


def _column(grid: pd.DataFrame, header_map: HeaderMap, role: str) -> pd.Series | None:
    pos = header_map.roles.get(role)
    return None if pos is None else grid[pos]


def _unplaced(geo: pd.DataFrame) -> pd.Series:
    return (geo == "").any(axis=1)


def _drop_unplaced(
    geo: pd.DataFrame,
    counts: pd.DataFrame,
    empty: pd.Series,
    dropped: dict[str, int],
    warnings: list[str],
) -> pd.Series:
    """Rows that cannot be placed in a facility: the totals row, and rows missing a name."""
    candidates = tidy.org_unit_blank_or_total(geo) & ~empty
    others = ~candidates & ~empty
    totals = tidy.equals_column_sums(counts, candidates, others) & candidates
    unplaced = (_unplaced(geo) | candidates) & ~totals & ~empty
    dropped["totals_row"] = int(totals.sum())
    dropped["missing_geography"] = int(unplaced.sum())
    if unplaced.any():
        warnings.append(
            f"{int(unplaced.sum())} rows had a blank state, LGA, ward or facility "
            "and were left out."
        )
    return empty | totals | unplaced


def _raw_counts(grid: pd.DataFrame, header_map: HeaderMap, warnings: list[str]) -> pd.DataFrame:
    """Every raw indicator column as float64, keyed by its position in the sheet."""
    positions = sorted(p for ps in header_map.indicators.values() for p in ps)
    counts = {p: tidy.to_counts(grid[p]) for p in positions}
    not_numbers = sum(c.not_numbers for c in counts.values())
    if not_numbers:
        warnings.append(f"{not_numbers} count cells were not numbers and were read as blank.")
    return pd.DataFrame({p: c.values for p, c in counts.items()}, index=grid.index)


def _indicators(
    raw: pd.DataFrame, header_map: HeaderMap, coverage: Coverage
) -> tuple[pd.DataFrame, dict[str, Merged]]:
    """The twelve count columns, and the merge of every indicator held by several columns. An
    indicator the file lacks, or whose tested/positive partner it lacks, is all-NaN."""
    columns: dict[str, pd.Series] = {}
    splits: dict[str, Merged] = {}
    for column in schema.INDICATOR_COLUMNS:
        positions = header_map.indicators.get(column)
        if not positions or column in coverage.unpaired:
            columns[column] = pd.Series(float("nan"), index=raw.index, dtype="float64")
            continue
        merged = merge_columns([raw[p] for p in positions])
        columns[column] = merged.values
        if len(positions) > 1:
            splits[column] = merged
    return pd.DataFrame(columns, index=raw.index), splits


def _report(
    file_name: str,
    file_format: str,
    sheet: str,
    header_row: int,
    header_map: HeaderMap,
    rows_read: int,
    built: _Built,
) -> IngestReport:
    frame = built.frame
    return IngestReport(
        file_name=file_name,
        file_format=file_format,
        sheet=sheet,
        header_row=header_row + 1,
        layout=layout_of(header_map, header_row),
        rows_read=rows_read,
        rows_kept=len(frame),
        dropped=built.dropped,
        totals_row_dropped=built.dropped.get("totals_row", 0) > 0,
        duplicates_removed=built.dropped.get("duplicate", 0),
        positives_gt_tested=_positives_gt_tested(frame),
        negative_values=int((frame[list(schema.INDICATOR_COLUMNS)] < 0).sum().sum()),
        unknown_wards=int(frame[schema.WARD].str.lower().eq("unknown").sum()),
        split_indicators=built.splits,
        level_derived_from_name=built.coverage.has_facility and not built.coverage.has_level,
        completeness=completeness(frame),
        warnings=built.warnings,
        coverage=built.coverage.to_dict(),
    )


def _positives_gt_tested(frame: pd.DataFrame) -> int:
    """Rows where any method and age has more positives than tested."""
    over = pd.Series(False, index=frame.index)
    for method in schema.Method:
        for age in schema.SINGLE_AGES:
            tested = frame[schema.count_column(method, "tested", age)]
            positive = frame[schema.count_column(method, "positive", age)]
            over |= positive.gt(tested)
    return int(over.sum())
