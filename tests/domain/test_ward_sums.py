"""The precomputed ward sums give exactly compute_tpr's results (and so the oracle's)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.domain.oracle import oracle_tpr
from tpr_ws.domain import schema
from tpr_ws.domain.sample.generator import DEFECT_NAMES, Defects, generate
from tpr_ws.domain.tpr import compute_tpr
from tpr_ws.domain.ward_sums import (
    build_ward_sums,
    compute_tpr_from_sums,
    decode_ward_sums,
    encode_ward_sums,
)
from tpr_ws.domain.workbook import parse_workbook

LEVELS = ("Primary", "Secondary", "Tertiary", "All")
AGES = ("u5", "o5", "pw", "all")
DEFECT_SETS = [frozenset(), Defects.every().names, *[frozenset({n}) for n in DEFECT_NAMES]]


def assert_same_everywhere(frame: pd.DataFrame) -> int:
    """Every state x level x age: the sums path equals the row path, table and summary."""
    sums = decode_ward_sums(encode_ward_sums(build_ward_sums(frame)))
    checked = 0
    for state in sorted(frame[schema.STATE].unique()):
        for level in LEVELS:
            for age in AGES:
                rows = compute_tpr(frame, state, level, age)
                fast = compute_tpr_from_sums(sums, state, level, age)
                pd.testing.assert_frame_equal(fast.wards, rows.wards, check_exact=True)
                assert fast.summary == rows.summary, (state, level, age)
                checked += 1
    return checked


# Clean and all-defects files in every layout; each single defect in one layout (rotating).
CASES = [(layout, d) for layout in "ABCD" for d in DEFECT_SETS[:2]] + [
    ("ABCD"[i % 4], d) for i, d in enumerate(DEFECT_SETS[2:])
]


@pytest.mark.parametrize(
    ("layout", "defects"), CASES, ids=[f"{c[0]}-{'+'.join(sorted(c[1])) or 'clean'}" for c in CASES]
)
def test_sums_equal_rows_on_every_layout_and_defect(layout: str, defects: frozenset[str]) -> None:
    fmt = "csv" if "mojibake_headers" in defects else "xlsx"
    made = generate(layout, "tiny", seed=len(defects) + ord(layout), fmt=fmt, defects=defects)
    parsed = parse_workbook(made.data, made.file_name).frame
    assert assert_same_everywhere(parsed) > 0


def test_sums_agree_with_the_oracle_ward_by_ward() -> None:
    truth = generate("A", "tiny", seed=5, defects=Defects.every()).truth
    sums = decode_ward_sums(encode_ward_sums(build_ward_sums(truth)))
    for state in sorted(truth[schema.STATE].unique()):
        for level in LEVELS:
            for age in AGES:
                expected = oracle_tpr(truth, state, level, age)
                table = compute_tpr_from_sums(sums, state, level, age).wards
                assert list(zip(table["LGA"], table["Ward"], strict=True)) == sorted(expected.wards)
                for row in table.to_dict("records"):
                    ward = expected.wards[(row["LGA"], row["Ward"])]
                    assert (row["Tested"], row["Positive"]) == (ward.tested, ward.positive)


def test_unknown_state_gives_an_empty_table() -> None:
    truth = generate("A", "tiny", seed=1).truth
    sums = decode_ward_sums(encode_ward_sums(build_ward_sums(truth)))
    result = compute_tpr_from_sums(sums, "Atlantis", "All", "all")
    assert result.wards.empty
    assert result.summary == compute_tpr(truth, "Atlantis", "All", "all").summary


def test_the_sums_are_much_smaller_than_the_rows() -> None:
    truth = generate("B", "state", seed=3).truth
    table = build_ward_sums(truth)
    wards = truth.groupby([schema.STATE, schema.LGA, schema.WARD]).ngroups
    levels = truth[schema.FACILITY_LEVEL].nunique()
    assert wards <= len(table) <= wards * (levels + 1)
    assert len(table) * 10 < len(truth)
