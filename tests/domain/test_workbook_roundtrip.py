"""parse(generate(layout, defects)) == truth for every layout, format and defect."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import python_calamine

from tests.domain.xls_writer import xls_bytes
from tpr_ws.domain import schema
from tpr_ws.domain.sample.generator import DEFECT_NAMES, Defects, generate
from tpr_ws.domain.workbook import parse_workbook

LAYOUTS = ("A", "B", "C", "D")


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(schema.ID_COLUMNS), kind="stable").reset_index(drop=True)


def as_xls(xlsx: bytes) -> bytes:
    """The same workbook saved as .xls (cell for cell)."""
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(xlsx))
    return xls_bytes(
        {
            name: book.get_sheet_by_name(name).to_python(skip_empty_area=False)
            for name in book.sheet_names
        }
    )


def assert_parses_to_truth(layout: str, fmt: str, defects: Defects) -> None:
    made = generate(layout, "tiny", seed=7, fmt="csv" if fmt == "csv" else "xlsx", defects=defects)
    data = as_xls(made.data) if fmt == "xls" else made.data
    parsed = parse_workbook(data, made.file_name)
    pd.testing.assert_frame_equal(sorted_frame(parsed.frame), sorted_frame(made.truth))
    assert parsed.report.layout == layout
    assert parsed.report.file_format == fmt


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "xls"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_clean_file_parses_to_its_truth(layout: str, fmt: str) -> None:
    assert_parses_to_truth(layout, fmt, Defects())


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "xls"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_file_with_every_defect_parses_to_its_truth(layout: str, fmt: str) -> None:
    assert_parses_to_truth(layout, fmt, Defects.every())


@pytest.mark.parametrize(
    ("defect", "layout"), [(d, LAYOUTS[i % len(LAYOUTS)]) for i, d in enumerate(DEFECT_NAMES)]
)
def test_each_defect_alone(defect: str, layout: str) -> None:
    assert_parses_to_truth(layout, "xlsx", Defects.of([defect]))


def test_report_of_a_file_with_every_defect() -> None:
    made = generate("A", "tiny", seed=3, fmt="xlsx", defects=Defects.every())
    report = parse_workbook(made.data, made.file_name).report
    truth = made.truth
    assert report.sheet == "raw"
    assert report.totals_row_dropped
    assert report.duplicates_removed > 0
    assert report.negative_values == int((truth[list(schema.INDICATOR_COLUMNS)] < 0).sum().sum())
    assert report.unknown_wards == int(truth["ward"].eq("Unknown").sum())
    assert report.positives_gt_tested > 0
    splits = {s["indicator"]: s for s in report.split_indicators}
    assert list(splits) == [schema.DHIS2_NAMES[c] for c in ("rdt_tested_u5", "rdt_tested_o5")]
    assert splits[schema.DHIS2_NAMES["rdt_tested_u5"]]["rows_summed"] == 0
    assert splits[schema.DHIS2_NAMES["rdt_tested_o5"]]["rows_summed"] > 0
    assert report.rows_kept == len(truth)
    assert report.rows_read == report.rows_kept + sum(report.dropped.values())


def test_layout_b_derives_levels_and_d_reads_years() -> None:
    layout_b = generate("B", "tiny", seed=1)
    assert parse_workbook(layout_b.data, layout_b.file_name).report.level_derived_from_name
    layout_d = generate("D", "tiny", seed=1)
    parsed = parse_workbook(layout_d.data, layout_d.file_name)
    assert parsed.report.header_row == 2
    assert parsed.frame["period"].str.fullmatch(r"\d{4}").all()
