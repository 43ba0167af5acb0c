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

    @property
    def state_tpr(self) -> float | None:
        tested = sum(w.tested for w in self.wards.values())
        positive = sum(w.positive for w in self.wards.values())
        return 100.0 * positive / tested if tested > 0 else None


def oracle_tpr(frame: pd.DataFrame, state: str, level: str, age: str) -> OracleResult:
    """Ward figures for `state`, facility `level` ("All" for every level) and `age`."""
    wards: dict[tuple[str, str], Ward] = {}
    rows = 0
    for record in frame.to_dict("records"):
        if record["state"] != state:
            continue
        if level != "All" and record["facility_level"] != level:
            continue
        rows += 1
        ward = wards.setdefault((record["lga"], record["ward"]), Ward())
        ward.facilities.add(record["facility"])
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
    return OracleResult(wards, rows)


def assert_agrees(frame: pd.DataFrame, state: str, level: str, age: str) -> None:
    """compute_tpr's ward table and summary equal the oracle's figures for this choice."""
    from tpr_ws.domain.tpr import compute_tpr

    expected = oracle_tpr(frame, state, level, age)
    result = compute_tpr(frame, state, level, age)
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
        assert row["Facilities"] == len(ward.facilities), where
        assert row["Reporting_Rows"] == ward.reporting_rows, where
        assert row["Excluded_Rows"] == ward.excluded_rows, where
        assert (row["State"], row["Facility_Level"], row["Age_Group"]) == (state, level, age)
    summary = result.summary
    state_tpr = expected.state_tpr
    assert summary["state_tpr"] == (None if state_tpr is None else round(state_tpr, 2))
    with_data = [w for w in expected.wards.values() if w.tpr is not None]
    assert summary["wards_total"] == len(expected.wards)
    assert summary["wards_with_data"] == len(with_data)
    assert summary["quality"]["excluded_rows"] == sum(
        w.excluded_rows for w in expected.wards.values()
    )
    reporting = sum(w.reporting_rows for w in expected.wards.values())
    assert summary["quality"]["rows_without_data"] == expected.rows - reporting
