"""Factories for the plain dicts the workflow reads: describe_dataset's overview and
compute_tpr's summary, shaped exactly as the domain produces them, with realistic numbers."""

from __future__ import annotations

from typing import Any

from tpr_ws.actors.driver import drive_sync
from tpr_ws.actors.events import (
    ComputeResults,
    Effect,
    Event,
    FileUploaded,
    LoadSample,
    Reply,
    ResultsComputed,
)
from tpr_ws.actors.state import Choices, Dataset, Results, Stage, WorkflowState
from tpr_ws.actors.workflow import step
from tpr_ws.domain.analysis import result_key
from tpr_ws.domain.schema import AGE_LABELS, TPR_RULE, AgeGroup

HOST_CLOCK = 1_717_236_120.0  # the host's clock in these tests: 2024-06-01 10:02 UTC

AGE_SHARE = {"u5": 0.35, "o5": 0.55, "pw": 0.10}
STATES = ["Adamawa", "Kaduna", "Kano"]


def _ages(tests: int, rows: int, pw_tests: int | None = None) -> dict[str, Any]:
    ages: dict[str, Any] = {}
    for age, share in AGE_SHARE.items():
        t = int(tests * share) if pw_tests is None or age != "pw" else pw_tests
        with_data = int(rows * (0.53 if t else 0))
        ages[age] = {
            "tests": t,
            "rows_with_data": with_data,
            "pct_rows_with_data": round(100 * with_data / rows, 1) if rows else 0.0,
        }
    total = sum(a["tests"] for a in ages.values())
    ages["all"] = {
        "tests": total,
        "rows_with_data": int(rows * 0.55),
        "pct_rows_with_data": 55.0 if rows else 0.0,
    }
    return ages


def state_entry(
    rows: int = 10_000,
    facilities: int = 868,
    primary_share: float = 0.9,
    tertiary: bool = True,
    lgas: int = 21,
    wards: int = 226,
    pw_tests: int | None = None,
) -> dict[str, Any]:
    """One by_state entry: Primary holds `primary_share` of the rows."""
    tests = rows * 40
    p_rows = int(rows * primary_share)
    t_rows = int((rows - p_rows) * 0.2) if tertiary else 0
    s_rows = rows - p_rows - t_rows
    p_fac = int(facilities * primary_share)
    t_fac = 2 if tertiary else 0
    split = {
        "Primary": (p_rows, p_fac),
        "Secondary": (s_rows, facilities - p_fac - t_fac),
        "Tertiary": (t_rows, t_fac),
        "All": (rows, facilities),
    }
    levels = {}
    for level, (r, f) in split.items():
        t = int(tests * r / rows) if rows else 0
        levels[level] = {"rows": r, "facilities": f, "tests": t, "ages": _ages(t, r, pw_tests)}
    return {
        "rows": rows,
        "lgas": lgas,
        "wards": wards,
        "facilities": facilities,
        "tests": tests,
        "levels": levels,
    }


def make_overview(states: list[str] | dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    by_state = (
        states
        if isinstance(states, dict)
        else {s: state_entry(rows=10_000 + 1_000 * i) for i, s in enumerate(states or STATES)}
    )
    rows = sum(e["rows"] for e in by_state.values())
    return {
        "rows": rows,
        "states": sorted(by_state),
        "lgas": sum(e["lgas"] for e in by_state.values()),
        "wards": sum(e["wards"] for e in by_state.values()),
        "facilities": sum(e["facilities"] for e in by_state.values()),
        "months": {"first": "2024-01", "last": "2024-12", "count": 12},
        "completeness": {"rdt": 53.2, "microscopy": 2.1},
        "quality": {
            "rows_read": rows + 4,
            "duplicates_removed": 3,
            "totals_row_dropped": True,
            "positives_gt_tested": 17,
            "negative_values": 2,
            "unknown_wards": 0,
            "dropped": {"blank state": 1},
        },
        "by_state": by_state,
    }


def make_summary(
    state: str = "Adamawa",
    level: str = "Primary",
    age: str = "u5",
    tested: int = 52_345,
    positive: int = 12_251,
    wards: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    top = [
        {
            "lga": lga,
            "ward": ward,
            "tpr": 88.2 - 3.1 * i,
            "tested": 400 + 10 * i,
            "positive": int((400 + 10 * i) * (88.2 - 3.1 * i) / 100),
        }
        for i, (lga, ward) in enumerate(
            wards or [("Yola North", f"Ward {i}") for i in range(1, 13)]
        )
    ][:10]
    return {
        "state": state,
        "level": level,
        "age": age,
        "age_label": AGE_LABELS[AgeGroup(age)],
        "tested": tested,
        "positive": positive,
        "state_tpr": round(100 * positive / tested, 4) if tested else None,
        "wards_total": 226,
        "wards_with_data": 210 if tested else 0,
        "wards_no_data": 16 if tested else 226,
        "stats": {"mean": 24.1, "median": 22.0, "min": 0.0, "max": 88.2},
        "above_50": 12,
        "above_70": 3,
        "top_wards": top if tested else [],
        "histogram": [{"from": 10 * i, "to": 10 * (i + 1), "count": 20} for i in range(10)],
        "quality": {
            "excluded_rows": 15,
            "wards_with_excluded_rows": 7,
            "reporting_rows": 8_766,
            "rows_without_data": 1_234,
        },
        "rule": TPR_RULE,
    }


def loaded(
    states: list[str] | None = None,
    stage: Stage = Stage.SELECT_STATE,
    choices: Choices | None = None,
) -> WorkflowState:
    """A state with a dataset loaded, at `stage` with `choices`."""
    ov = make_overview(states)
    return WorkflowState(stage, Dataset("blob:abc", "adamawa_2024.xlsx", ov), choices or Choices())


def at_results(
    states: list[str] | None = None, state: str = "Adamawa", level: str = "Primary", age: str = "u5"
) -> WorkflowState:
    s = loaded(states, Stage.RESULTS, Choices(state, level, age))
    return WorkflowState(
        s.stage, s.dataset, s.choices, Results(state, level, age, make_summary(state, level, age))
    )


def host(
    state: WorkflowState, event: Event, sample: dict[str, Any] | None = None
) -> tuple[WorkflowState, list[Effect]]:
    """One turn as the conversation host runs it (the same driver), with ComputeResults and
    LoadSample answered from the factories. Returns every effect produced, in order."""

    def perform(effect: Effect) -> Event | None:
        if isinstance(effect, ComputeResults):
            summary = make_summary(effect.state, effect.level, effect.age)
            key = effect.key or result_key(effect.blob_key, effect.state, effect.level, effect.age)
            return ResultsComputed(effect.state, effect.level, effect.age, summary, key=key,
                                   dataset=effect.blob_key, at=HOST_CLOCK)  # fmt: skip
        if isinstance(effect, LoadSample):
            return FileUploaded("blob:sample", "sample.xlsx", sample or make_overview())
        return None

    driven = drive_sync(step, state, event, perform)
    return driven.state, driven.effects


def replies(effects: list[Effect]) -> list[Reply]:
    return [e for e in effects if isinstance(e, Reply)]
