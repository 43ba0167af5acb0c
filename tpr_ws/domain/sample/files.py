"""Serialise the sample generator's sheets as XLSX (a small streaming writer) or CSV bytes.

The XLSX writer emits the minimal SpreadsheetML that Excel, openpyxl and calamine read, with a
shared-strings table like Excel's own files. It exists because openpyxl takes minutes on the
national file; this builds each row with a few string joins and streams it into the zip.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterator
from typing import Final

import numpy as np

from tpr_ws.domain.sample.layout import Sheet

_FIXED_TIME: Final = (1980, 1, 1, 0, 0, 0)  # a fixed zip timestamp keeps output deterministic
_CHUNK: Final = 5000
_NS: Final = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_PKG: Final = "http://schemas.openxmlformats.org/package/2006"
_XML: Final = '<?xml version="1.0" encoding="UTF-8"?>'
_RELS_CT: Final = "application/vnd.openxmlformats-package.relationships+xml"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _letters(n: int) -> list[str]:
    out = []
    for i in range(1, n + 1):
        name = ""
        while i:
            i, rem = divmod(i - 1, 26)
            name = chr(65 + rem) + name
        out.append(name)
    return out


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Strings:
    """The shared-strings table: each distinct text once, cells refer to it by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def cell(self, ref: str, text: str) -> str:
        idx = self.index.setdefault(text, len(self.index))
        return f'<c r="{ref}" t="s"><v>{idx}</v></c>'

    def xml(self) -> str:
        items = "".join(f'<si><t xml:space="preserve">{_escape(s)}</t></si>' for s in self.index)
        return f'<sst {_NS} count="{len(self.index)}" uniqueCount="{len(self.index)}">{items}</sst>'


def _column_cells(col: np.ndarray, letter: str, first_row: int, strings: _Strings) -> list[str]:
    """The XML of one column's cells for consecutive rows ("" for a blank cell)."""
    rows = range(first_row, first_row + len(col))
    if col.dtype.kind == "f":
        return [
            "" if math.isnan(v) else f'<c r="{letter}{r}"><v>{_number(v)}</v></c>'
            for r, v in zip(rows, col.tolist(), strict=True)
        ]
    out: list[str] = []
    for r, v in zip(rows, col.tolist(), strict=True):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append("")
        elif isinstance(v, str):
            out.append(strings.cell(f"{letter}{r}", v))
        else:
            out.append(f'<c r="{letter}{r}"><v>{_number(v)}</v></c>')
    return out


def _sheet_xml(sheet: Sheet, strings: _Strings) -> Iterator[str]:
    letters = _letters(len(sheet.header))
    yield f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}><sheetData>'
    head = 2 if sheet.blank_first_row else 1
    cells = "".join(
        strings.cell(f"{c}{head}", h) for c, h in zip(letters, sheet.header, strict=True)
    )
    yield f'<row r="{head}">{cells}</row>'
    for start in range(0, sheet.n_rows, _CHUNK):
        first = head + 1 + start
        cols = [
            _column_cells(col[start : start + _CHUNK], letter, first, strings)
            for col, letter in zip(sheet.columns, letters, strict=True)
        ]
        yield "".join(
            f'<row r="{first + i}">{"".join(row)}</row>'
            for i, row in enumerate(zip(*cols, strict=True))
        )
    yield "</sheetData></worksheet>"


def _workbook_parts(names: list[str]) -> dict[str, str]:
    sheets = "".join(
        f'<sheet name="{_escape(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, 1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(names) + 1)
    )
    n = len(names)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for i in range(1, n + 1)
    )
    return {
        "[Content_Types].xml": f'{_XML}<Types xmlns="{_PKG}/content-types">'
        f'<Default Extension="rels" ContentType="{_RELS_CT}"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
        f"{overrides}</Types>",
        "_rels/.rels": f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": f'{_XML}<workbook {_NS} xmlns:r="{_REL_NS}">'
        f"<sheets>{sheets}</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": f'{_XML}<Relationships xmlns="{_PKG}/relationships">{rels}'
        f'<Relationship Id="rId{n + 1}" Type="{_REL_NS}/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>',
    }


def _write(zf: zipfile.ZipFile, name: str, chunks: Iterator[str] | str) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as out:
        for chunk in [chunks] if isinstance(chunks, str) else chunks:
            out.write(chunk.encode("utf-8"))


def write_xlsx(sheets: list[Sheet]) -> bytes:
    """The sheets as an .xlsx workbook."""
    buffer = io.BytesIO()
    strings = _Strings()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, xml in _workbook_parts([s.name for s in sheets]).items():
            _write(zf, name, xml)
        for i, sheet in enumerate(sheets, 1):
            _write(zf, f"xl/worksheets/sheet{i}.xml", _sheet_xml(sheet, strings))
        _write(zf, "xl/sharedStrings.xml", strings.xml())
    return buffer.getvalue()


def _csv_value(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return _number(value)
    return value


def write_csv(sheet: Sheet) -> bytes:
    """One sheet as UTF-8 CSV (a blank first line when the sheet has one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if sheet.blank_first_row:
        writer.writerow([""] * len(sheet.header))
    writer.writerow(sheet.header)
    cols = [[_csv_value(v) for v in c.tolist()] for c in sheet.columns]
    writer.writerows(zip(*cols, strict=True))
    return buffer.getvalue().encode("utf-8")
