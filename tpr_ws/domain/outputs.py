"""Downloads of one analysis: the ward table as CSV and XLSX (the report is in `report`)."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font

from tpr_ws.domain import figures, schema
from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.tpr import TprResult

_RATE_COLUMNS: Final = ("TPR",)
RATE_DECIMALS: Final = 2  # in the CSV; the XLSX keeps the unrounded value
_COUNT_COLUMNS: Final = (
    "Tested", "Positive", "RDT_Tested", "RDT_Positive", "Microscopy_Tested",
    "Microscopy_Positive", "Facilities", "Reporting_Rows", "Excluded_Rows",
)  # fmt: skip
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9-]+")
# A spreadsheet reads a CSV cell starting with one of these as a formula (OWASP: CSV injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def output_filename(state: str, level: FacilityLevel | str, age: AgeGroup | str, ext: str) -> str:
    """`<State>_TPR_<level>_<age>.<ext>` with only letters, digits, '-' and '_'."""
    safe_state = _UNSAFE.sub("-", state.strip()).strip("-") or "State"
    safe_ext = _UNSAFE.sub("", ext.lstrip(".")) or "txt"
    return f"{safe_state}_TPR_{FacilityLevel(level).value}_{AgeGroup(age).value}.{safe_ext}"


def _display_table(result: TprResult) -> pd.DataFrame:
    """The ward table with unrounded rates and counts as integers (a count the file cannot
    give, such as Facilities without a facility column, is empty)."""
    table = result.wards[list(schema.WARD_TABLE_COLUMNS)].copy()
    for column in _COUNT_COLUMNS:
        values = table[column].to_numpy(dtype=np.float64)
        table[column] = pd.array(np.rint(values), dtype="Int64")
    return table


def csv_text(value: Any) -> Any:
    """A text cell a spreadsheet will not run: a leading = + - @ tab or CR gets a single
    quote in front (numbers are left alone: -1 stays a number)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def ward_table_csv(result: TprResult) -> bytes:
    """The ward table as UTF-8 CSV; TPR rounded once to 2 decimals, as the page rounds it; a
    ward without data has an empty TPR; names that look like formulas are neutralised
    (`csv_text`)."""
    table = _display_table(result)
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].map(csv_text)
    for column in _RATE_COLUMNS:
        table[column] = [figures.fixed(v, RATE_DECIMALS) for v in table[column].tolist()]
    # CRLF rows (RFC 4180): a cell holding a carriage return is then quoted, not cut in two.
    return table.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def as_text(cells: Iterable[Cell]) -> None:
    """Store string cells as strings: openpyxl writes a string starting with '=' as a live
    formula (a ward named `=HYPERLINK(...)` would run in the analyst's spreadsheet)."""
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def ward_table_xlsx(
    result: TprResult, *, before_save: Callable[[Workbook], None] | None = None
) -> bytes:
    """The ward table as an XLSX workbook: bold frozen header, numbers stored as numbers (TPR
    unrounded, shown with 2 decimals). `before_save` may add sheets (the analysis workbook adds
    its Summary)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = "Ward TPR"
    sheet.append(list(schema.WARD_TABLE_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    rate_columns = [schema.WARD_TABLE_COLUMNS.index(c) + 1 for c in _RATE_COLUMNS]
    for row in _display_table(result).itertuples(index=False):
        sheet.append([_cell(v) for v in row])
        for column in rate_columns:
            sheet.cell(sheet.max_row, column).number_format = "0.00"
        as_text(sheet[sheet.max_row])
    if before_save is not None:
        before_save(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
