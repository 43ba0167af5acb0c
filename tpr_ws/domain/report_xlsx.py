"""The analysis workbook: the ward table (`outputs.ward_table_xlsx`) plus a "Summary" sheet with
the report's facts, written so that one analysis always gives the same bytes (the workbook's
dates and the zip entries' times are the analysis time, not the time of the download)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from tpr_ws.domain.outputs import as_text, ward_table_xlsx
from tpr_ws.domain.report import ReportFacts
from tpr_ws.domain.tpr import TprResult

SHEET = "Summary"
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _text(sheet: Worksheet, row: int, column: int, value: Any, *, bold: bool = False) -> Cell:
    """A cell holding `value`; text is always stored as text (never read as a formula)."""
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    as_text([cell])
    if bold:
        cell.font = Font(bold=True)
    return cell


def _pairs(sheet: Worksheet, row: int, title: str, pairs: list[tuple[str, str]]) -> int:
    _text(sheet, row, 1, title, bold=True)
    for k, (label, value) in enumerate(pairs, row + 1):
        _text(sheet, k, 1, label)
        _text(sheet, k, 2, value)
    return row + len(pairs) + 2


def write_summary(sheet: Worksheet, facts: ReportFacts) -> None:
    """The report's facts on one sheet: parameters, results, distribution, top wards,
    data quality, rule and audit."""
    _text(sheet, 1, 1, f"Malaria test positivity rate: {facts.state}", bold=True).font = Font(
        bold=True, size=14
    )
    _text(sheet, 2, 1, facts.subtitle)
    _text(sheet, 3, 1, "State TPR (pooled)", bold=True)
    _text(sheet, 3, 2, f"{facts.headline} ({facts.headline_detail})", bold=True)
    row = _pairs(sheet, 5, "Parameters", facts.parameters)
    row = _pairs(sheet, row, "Results", facts.results)
    row = _pairs(sheet, row, "Ward TPR distribution (wards per band)",
                 [(band, f"{n:,}") for band, n in facts.histogram])  # fmt: skip
    _text(sheet, row, 1, "Highest TPR wards", bold=True)
    for col, head in enumerate(("#", "LGA", "Ward", "TPR", "Tested", "Positive"), 1):
        _text(sheet, row + 1, col, head, bold=True)
    for k, w in enumerate(facts.top_wards, row + 2):
        for col, value in enumerate((w.rank, w.lga, w.ward, w.tpr, w.tested, w.positive), 1):
            _text(sheet, k, col, value)
    row += len(facts.top_wards) + 3
    _text(sheet, row, 1, "Data quality", bold=True)
    for k, note in enumerate(facts.quality, row + 1):
        _text(sheet, k, 1, note)
    row += len(facts.quality) + 2
    _text(sheet, row, 1, "Rule", bold=True)
    _text(sheet, row + 1, 1, facts.rule).alignment = Alignment(wrap_text=False)
    _pairs(sheet, row + 3, "Audit", facts.audit)
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 40
    for column in "CDEF":
        sheet.column_dimensions[column].width = 14


def analysis_xlsx(result: TprResult, facts: ReportFacts, computed_at: float) -> bytes:
    """The ward table (first sheet) and the Summary sheet, with reproducible bytes."""
    moment = datetime.fromtimestamp(computed_at, tz=UTC).replace(tzinfo=None, microsecond=0)

    def add_summary(workbook: Workbook) -> None:
        write_summary(workbook.create_sheet(SHEET), facts)
        workbook.properties.created = moment
        workbook.properties.modified = moment

    return stable_zip(ward_table_xlsx(result, before_save=add_summary), moment)


def stable_zip(data: bytes, moment: datetime) -> bytes:
    """The same zip with every entry dated `moment` (zip times are otherwise 'now'), and the
    workbook's 'modified' property too."""
    stamp = (max(1980, moment.year), moment.month, moment.day, moment.hour, moment.minute,
             moment.second - moment.second % 2)  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' when saving
                body = _MODIFIED.sub(rf"\g<1>{moment:%Y-%m-%dT%H:%M:%SZ}\g<2>".encode(), body)
            dst.writestr(entry, body)
    return out.getvalue()
