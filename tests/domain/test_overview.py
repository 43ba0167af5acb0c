"""The dataset overview: the numbers the chat shows, checked by hand on small frames."""

from __future__ import annotations

import json

from tests.domain.tidy_rows import tidy
from tpr_ws.domain import schema
from tpr_ws.domain.overview import describe_dataset
from tpr_ws.domain.sample.generator import Defects, generate


def small() -> dict[str, object]:
    frame = tidy([
        {"lga": "Yola North", "ward": "Karewa", "facility": "PHC Bako", "period": "2024-01",
         "rdt_tested_u5": 10, "rdt_tested_pw": 2, "mic_tested_o5": 3},
        {"lga": "Yola North", "ward": "Karewa", "facility": "PHC Bako", "period": "2024-03"},
        {"lga": "Mubi South", "ward": "Karewa", "facility": "General Hospital Mubi",
         "facility_level": "Secondary", "period": "2024-02", "rdt_tested_o5": 7,
         "rdt_tested_u5": -1},
        {"state": "Kano", "lga": "Dala", "ward": "Gwanabe", "facility": "PHC Dala",
         "period": "2024-02", "rdt_tested_u5": 4},
    ])  # fmt: skip
    return describe_dataset(frame, {"rows_read": 6, "duplicates_removed": 1, "dropped": {"x": 1}})


def test_totals_and_months() -> None:
    view = small()
    assert view["rows"] == 4 and view["states"] == ["Adamawa", "Kano"]
    assert (view["lgas"], view["wards"], view["facilities"]) == (3, 3, 3)
    assert view["months"] == {"first": "2024-01", "last": "2024-03", "count": 3, "given": True}
    assert view["completeness"] == {"rdt": 75.0, "microscopy": 25.0}


def test_quality_from_report_with_defaults() -> None:
    quality = small()["quality"]
    assert quality == {
        "rows_read": 6, "duplicates_removed": 1, "positives_gt_tested": 0, "negative_values": 0,
        "unknown_wards": 0, "totals_row_dropped": False, "dropped": {"x": 1},
        "split_indicators": [], "warnings": [],
    }  # fmt: skip


def test_by_state_levels_and_ages() -> None:
    adamawa = small()["by_state"]["Adamawa"]  # type: ignore[index]
    assert (adamawa["rows"], adamawa["lgas"], adamawa["wards"], adamawa["facilities"]) == (
        3, 2, 2, 2,
    )  # fmt: skip
    assert adamawa["tests"] == 10 + 2 + 3 + 7  # negatives do not count as tests
    primary = adamawa["levels"]["Primary"]
    assert (primary["rows"], primary["facilities"], primary["tests"]) == (2, 1, 15)
    assert primary["ages"]["u5"] == {"tests": 10, "rows_with_data": 1, "pct_rows_with_data": 50.0}
    assert primary["ages"]["o5"]["tests"] == 3
    assert primary["ages"]["all"]["rows_with_data"] == 1
    secondary = adamawa["levels"]["Secondary"]
    assert secondary["ages"]["u5"] == {"tests": 0, "rows_with_data": 1, "pct_rows_with_data": 100.0}
    assert adamawa["levels"]["Tertiary"] == {
        "rows": 0, "facilities": 0, "tests": 0,
        "ages": {a: {"tests": 0, "rows_with_data": 0, "pct_rows_with_data": 0.0}
                 for a in ("u5", "o5", "pw", "all")},
    }  # fmt: skip
    assert adamawa["levels"]["All"]["rows"] == 3


def test_generated_file_overview_matches_truth_and_is_json() -> None:
    truth = generate("A", "tiny", seed=4, defects=Defects.every(partial=False)).truth
    view = describe_dataset(truth, {})
    json.dumps(view)
    assert view["rows"] == len(truth)
    assert (
        view["facilities"]
        == truth.groupby([schema.STATE, schema.LGA, schema.WARD, schema.FACILITY]).ngroups
    )
    by_state = view["by_state"]
    assert sum(s["rows"] for s in by_state.values()) == len(truth)
    for name, state in by_state.items():
        rows = truth[truth[schema.STATE] == name]
        assert state["wards"] == rows.groupby([schema.LGA, schema.WARD]).ngroups
        tested = rows[[c for c in schema.INDICATOR_COLUMNS if "tested" in c]]
        assert state["tests"] == int(tested.clip(lower=0).sum().sum())
        assert (
            sum(state["levels"][lv]["rows"] for lv in ("Primary", "Secondary", "Tertiary"))
            == (state["rows"])
        )
