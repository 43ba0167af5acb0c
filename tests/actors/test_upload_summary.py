"""The upload summary of real parsed files: what the chat says about split columns."""

from __future__ import annotations

from tpr_ws.actors.messages import upload_summary
from tpr_ws.domain.overview import describe_dataset
from tpr_ws.domain.sample.generator import generate
from tpr_ws.domain.sample.layout import ZERO_FILLED_COLUMN
from tpr_ws.domain.schema import DHIS2_NAMES
from tpr_ws.domain.workbook import parse_workbook


def summary_of(defects: frozenset[str], layout: str = "A") -> str:
    made = generate(layout, "tiny", seed=5, defects=defects)
    ingested = parse_workbook(made.data, made.file_name)
    overview = describe_dataset(ingested.frame, ingested.report.to_dict())
    return upload_summary(made.file_name, overview)


def test_split_columns_that_disagree_are_named_by_ward_and_month() -> None:
    text = summary_of(frozenset({"zero_filled_split_pair"}))
    line = next(x for x in text.splitlines() if DHIS2_NAMES[ZERO_FILLED_COLUMN] in x)
    assert "split over 2 columns" in line and "blank and 0 mean not reported" in line
    assert "3 rows they report the same number, counted once" in line
    assert "Data-quality finding:** on 3 rows the columns report different numbers and their " \
           "sum is counted" in line  # fmt: skip
    assert "(Demsa, Adamawa): 2024-" in line
    assert "counted twice" not in text and "first column" not in text


def test_rows_read_is_explained_beside_the_rows_kept() -> None:
    text = summary_of(frozenset({"duplicate_rows", "totals_row"}))
    kept = int(text.split(" is loaded: ")[1].split(" ")[0].replace(",", ""))
    line = next(x for x in text.splitlines() if x.startswith("- Rows read from the file"))
    read = int(line.split(": ")[1].split(";")[0].replace(",", ""))
    assert read > kept
    assert f"the {kept:,} rows above are what is left after cleaning" in line
    assert f"({read - kept:,} rows removed: see the lines below)" in line
