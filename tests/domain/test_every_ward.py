"""Property: no ward of the state is ever missing from any table, chart count or figure."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.domain.tidy_rows import tidy
from tpr_ws.domain import schema
from tpr_ws.domain.outputs import ward_table_csv
from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.tpr import compute_tpr

_cell = st.one_of(st.none(), st.integers(0, 20).map(float), st.just(-1.0))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """Two states whose wards have facilities at some levels only, and few counts."""
    rows = []
    for _ in range(draw(st.integers(1, 14))):
        row: dict[str, object] = {
            "state": draw(st.sampled_from(["Adamawa", "Kano"])),
            "lga": draw(st.sampled_from(["Yola North", "Mubi South"])),
            "ward": draw(st.sampled_from(["Central", "Karewa", "Gwanabe", "Unknown"])),
            "facility": draw(st.sampled_from(["PHC Bako", "General Hospital Yola", "FMC Yola"])),
            "facility_level": draw(st.sampled_from(["Primary", "Secondary", "Tertiary", ""])),
        }
        for column in ("rdt_tested_u5", "rdt_positive_u5", "mic_tested_pw", "mic_positive_pw"):
            row[column] = draw(_cell)
        rows.append(row)
    return tidy(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=frames(),
    state=st.sampled_from(["Adamawa", "Kano"]),
    level=st.sampled_from(list(FacilityLevel)),
    age=st.sampled_from(list(AgeGroup)),
)
def test_no_ward_of_the_state_is_ever_missing(
    frame: pd.DataFrame, state: str, level: FacilityLevel, age: AgeGroup
) -> None:
    rows = frame[frame[schema.STATE] == state]
    wards = set(zip(rows[schema.LGA], rows[schema.WARD], strict=True))
    at_level = rows if level is FacilityLevel.ALL else rows[rows["facility_level"] == level.value]
    present = set(zip(at_level[schema.LGA], at_level[schema.WARD], strict=True))

    result = compute_tpr(frame, state, level, age)
    table, summary = result.wards, result.summary
    assert set(zip(table["LGA"], table["Ward"], strict=True)) == wards and len(table) == len(wards)
    without = {(r["LGA"], r["Ward"]) for r in table.to_dict("records") if r["Facilities"] == 0}
    assert without == wards - present
    assert summary["wards_total"] == len(wards)
    assert summary["wards_no_facility"] == len(wards - present)
    assert summary["wards_with_data"] + summary["wards_no_facility"] + summary[
        "wards_no_usable_tests"
    ] == len(wards)
    assert sum(b["count"] for b in summary["histogram"]) == summary["wards_with_data"]
    assert summary["wards_no_data"] == len(wards) - summary["wards_with_data"]
    listed = list(csv.DictReader(io.StringIO(ward_table_csv(result).decode())))
    assert {(r["LGA"], r["Ward"]) for r in listed} == wards and len(listed) == len(wards)
