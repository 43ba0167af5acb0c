"""Downloads through a real worker: ward names from the file that look like formulas stay
text in the CSV and the XLSX the analyst opens; the audit names the file's SHA-256."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable

import openpyxl
import pytest

from tests.domain.factories import csv_bytes, facility_row, table
from tests.harness import ChatClient
from tests.transport.conftest import WorkerFactory

pytestmark = pytest.mark.slow

# The hex after the audit's label, and whatever follows it up to the cell's end.
AUDIT_SHA = re.compile(r"SHA-256 of the file\W*(?:</th><td>)?\W*([0-9a-f]{64}[^\s<|]*)")
FORMULA_WARDS = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(1)"]


def _export() -> bytes:
    """A small layout-C export (one state) whose wards are named like formulas."""
    rows = []
    for i in range(8):
        row = facility_row(i)
        row[2] = FORMULA_WARDS[i % len(FORMULA_WARDS)]
        rows.append(row)
    return csv_bytes(table(rows=rows))


async def test_downloaded_tables_hold_formula_like_names_as_text(
    worker_factory: WorkerFactory, client_factory: Callable[[], ChatClient]
) -> None:
    (w,) = worker_factory(1)
    c = client_factory()
    await c.create_session(w.url)
    await c.connect(w.url)
    status, body = await c.upload(w.url, _export(), "wards.csv")
    assert status == 202, body
    await c.wait_stage("select_facility_level")
    await c.say("primary")
    await c.say("under 5")
    await c.wait_stage("results")

    status, data, _ = await c.download(w.url, "results.csv")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert {r["Ward"] for r in rows} == {"'" + name for name in FORMULA_WARDS}
    assert all(float(r["Tested"]) >= 0 for r in rows)  # numbers stay numbers

    status, data, _ = await c.download(w.url, "results.xlsx")
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        assert "<f>" not in book.read("xl/worksheets/sheet1.xml").decode()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    ward, tested = header.index("Ward") + 1, header.index("Tested") + 1
    assert {sheet.cell(r, ward).value for r in range(2, sheet.max_row + 1)} == set(FORMULA_WARDS)
    assert all(sheet.cell(r, tested).data_type == "n" for r in range(2, sheet.max_row + 1))


async def test_the_audit_names_the_sha256_of_the_files_bytes(
    worker_factory: WorkerFactory, client_factory: Callable[[], ChatClient]
) -> None:
    # The dataset's key adds the parse version; the report, in every format, shows the file's.
    (w,) = worker_factory(1)
    c = client_factory()
    data = _export()
    await c.create_session(w.url)
    await c.connect(w.url)
    status, body = await c.upload(w.url, data, "wards.csv")
    assert status == 202, body
    await c.wait_stage("select_facility_level")
    await c.say("primary")
    await c.say("under 5")
    await c.wait_stage("results")
    shown = set()
    for name in ("report.md", "report.html"):
        status, report, _ = await c.download(w.url, name)
        assert status == 200
        found = re.search(
            r"SHA-256 of the file\W*(?:</th><td>)?\W*([0-9a-f]{64}\S*?)[\s<|]", report.decode()
        )
        assert found is not None, name
        shown.add(found.group(1))
    status, book, _ = await c.download(w.url, "results.xlsx")
    assert status == 200
    summary = openpyxl.load_workbook(io.BytesIO(book))["Summary"]
    cells = [[cell.value for cell in row] for row in summary.iter_rows()]
    shown |= {row[1] for row in cells if row[0] == "SHA-256 of the file"}
    assert shown == {hashlib.sha256(data).hexdigest()}
