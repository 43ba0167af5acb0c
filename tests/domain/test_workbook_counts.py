"""Workbook ingestion: the count quirks (duplicate header pairs, totals row, text numbers,
negative values, positives > tested) and the report's data-quality figures."""

from __future__ import annotations

import math

import pytest

from tests.domain.factories import column_of, parse_xlsx, table
from tpr_ws.domain import schema

U5_TESTED = schema.DHIS2_NAMES["rdt_tested_u5"]
U5_POSITIVE = schema.DHIS2_NAMES["rdt_positive_u5"]


def split_pair(rows: list[list[object]], overlap: bool) -> list[list[object]]:
    """Move the RDT <5 tested values of the odd rows into a second, same-named column."""
    at = column_of(rows, U5_TESTED)
    out = [[*rows[0], U5_TESTED]]
    for i, row in enumerate(rows[1:]):
        moved = row[at] if i % 2 else None
        kept = row[at] if (overlap or not i % 2) else None
        out.append([*row[:at], kept, *row[at + 1 :], moved])
    return out


def test_complementary_duplicate_headers_are_merged() -> None:
    ingested = parse_xlsx(split_pair(table(), overlap=False))
    assert ingested.frame["rdt_tested_u5"].tolist() == [10.0, 11.0, 12.0, 13.0]
    (split,) = ingested.report.split_indicators
    assert (split["indicator"], split["columns"]) == (U5_TESTED, 2)
    assert (split["rows_same_number"], split["rows_summed"], split["summed_in"]) == (0, 0, [])


def test_the_same_number_in_both_columns_counts_once() -> None:
    ingested = parse_xlsx(split_pair(table(), overlap=True))
    assert ingested.frame["rdt_tested_u5"].tolist() == [10.0, 11.0, 12.0, 13.0]
    (split,) = ingested.report.split_indicators
    assert (split["rows_same_number"], split["rows_summed"]) == (2, 0)


def test_zeros_in_the_unused_column_are_not_reports() -> None:
    # The Kwara export: both columns filled on every row, 0 where a column was not in use.
    rows = split_pair(table(), overlap=False)
    for row in rows[1:]:
        for at in (column_of(rows, U5_TESTED), len(row) - 1):
            row[at] = 0.0 if row[at] is None else row[at]
    ingested = parse_xlsx(rows)
    assert ingested.frame["rdt_tested_u5"].tolist() == [10.0, 11.0, 12.0, 13.0]
    assert ingested.report.split_indicators[0]["rows_summed"] == 0


def test_different_numbers_are_summed_and_named_by_ward_and_month() -> None:
    rows = split_pair(table(), overlap=False)
    at = column_of(rows, U5_TESTED)
    rows[1][-1] = 5.0  # row 1 (Ward A, January 2024): 10 in the first column, 5 in the second
    rows[3][at], rows[3][-1] = 0.0, 0.0  # nothing reported: the file says 0
    ingested = parse_xlsx(rows)
    assert ingested.frame["rdt_tested_u5"].tolist() == [15.0, 11.0, 0.0, 13.0]
    (split,) = ingested.report.split_indicators
    assert (split["rows_summed"], split["wards_summed"]) == (1, 1)
    assert split["summed_in"] == [
        {"state": "Adamawa", "lga": "Yola North", "ward": "Ward A", "rows": 1,
         "months": ["2024-01"]},
    ]  # fmt: skip


def totals(rows: list[list[object]], label: object) -> list[object]:
    sums: list[object] = []
    for j in range(7, len(rows[0])):
        values = [r[j] for r in rows[1:] if isinstance(r[j], float)]
        sums.append(sum(values) if values else None)
    return [label, None, None, None, None, None, None, *sums]


@pytest.mark.parametrize("label", ["Total", None])
def test_totals_row_is_dropped(label: object) -> None:
    rows = table()
    rows.append(totals(rows, label))
    ingested = parse_xlsx(rows)
    assert ingested.report.totals_row_dropped
    assert len(ingested.frame) == 4


def test_a_blank_org_unit_row_that_is_not_a_total_is_reported() -> None:
    rows = table()
    rows.append([None] * 7 + [1.0] * 12)
    report = parse_xlsx(rows).report
    assert not report.totals_row_dropped
    assert report.dropped == {"missing_geography": 1}


def test_numbers_stored_as_text_are_coerced() -> None:
    rows = table(2)
    at = column_of(rows, U5_TESTED)
    rows[1][at], rows[2][at] = " 7 ", "1,204"
    rows[1][at + 1] = "n/a"
    ingested = parse_xlsx(rows)
    assert ingested.frame["rdt_tested_u5"].tolist() == [7.0, 1204.0]
    assert math.isnan(ingested.frame.loc[0, "rdt_tested_o5"])
    assert any("not numbers" in w for w in ingested.report.warnings)


def test_negative_values_are_counted_and_kept() -> None:
    rows = table(2)
    rows[1][column_of(rows, U5_POSITIVE)] = -3.0
    ingested = parse_xlsx(rows)
    assert ingested.report.negative_values == 1
    assert ingested.frame.loc[0, "rdt_positive_u5"] == -3.0


def test_positives_greater_than_tested_are_counted() -> None:
    rows = table(3)
    rows[2][column_of(rows, U5_POSITIVE)] = 500.0
    assert parse_xlsx(rows).report.positives_gt_tested == 1


def test_unknown_wards_are_counted_and_kept() -> None:
    rows = table(3)
    rows[1][2] = "Unknown"
    ingested = parse_xlsx(rows)
    assert ingested.report.unknown_wards == 1
    assert len(ingested.frame) == 3


def test_completeness_per_method() -> None:
    rows = table(4)
    for row in rows[1:3]:
        row[7:10] = [None, None, None]
    rows[1][column_of(rows, schema.DHIS2_NAMES["mic_tested_pw"])] = 2.0
    assert parse_xlsx(rows).report.completeness == {"rdt": 50.0, "microscopy": 25.0}
