"""An independent TPR oracle: DOMAIN.md's rule applied row by row in plain Python.

Written from the specification, not from tpr_ws.domain.tpr: it walks the tidy frame's records
one at a time and follows the rule's numbered steps literally. Tests compare the vectorised
implementation against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

SINGLE_AGES = ("u5", "o5", "pw")


def ages_of(age: str) -> tuple[str, ...]:
    """The single age groups an age choice adds up ("all" is the three together)."""
    return SINGLE_AGES if age == "all" else (age,)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def merge_cells(cells: list[float | None]) -> float | None:
    """DOMAIN.md's rule for one row of an indicator split over several columns, read literally:
    blank and 0 are "not reported"; one report is used; equal reports count once; different
    reports count their sum (a negative among them is kept instead, so the row stays excluded).
    Nothing reported: 0 if the file wrote a 0, else blank."""
    reports = [c for c in cells if not is_blank(c) and c != 0]
    if not reports:
        return 0.0 if any(not is_blank(c) for c in cells) else None
    if len(set(reports)) == 1:
        return reports[0]
    negatives = [r for r in reports if r < 0]
    if negatives:
        return min(negatives)
    total = 0.0
    for report in reports:
        total += report
    return total


@dataclass
class MethodOnRow:
    tested: float
    positive: float
    usable: bool
    defective: bool


def method_on_row(record: dict[str, Any], method: str, age: str) -> MethodOnRow | None:
    """Step 2 and 3 for one method on one row; None when the method is absent."""
    tested_cells = [record[f"{method}_tested_{a}"] for a in ages_of(age)]
    positive_cells = [record[f"{method}_positive_{a}"] for a in ages_of(age)]
    if all(is_blank(cell) for cell in tested_cells):
        return None  # all tested cells blank: the method is absent on this row
    tested = 0.0
    for cell in tested_cells:
        if not is_blank(cell):
            tested += cell
    positive = 0.0
    for cell in positive_cells:
        if not is_blank(cell):
            positive += cell  # a blank positive counts 0
    negative = False
    for cell in tested_cells + positive_cells:
        if not is_blank(cell) and cell < 0:
            negative = True
    defective = negative or positive > tested
    usable = (not defective) and tested > 0 and 0 <= positive <= tested
    return MethodOnRow(tested, positive, usable, defective)


@dataclass
class Ward:
    tested: float = 0.0
    positive: float = 0.0
    rdt_tested: float = 0.0
    rdt_positive: float = 0.0
    mic_tested: float = 0.0
    mic_positive: float = 0.0
    rows_at_level: int = 0
    reporting_rows: int = 0
    excluded_rows: int = 0
    facilities: set[str] = field(default_factory=set)

    @property
    def tpr(self) -> float | None:
        return 100.0 * self.positive / self.tested if self.tested > 0 else None


@dataclass
class OracleResult:
    wards: dict[tuple[str, str], Ward]
    rows: int
    facilities_named: bool

    @property
    def state_tpr(self) -> float | None:
        tested = sum(w.tested for w in self.wards.values())
        positive = sum(w.positive for w in self.wards.values())
        return 100.0 * positive / tested if tested > 0 else None

    @property
    def wards_no_facility(self) -> int:
        return sum(1 for w in self.wards.values() if w.rows_at_level == 0)

    @property
    def wards_no_usable_tests(self) -> int:
        return sum(1 for w in self.wards.values() if w.rows_at_level and w.tpr is None)


def oracle_tpr(frame: pd.DataFrame, state: str, level: str, age: str) -> OracleResult:
    """Ward figures for `state`, facility `level` ("All" for every level) and `age`.

    Every ward a row places in the state is listed, whatever its facilities' level; only the
    rows at `level` count. A file without facility names (all "") does not count facilities.
    """
    wards: dict[tuple[str, str], Ward] = {}
    rows = 0
    named = False
    for record in frame.to_dict("records"):
        if record["state"] != state:
            continue
        ward = wards.setdefault((record["lga"], record["ward"]), Ward())
        if record["facility"] != "":
            named = True
        if level != "All" and record["facility_level"] != level:
            continue
        rows += 1
        ward.rows_at_level += 1
        ward.facilities.add(record["facility"])
        _add_row(ward, record, age)
    return OracleResult(wards, rows, named or not wards)


def _add_row(ward: Ward, record: dict[str, Any], age: str) -> None:
    """Steps 2-4 of the rule for one row."""
    rdt = method_on_row(record, "rdt", age)
    mic = method_on_row(record, "mic", age)
    if (rdt is not None and rdt.defective) or (mic is not None and mic.defective):
        ward.excluded_rows += 1
    rdt_ok = rdt is not None and rdt.usable
    mic_ok = mic is not None and mic.usable
    if rdt_ok and (not mic_ok or rdt.tested >= mic.tested):  # type: ignore[union-attr]
        assert rdt is not None
        ward.rdt_tested += rdt.tested
        ward.rdt_positive += rdt.positive
        ward.tested += rdt.tested
        ward.positive += rdt.positive
        ward.reporting_rows += 1
    elif mic_ok:
        assert mic is not None
        ward.mic_tested += mic.tested
        ward.mic_positive += mic.positive
        ward.tested += mic.tested
        ward.positive += mic.positive
        ward.reporting_rows += 1


def assert_agrees(frame: pd.DataFrame, state: str, level: str, age: str) -> None:
    """compute_tpr's ward table and summary equal the oracle's figures for this choice."""
    from tpr_ws.domain.tpr import compute_tpr

    assert_result_matches(compute_tpr(frame, state, level, age), oracle_tpr(frame, state, level,
                          age))  # fmt: skip


def assert_result_matches(result: Any, expected: OracleResult) -> None:
    """A TprResult's ward table and summary equal the oracle's figures: every ward, no other."""
    state, level, age = result.state, result.level.value, result.age.value
    table = result.wards
    got_keys = list(zip(table["LGA"], table["Ward"], strict=True))
    assert got_keys == sorted(expected.wards), (state, level, age)
    for row in table.to_dict("records"):
        ward = expected.wards[(row["LGA"], row["Ward"])]
        where = (state, level, age, row["LGA"], row["Ward"])
        if ward.tpr is None:
            assert math.isnan(row["TPR"]), where
        else:
            assert math.isclose(row["TPR"], ward.tpr, rel_tol=1e-9), where
        assert row["Tested"] == ward.tested, where
        assert row["Positive"] == ward.positive, where
        assert row["RDT_Tested"] == ward.rdt_tested, where
        assert row["RDT_Positive"] == ward.rdt_positive, where
        assert row["Microscopy_Tested"] == ward.mic_tested, where
        assert row["Microscopy_Positive"] == ward.mic_positive, where
        if expected.facilities_named:
            assert row["Facilities"] == len(ward.facilities), where
        else:
            assert math.isnan(row["Facilities"]), where
        assert row["Reporting_Rows"] == ward.reporting_rows, where
        assert row["Excluded_Rows"] == ward.excluded_rows, where
        assert (row["State"], row["Facility_Level"], row["Age_Group"]) == (state, level, age)
    assert_summary_agrees(result.summary, expected)


def assert_summary_agrees(summary: dict[str, Any], expected: OracleResult) -> None:
    """The summary's pooled figure and ward counts equal the oracle's."""
    state_tpr = expected.state_tpr
    if state_tpr is None:
        assert summary["state_tpr"] is None
    else:
        assert math.isclose(summary["state_tpr"], state_tpr, rel_tol=1e-12)
    with_data = [w for w in expected.wards.values() if w.tpr is not None]
    assert summary["wards_total"] == len(expected.wards)
    assert summary["wards_with_data"] == len(with_data)
    assert summary["wards_no_facility"] == expected.wards_no_facility
    assert summary["wards_no_usable_tests"] == expected.wards_no_usable_tests
    assert summary["quality"]["excluded_rows"] == sum(
        w.excluded_rows for w in expected.wards.values()
    )
    reporting = sum(w.reporting_rows for w in expected.wards.values())
    assert summary["quality"]["rows_without_data"] == expected.rows - reporting
