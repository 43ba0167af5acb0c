"""Downloads: ward table CSV/XLSX and file names."""

from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import replace

import openpyxl
import pytest

from tests.domain.tidy_rows import tidy
from tpr_ws.domain import schema
from tpr_ws.domain.markdown import md_escape
from tpr_ws.domain.outputs import (
    output_filename,
    ward_table_csv,
    ward_table_xlsx,
)
from tpr_ws.domain.tpr import TprResult, compute_tpr

HOSTILE = "<img src=x onerror=alert(1)>"


def result() -> TprResult:
    frame = tidy([
        {"ward": "Karewa", "rdt_tested_u5": 3, "rdt_positive_u5": 1},
        {"ward": HOSTILE, "rdt_tested_u5": 10, "rdt_positive_u5": 9},
        {"ward": "A | B", "lga": "Mubi South", "rdt_tested_u5": 4, "rdt_positive_u5": 2},
        {"ward": "Quiet"},
    ])  # fmt: skip
    return compute_tpr(frame, "Adamawa", "Primary", "u5")


@pytest.mark.parametrize(
    ("state", "level", "age", "ext", "expected"),
    [
        ("Adamawa", "Primary", "u5", "csv", "Adamawa_TPR_Primary_u5.csv"),
        ("Akwa Ibom", "All", "all", ".xlsx", "Akwa-Ibom_TPR_All_all.xlsx"),
        ("../../etc/passwd", "Tertiary", "pw", "md", "etc-passwd_TPR_Tertiary_pw.md"),
        ("FCT", "Secondary", "o5", "csv", "FCT_TPR_Secondary_o5.csv"),
    ],
)
def test_output_filename(state: str, level: str, age: str, ext: str, expected: str) -> None:
    assert output_filename(state, level, age, ext) == expected


def test_csv_columns_order_and_rounding() -> None:
    rows = list(csv.reader(io.StringIO(ward_table_csv(result()).decode("utf-8"))))
    assert rows[0] == list(schema.WARD_TABLE_COLUMNS)
    by_ward = {r[2]: r for r in rows[1:]}
    assert [r[1] for r in rows[1:]] == sorted(r[1] for r in rows[1:])
    assert by_ward["Karewa"][3] == "33.33"
    assert by_ward["Karewa"][4:6] == ["3", "1"]
    assert by_ward["Quiet"][3] == ""  # no data: empty, never 0
    assert by_ward[HOSTILE][13:] == ["Primary", "u5"]


def test_xlsx_reopens_with_the_same_values() -> None:
    res = result()
    book = openpyxl.load_workbook(io.BytesIO(ward_table_xlsx(res)))
    sheet = book.active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(schema.WARD_TABLE_COLUMNS)
    for got, (_, want) in zip(rows[1:], res.wards.iterrows(), strict=True):
        assert got[:3] == (want["State"], want["LGA"], want["Ward"])
        if math.isnan(want["TPR"]):
            assert got[3] is None
        else:
            assert math.isclose(got[3], want["TPR"], rel_tol=1e-14)  # unrounded
        assert isinstance(got[4], int) and got[4] == want["Tested"]
    assert all(row[3].number_format == "0.00" for row in sheet.iter_rows(min_row=2))


def test_md_escape_flattens_newlines() -> None:
    assert md_escape("a\nb*c*") == "a b\\*c\\*"


FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(1)", "\tTAB", "\rCR"]


def formula_result() -> TprResult:
    """Wards named like formulas, and a negative count (a number, which must stay one)."""
    rows = [{"ward": w, "rdt_tested_u5": 4, "rdt_positive_u5": 1} for w in FORMULAS]
    rows.append({"ward": "Plain", "lga": "-Dash LGA", "rdt_tested_u5": 2, "rdt_positive_u5": 1})
    res = compute_tpr(tidy(rows), "Adamawa", "Primary", "u5")
    wards = res.wards.copy()
    wards.loc[wards["Ward"] == "Plain", "Tested"] = -1
    return replace(res, wards=wards)


def test_csv_cells_that_look_like_formulas_are_neutralised() -> None:
    body = ward_table_csv(formula_result()).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    header, data = rows[0], rows[1:]
    ward, lga, tested = header.index("Ward"), header.index("LGA"), header.index("Tested")
    wards = {r[ward] for r in data}
    assert wards == {"'" + w for w in FORMULAS} | {"Plain"}
    plain = next(r for r in data if r[ward] == "Plain")
    assert plain[lga] == "'-Dash LGA"
    assert plain[tested] == "-1"  # a negative number stays a number
    for row in data:
        for cell in row:
            # nothing a spreadsheet would run: a leading '-' only on a number
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            if cell.startswith("-"):
                float(cell)


def test_xlsx_stores_names_as_text_and_numbers_as_numbers() -> None:
    data = ward_table_xlsx(formula_result())
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheet_xml = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml  # no formula anywhere
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    ward, tested = header.index("Ward") + 1, header.index("Tested") + 1
    names = {}
    for r in range(2, sheet.max_row + 1):
        cell = sheet.cell(r, ward)
        assert cell.data_type == "s"
        names[cell.value] = sheet.cell(r, tested)
    # The names themselves, unchanged (XML reads a carriage return as a line feed).
    assert set(names) == {w.replace("\r", "\n") for w in FORMULAS} | {"Plain"}
    assert names["Plain"].value == -1 and names["Plain"].data_type == "n"
