"""In-memory workbook builders for the ingestion tests (no binary fixtures)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence

import openpyxl

from tpr_ws.domain import schema
from tpr_ws.domain.workbook import Ingested, parse_workbook

Row = list[object]

INDICATOR_HEADERS = [schema.DHIS2_NAMES[c] for c in schema.INDICATOR_COLUMNS]
LAYOUT_C_IDENTITY = [
    "State", "LGA", "WardName", "HealthFacility", "FacilityLevel", "periodname", "periodcode",
]  # fmt: skip


def facility_row(i: int, *, period: tuple[str, int] = ("January 2024", 202401)) -> Row:
    """Row `i` of a small clean layout-C table: distinct facility, counts derived from `i`."""
    tested = [10.0 + i, 20.0 + i, 3.0, None, None, None]
    positive = [4.0, 8.0 + i, 1.0, None, None, None]
    return [
        "Adamawa", "Yola North", f"Ward {chr(65 + i % 26)}", f"Primary Health Centre {i}",
        "Primary", *period, *tested, *positive,
    ]  # fmt: skip


def table(
    n: int = 4,
    *,
    rename: Mapping[str, str] | None = None,
    drop: Sequence[str] = (),
    rows: Sequence[Row] | None = None,
) -> list[Row]:
    """A layout-C sheet (header + `n` rows) with headers renamed or dropped as asked."""
    header: list[str] = [*LAYOUT_C_IDENTITY, *INDICATOR_HEADERS]
    body = [list(r) for r in rows] if rows is not None else [facility_row(i) for i in range(n)]
    keep = [j for j, h in enumerate(header) if h not in drop]
    renamed = [(rename or {}).get(h, h) for h in header]
    return [[renamed[j] for j in keep]] + [[r[j] for j in keep] for r in body]


def mojibake(rows: Sequence[Sequence[object]]) -> list[Row]:
    """Rows whose `≥` became `â‰¥`, as in CSV copies that went through cp1252."""
    return [[c.replace("≥", "â‰¥") if isinstance(c, str) else c for c in r] for r in rows]


def xlsx_bytes(sheets: Mapping[str, Sequence[Sequence[object]]]) -> bytes:
    """An .xlsx workbook with the given sheets (rows of cells; None is an empty cell)."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(
    rows: Sequence[Sequence[object]], *, encoding: str = "utf-8", delimiter: str = ","
) -> bytes:
    """CSV text of `rows` in `encoding`."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if c is None else c for c in row])
    return out.getvalue().encode(encoding)


def rewrite_zip(data: bytes, replace: Mapping[str, bytes]) -> bytes:
    """A copy of a zip (e.g. an .xlsx) with some entries' contents replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = replace.get(info.filename, src.read(info))
            dst.writestr(info.filename, body, compress_type=zipfile.ZIP_DEFLATED)
        for name in set(replace) - set(src.namelist()):
            dst.writestr(name, replace[name], compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def zeros_zip(entry: str, size: int, *, extra: Mapping[str, bytes] | None = None) -> bytes:
    """A zip whose `entry` holds `size` zero bytes, streamed so memory stays small."""
    out = io.BytesIO()
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, body in (extra or {}).items():
            archive.writestr(name, body)
        with archive.open(entry, "w", force_zip64=True) as stream:
            for start in range(0, size, len(chunk)):
                stream.write(chunk[: min(len(chunk), size - start)])
    return out.getvalue()


def declare_size(data: bytes, entry: str, size: int) -> bytes:
    """A zip whose central directory claims `entry` expands to `size` bytes (data unchanged)."""
    name = entry.encode()
    at = data.rfind(b"PK\x01\x02")
    while at != -1:
        name_len = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + name_len] == name:
            field = size.to_bytes(4, "little")
            return data[: at + 24] + field + data[at + 28 :]
        at = data.rfind(b"PK\x01\x02", 0, at)
    raise KeyError(entry)


WORKBOOK_PARTS = {
    "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
    "xl/workbook.xml": b'<?xml version="1.0"?><workbook/>',
}


def parse_xlsx(rows: list[list[object]], sheet: str = "data") -> Ingested:
    """Parse `rows` saved as a one-sheet .xlsx."""
    return parse_workbook(xlsx_bytes({sheet: rows}), "export.xlsx")


def column_of(rows: list[list[object]], header: str) -> int:
    """Position of `header` in a table's header row."""
    return rows[0].index(header)
