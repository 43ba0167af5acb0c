"""The TPR rule clause by clause (DOMAIN.md), plus random frames checked against the oracle."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.domain.oracle import assert_agrees
from tests.domain.tidy_rows import tidy
from tpr_ws.domain import schema
from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.tpr import compute_tpr


def only_ward(frame: pd.DataFrame, age: str = "u5", level: str = "All") -> dict[str, object]:
    wards = compute_tpr(frame, "Adamawa", level, age).wards
    assert len(wards) == 1
    return dict(wards.iloc[0])


def test_tie_between_methods_takes_rdt() -> None:
    frame = tidy([{"rdt_tested_u5": 10, "rdt_positive_u5": 2, "mic_tested_u5": 10,
                   "mic_positive_u5": 8}])  # fmt: skip
    ward = only_ward(frame)
    assert (ward["RDT_Tested"], ward["RDT_Positive"]) == (10, 2)
    assert (ward["Microscopy_Tested"], ward["Microscopy_Positive"]) == (0, 0)
    assert ward["TPR"] == 20.0


def test_method_with_more_tests_wins_with_both_numbers() -> None:
    frame = tidy([{"rdt_tested_u5": 10, "rdt_positive_u5": 9, "mic_tested_u5": 40,
                   "mic_positive_u5": 4}])  # fmt: skip
    ward = only_ward(frame)
    assert (ward["Tested"], ward["Positive"], ward["TPR"]) == (40, 4, 10.0)
    assert ward["RDT_Tested"] == 0


def test_blank_positive_with_tests_counts_zero() -> None:
    ward = only_ward(tidy([{"rdt_tested_u5": 25}]))
    assert (ward["Tested"], ward["Positive"], ward["TPR"]) == (25, 0, 0.0)
    assert ward["Reporting_Rows"] == 1


def test_method_absent_when_all_tested_blank() -> None:
    # Positives without any tested cell: the method is absent, the row gives no data.
    ward = only_ward(tidy([{"rdt_positive_u5": 5}]))
    assert math.isnan(ward["TPR"])
    assert (ward["Tested"], ward["Reporting_Rows"], ward["Excluded_Rows"]) == (0, 0, 0)


def test_excluded_row_still_contributes_through_the_other_method() -> None:
    frame = tidy([{"rdt_tested_u5": 50, "rdt_positive_u5": 60, "mic_tested_u5": 5,
                   "mic_positive_u5": 1}])  # fmt: skip
    ward = only_ward(frame)
    assert (ward["Tested"], ward["Positive"]) == (5, 1)
    assert ward["Microscopy_Tested"] == 5
    assert (ward["Excluded_Rows"], ward["Reporting_Rows"]) == (1, 1)


def test_negative_count_excludes_the_method() -> None:
    frame = tidy([{"rdt_tested_u5": 10, "rdt_tested_o5": -2, "rdt_positive_u5": 3}])
    ward = only_ward(frame, age="all")
    assert math.isnan(ward["TPR"])
    assert ward["Excluded_Rows"] == 1
    # The u5 choice alone does not look at the negative o5 cell.
    assert only_ward(frame, age="u5")["TPR"] == 30.0


def test_state_figure_is_pooled_not_mean_of_ward_rates() -> None:
    frame = tidy([
        {"ward": "A", "rdt_tested_u5": 100, "rdt_positive_u5": 10},
        {"ward": "B", "rdt_tested_u5": 10, "rdt_positive_u5": 9},
    ])  # fmt: skip
    summary = compute_tpr(frame, "Adamawa", "All", "u5").summary
    assert summary["state_tpr"] == 100 * 19 / 110  # unrounded: rounded once where shown
    assert summary["stats"]["mean"] == 50.0  # (10 + 90) / 2, reported only as a statistic


def test_ward_identity_is_state_lga_and_ward() -> None:
    frame = tidy([
        {"lga": "Yola North", "ward": "Central", "rdt_tested_u5": 10, "rdt_positive_u5": 1},
        {"lga": "Mubi South", "ward": "Central", "rdt_tested_u5": 10, "rdt_positive_u5": 9},
        {"state": "Kano", "lga": "Yola North", "ward": "Central", "rdt_tested_u5": 10},
    ])  # fmt: skip
    wards = compute_tpr(frame, "Adamawa", "All", "u5").wards
    assert list(zip(wards["LGA"], wards["Ward"], wards["TPR"], strict=True)) == [
        ("Mubi South", "Central", 90.0),
        ("Yola North", "Central", 10.0),
    ]


def test_ward_without_data_is_listed_with_no_tpr() -> None:
    frame = tidy([{"ward": "A", "rdt_tested_u5": 10}, {"ward": "B"}])
    result = compute_tpr(frame, "Adamawa", "All", "u5")
    assert list(result.wards["Ward"]) == ["A", "B"]
    assert math.isnan(result.wards["TPR"].iloc[1])
    assert result.summary["wards_no_data"] == 1


def test_every_ward_of_the_state_is_listed_at_every_level() -> None:
    frame = tidy([
        {"ward": "A", "facility_level": "Primary", "rdt_tested_u5": 10},
        {"ward": "B", "facility_level": "Secondary", "rdt_tested_u5": 10},
        {"ward": "C", "facility_level": "Secondary"},
    ])  # fmt: skip
    secondary = compute_tpr(frame, "Adamawa", FacilityLevel.SECONDARY, "u5")
    table = secondary.wards
    assert list(table["Ward"]) == ["A", "B", "C"]
    assert list(table["Facilities"]) == [0, 1, 1]
    assert math.isnan(table["TPR"].iloc[0]) and table["Tested"].iloc[0] == 0
    summary = secondary.summary
    assert (summary["wards_total"], summary["wards_with_data"]) == (3, 1)
    assert (summary["wards_no_facility"], summary["wards_no_usable_tests"]) == (1, 1)
    tertiary = compute_tpr(frame, "Adamawa", FacilityLevel.TERTIARY, "u5")
    assert list(tertiary.wards["Facilities"]) == [0, 0, 0]
    assert tertiary.summary["wards_no_facility"] == 3 and tertiary.summary["state_tpr"] is None


def test_facilities_are_not_counted_when_the_file_names_none() -> None:
    frame = tidy([{"ward": "A", "facility": "", "rdt_tested_u5": 10}, {"ward": "B",
                  "facility": "", "facility_level": "Secondary"}])  # fmt: skip
    result = compute_tpr(frame, "Adamawa", "Primary", "u5")
    assert result.wards["Facilities"].isna().all()
    assert result.summary["facilities_counted"] is False
    assert (result.summary["wards_no_facility"], result.summary["wards_total"]) == (1, 2)


def test_all_ages_sums_the_three_groups() -> None:
    frame = tidy([{"rdt_tested_u5": 10, "rdt_tested_o5": 20, "rdt_tested_pw": 5,
                   "rdt_positive_u5": 5, "rdt_positive_pw": 1}])  # fmt: skip
    ward = only_ward(frame, age=AgeGroup.ALL)
    assert (ward["Tested"], ward["Positive"]) == (35, 6)


def test_summary_shape_and_histogram() -> None:
    frame = tidy([{"ward": w, "rdt_tested_u5": 10, "rdt_positive_u5": p}
                  for w, p in (("A", 10), ("B", 7), ("C", 0))])  # fmt: skip
    summary = compute_tpr(frame, "Adamawa", "All", "u5").summary
    assert summary["above_50"] == 2 and summary["above_70"] == 1
    assert [b["count"] for b in summary["histogram"]] == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]
    assert summary["histogram"][-1] == {"from": 100, "to": None, "count": 1}
    assert [w["ward"] for w in summary["top_wards"]] == ["A", "B", "C"]
    assert summary["rule"] == schema.TPR_RULE
    assert summary["age_label"] == "Under 5"


def test_unknown_state_gives_an_empty_result() -> None:
    summary = compute_tpr(tidy([{"rdt_tested_u5": 1}]), "Kano", "All", "all").summary
    assert summary["wards_total"] == 0 and summary["state_tpr"] is None
    assert summary["stats"]["mean"] is None


def test_input_frame_is_not_modified() -> None:
    frame = tidy([{"rdt_tested_u5": 10, "rdt_positive_u5": 20}])
    before = frame.copy()
    compute_tpr(frame, "Adamawa", "All", "all")
    pd.testing.assert_frame_equal(frame, before)


# Cells as DHIS2 leaves them: mostly blank, small counts, zeros, and a few negatives.
_cell = st.one_of(
    st.none(), st.none(), st.integers(0, 30).map(float), st.integers(-3, -1).map(float)
)


@st.composite
def _frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    rows = []
    for _ in range(n):
        row: dict[str, object] = {
            "lga": draw(st.sampled_from(["Yola North", "Mubi South"])),
            "ward": draw(st.sampled_from(["Central", "Karewa", "Gwanabe"])),
            "facility": draw(st.sampled_from(["PHC Bako", "General Hospital Yola"])),
            "facility_level": draw(st.sampled_from(["Primary", "Secondary", "Tertiary"])),
        }
        for column in schema.INDICATOR_COLUMNS:
            row[column] = draw(_cell)
        if draw(st.booleans()):  # a tie between methods
            row["mic_tested_u5"] = row["rdt_tested_u5"]
        rows.append(row)
    return tidy(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=_frames(),
    level=st.sampled_from(list(FacilityLevel)),
    age=st.sampled_from(list(AgeGroup)),
)
def test_random_frames_agree_with_the_oracle(
    frame: pd.DataFrame, level: FacilityLevel, age: AgeGroup
) -> None:
    assert_agrees(frame, "Adamawa", level.value, age.value)
