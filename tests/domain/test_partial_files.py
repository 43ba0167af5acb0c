"""Partial files: accepted whenever they can answer something, with what they lack said."""

from __future__ import annotations

import pytest

from tests.domain.factories import INDICATOR_HEADERS, facility_row, parse_xlsx, table, xlsx_bytes
from tpr_ws.domain import schema
from tpr_ws.domain.overview import describe_dataset
from tpr_ws.domain.workbook import parse_workbook
from tpr_ws.errors import UploadRejected

PW = [h for h in INDICATOR_HEADERS if "Preg Women" in h]
MICROSCOPY = [h for h in INDICATOR_HEADERS if "Microscopy" in h]


def test_no_pregnant_women_columns() -> None:
    ingested = parse_xlsx(table(drop=PW))
    coverage = ingested.report.coverage
    assert coverage["ages"] == ["u5", "o5"]
    assert coverage["pairs"] == {"rdt": ["u5", "o5"], "mic": ["u5", "o5"]}
    assert ingested.frame["rdt_tested_pw"].isna().all()
    assert ingested.frame["rdt_tested_o5"].tolist() == [20.0, 21.0, 22.0, 23.0]
    assert (
        "No pregnant-women columns: the Pregnant women age group is not available, and All ages "
        "pools under 5 and 5 and over." in coverage["lacks"]
    )


def test_rdt_only_without_pregnant_women() -> None:
    coverage = parse_xlsx(table(drop=[*PW, *MICROSCOPY])).report.coverage
    assert (coverage["methods"], coverage["ages"]) == (["rdt"], ["u5", "o5"])
    assert "No microscopy columns: microscopy is not counted." in coverage["lacks"]


def test_a_tested_column_without_its_positive_column_is_not_used() -> None:
    positive_u5 = schema.DHIS2_NAMES["rdt_positive_u5"]
    ingested = parse_xlsx(table(drop=[positive_u5]))
    assert ingested.frame["rdt_tested_u5"].isna().all()  # a TPR needs both
    assert ingested.report.coverage["pairs"]["rdt"] == ["o5", "pw"]
    assert any(positive_u5 in note for note in ingested.report.coverage["lacks"])


def test_one_pair_is_enough() -> None:
    keep = {schema.DHIS2_NAMES["mic_tested_pw"], schema.DHIS2_NAMES["mic_positive_pw"]}
    coverage = parse_xlsx(table(drop=[h for h in INDICATOR_HEADERS if h not in keep])).report
    assert coverage.coverage["pairs"] == {"rdt": [], "mic": ["pw"]}


def test_no_period_column_months_not_given_duplicates_still_removed() -> None:
    rows = table(3, drop=["periodname", "periodcode"])
    rows.append(list(rows[1]))
    ingested = parse_xlsx(rows)
    assert ingested.frame["period"].tolist() == ["", "", ""]
    assert ingested.report.duplicates_removed == 1
    assert ingested.report.coverage["period"] is False
    overview = describe_dataset(ingested.frame, ingested.report.to_dict())
    assert overview["months"] == {"first": None, "last": None, "count": 0, "given": False}
    assert any(line.startswith("No period column") for line in ingested.report.coverage["lacks"])


def test_no_facility_column_facilities_not_counted_levels_from_the_level_column() -> None:
    rows = [facility_row(i) for i in range(4)]
    rows[3][4] = "Secondary"
    ingested = parse_xlsx(table(rows=rows, drop=["HealthFacility"]))
    frame = ingested.frame
    assert frame["facility"].eq("").all()
    assert frame["facility_level"].tolist() == ["Primary", "Primary", "Primary", "Secondary"]
    overview = describe_dataset(frame, ingested.report.to_dict())
    assert overview["facilities"] is None
    assert overview["by_state"]["Adamawa"]["levels"]["Primary"]["facilities"] is None
    assert overview["by_state"]["Adamawa"]["levels"]["Primary"]["rows"] == 3
    assert "No facility column: facilities are not counted." in ingested.report.coverage["lacks"]


def test_no_facility_and_no_level_column_only_all_levels() -> None:
    ingested = parse_xlsx(table(drop=["HealthFacility", "FacilityLevel"]))
    assert ingested.frame["facility_level"].eq("").all()
    assert ingested.report.coverage["levels_known"] is False
    assert not ingested.report.level_derived_from_name
    assert any("only All levels" in line for line in ingested.report.coverage["lacks"])


@pytest.mark.parametrize(
    ("drop", "reasons"),
    [
        (["WardName", "LGA"], ["Missing geography columns: LGA (LGA or orgunitlevel3); ward"]),
        (INDICATOR_HEADERS[:6], ["No tested/positive pair", "Found 6", "Missing 6"]),
        (
            ["State", *INDICATOR_HEADERS],
            ["Missing geography columns: state", "No indicator column was recognised"],
        ),
    ],
)
def test_only_a_file_that_can_answer_nothing_is_refused(
    drop: list[str], reasons: list[str]
) -> None:
    rows = table(drop=[*drop, "periodname", "periodcode", "HealthFacility"])
    with pytest.raises(UploadRejected) as caught:
        parse_workbook(xlsx_bytes({"data": rows}), "useless.xlsx")
    assert all(reason in caught.value.message for reason in reasons), caught.value.message
    assert "Sheet tried: 'data'" in caught.value.message
