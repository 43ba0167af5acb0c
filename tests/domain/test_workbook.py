"""Workbook ingestion: one test per quirk, built from small in-memory workbooks."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.domain.factories import (
    INDICATOR_HEADERS,
    csv_bytes,
    facility_row,
    mojibake,
    parse_xlsx,
    rewrite_zip,
    table,
    xlsx_bytes,
)
from tpr_ws.domain import schema
from tpr_ws.domain.workbook import parse_workbook
from tpr_ws.errors import UploadRejected

U5_TESTED = schema.DHIS2_NAMES["rdt_tested_u5"]
U5_POSITIVE = schema.DHIS2_NAMES["rdt_positive_u5"]


def test_frame_has_exactly_the_tidy_columns_and_dtypes() -> None:
    frame = parse_xlsx(table()).frame
    assert tuple(frame.columns) == schema.TIDY_COLUMNS
    assert all(frame[c].dtype == "float64" for c in schema.INDICATOR_COLUMNS)
    assert all(frame[c].dtype == "str" for c in schema.ID_COLUMNS)
    assert frame["period"].eq("2024-01").all()
    assert math.isnan(frame.loc[0, "mic_tested_u5"])


def test_report_accounts_for_every_row() -> None:
    rows = table(6)
    rows.append(rows[1])  # an exact duplicate
    rows.insert(3, [None] * len(rows[0]))  # an empty row
    report = parse_xlsx(rows).report
    assert report.rows_read == 8
    assert report.rows_kept + sum(report.dropped.values()) == report.rows_read
    assert report.dropped == {"empty_row": 1, "duplicate": 1}
    assert report.to_dict()["duplicates_removed"] == 1


def test_blank_first_rows_are_skipped_to_the_header() -> None:
    rows = [[None] * 3, ["Malaria export, Adamawa"], *table()]
    ingested = parse_xlsx(rows)
    assert ingested.report.header_row == 3
    assert len(ingested.frame) == 4


def test_csv_title_line_above_the_header() -> None:
    data = b"Malaria export for Adamawa\r\n\r\n" + csv_bytes(table())
    ingested = parse_workbook(data, "titled.csv")
    assert ingested.report.header_row == 3
    assert len(ingested.frame) == 4


def test_decoy_sheets_are_passed_over() -> None:
    pivot = [["Row Labels", f"Sum of {U5_TESTED}", f"Sum of {U5_POSITIVE}"], ["Adamawa", 5, 2]]
    tpr = [["State", "TPR (%)"], ["Adamawa", 42.0]]
    data = xlsx_bytes({"pivot": pivot, "raw": table(), "tpr": tpr})
    report = parse_workbook(data, "multi.xlsx").report
    assert report.sheet == "raw"


def test_mojibake_and_double_space_headers_are_recognised() -> None:
    rows = mojibake(table())
    rows[0] = [h.replace(" â‰¥", "  â‰¥") for h in rows[0]]  # type: ignore[union-attr]
    frame = parse_workbook(csv_bytes(rows), "copy.csv").frame
    assert frame["rdt_tested_o5"].tolist() == [20.0, 21.0, 22.0, 23.0]


@pytest.mark.parametrize(
    ("rename", "layout"),
    [
        (
            {"State": "orgunitlevel2", "LGA": "orgunitlevel3", "WardName": "Ward",
             "HealthFacility": "organisationunit0me", "FacilityLevel": "Facility level",
             "periodname": "period0me", "periodcode": "ignored"},
            "D",
        ),
        ({"WardName": "Ward", "HealthFacility": "Health Faccility", "FacilityLevel": "level"}, "A"),
        (
            {"State": "orgunitlevel2", "LGA": "orgunitlevel3", "WardName": "orgunitlevel4",
             "HealthFacility": "orgunitlevel5", "FacilityLevel": "notes"},
            "B",
        ),
        ({}, "C"),
    ],
)  # fmt: skip
def test_header_aliases_of_every_layout(rename: dict[str, str], layout: str) -> None:
    ingested = parse_xlsx(table(rename=rename))
    assert ingested.report.layout == layout
    assert ingested.frame["facility"].tolist()[0] == "Primary Health Centre 0"


def test_dhis2_prefixes_and_suffixes_are_cleaned() -> None:
    row = facility_row(0)
    row[:4] = [
        "ad Adamawa State", "ad Yola North Local Government Area", "ad Gwa0be Ward",
        "ad Primary Health Centre Bako",
    ]  # fmt: skip
    fct = facility_row(1)
    fct[0] = "Federal Capital Territory"
    frame = parse_xlsx(table(rows=[row, fct])).frame
    assert frame.loc[0, ["state", "lga", "ward", "facility"]].tolist() == [
        "Adamawa", "Yola North", "Gwanabe", "Primary Health Centre Bako",
    ]  # fmt: skip
    assert frame.loc[1, "state"] == "FCT"


@pytest.mark.parametrize(
    ("given", "level"),
    [
        ("Primary", "Primary"), ("Primary Health Facility", "Primary"), ("primary", "Primary"),
        ("PHC", "Primary"), ("Secondary Health Facility", "Secondary"), ("tertiary", "Tertiary"),
    ],
)  # fmt: skip
def test_level_spellings_are_normalised(given: str, level: str) -> None:
    row = facility_row(0)
    row[4] = given
    assert parse_xlsx(table(rows=[row])).frame.loc[0, "facility_level"] == level


def test_level_is_derived_from_the_name_without_a_level_column() -> None:
    names = [
        "Primary Health Centre Bako", "General Hospital Yola", "Federal Medical Centre Yola",
        "Yola Teaching Hospital", "Cottage Hospital Gombi", "Health Post Karewa",
    ]  # fmt: skip
    rows = [facility_row(i) for i in range(len(names))]
    for row, name in zip(rows, names, strict=True):
        row[3] = name
    ingested = parse_xlsx(table(rows=rows, drop=["FacilityLevel"]))
    assert ingested.report.level_derived_from_name
    assert ingested.frame["facility_level"].tolist() == [
        "Primary", "Secondary", "Tertiary", "Tertiary", "Secondary", "Primary",
    ]  # fmt: skip


def test_cp1252_csv_with_semicolons() -> None:
    rows = mojibake(table(rename={"HealthFacility": "Health Faccility"}))
    rows[1][3] = "Maternité Bako"
    data = csv_bytes(rows, encoding="cp1252", delimiter=";")
    ingested = parse_workbook(data, "export.csv")
    assert ingested.report.file_format == "csv"
    assert ingested.frame.loc[0, "facility"] == "Maternité Bako"


def test_period_name_alone_and_integer_years() -> None:
    monthly = parse_xlsx(table(drop=["periodcode"])).frame
    assert monthly["period"].unique().tolist() == ["2024-01"]
    rows = [facility_row(i, period=("x", 2023)) for i in range(2)]
    yearly = parse_xlsx(table(rows=rows, drop=["periodname"])).frame
    assert yearly["period"].tolist() == ["2023", "2023"]


def test_unusable_workbook_lists_every_problem_at_once() -> None:
    missing = INDICATOR_HEADERS[:3] + INDICATOR_HEADERS[9:]
    rows = table(drop=[*missing, "WardName", "periodname", "periodcode"])
    with pytest.raises(UploadRejected) as caught:
        parse_workbook(xlsx_bytes({"data": rows, "notes": [["hello"]]}), "bad.xlsx")
    text = caught.value.message
    assert caught.value.code == "unusable_workbook"
    assert "No tested/positive pair" in text
    assert all(name in text for name in missing)
    assert "Missing geography columns: ward" in text
    assert "'data'" in text and "'notes'" in text


def test_header_without_data_rows_is_refused() -> None:
    with pytest.raises(UploadRejected, match="no data rows"):
        parse_xlsx(table(0))


def test_a_file_without_microscopy_columns_is_usable() -> None:
    ingested = parse_xlsx(table(drop=[h for h in INDICATOR_HEADERS if "Microscopy" in h]))
    assert ingested.frame["mic_tested_u5"].isna().all()
    assert "No microscopy columns: microscopy is not counted." in ingested.report.coverage["lacks"]


def test_input_frame_order_is_kept() -> None:
    frame = parse_xlsx(table(5)).frame
    expected = [f"Primary Health Centre {i}" for i in range(5)]
    pd.testing.assert_series_equal(
        frame["facility"], pd.Series(expected, name="facility", dtype="str")
    )


def test_csv_with_ragged_rows_is_read() -> None:
    rows = table(3)
    wide = csv_bytes(rows[:2]) + csv_bytes([[*rows[2], "", "extra"]]) + csv_bytes(rows[3:])
    frame = parse_workbook(wide, "ragged.csv").frame
    assert frame["rdt_tested_u5"].tolist() == [10.0, 11.0, 12.0]


def test_damaged_sheet_is_refused_as_unreadable() -> None:
    broken = b'<worksheet><sheetData><row><c t="s"><v>99999</v></c></row></sheetDat'
    data = rewrite_zip(xlsx_bytes({"data": table()}), {"xl/worksheets/sheet1.xml": broken})
    with pytest.raises(UploadRejected) as caught:
        parse_workbook(data, "broken.xlsx")
    assert caught.value.code == "unreadable"
    assert "Sheet 'data'" in caught.value.message


def test_ole2_file_that_is_not_a_workbook_is_refused_as_unreadable() -> None:
    with pytest.raises(UploadRejected) as caught:
        parse_workbook(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000), "memo.xls")
    assert caught.value.code == "unreadable"


def test_blank_level_cells_fall_back_to_the_facility_name() -> None:
    rows = table(2)
    rows[2][3], rows[2][4] = "General Hospital Yola", None
    ingested = parse_xlsx(rows)
    assert ingested.frame["facility_level"].tolist() == ["Primary", "Secondary"]
    assert not ingested.report.level_derived_from_name
    assert any("taken from the facility name" in w for w in ingested.report.warnings)
