"""compute_tpr agrees with the oracle on generated files, from the truth and after parsing."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.domain.oracle import assert_agrees
from tpr_ws.domain import schema
from tpr_ws.domain.sample.generator import DEFECT_NAMES, Defects, generate
from tpr_ws.domain.workbook import parse_workbook

LEVELS = ("Primary", "Secondary", "Tertiary", "All")
AGES = ("u5", "o5", "pw", "all")
DEFECT_SETS = [
    frozenset(), Defects.every().names, Defects.every(partial=False).names,
    *[frozenset({n}) for n in DEFECT_NAMES],
]  # fmt: skip


def tidy_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[list(schema.TIDY_COLUMNS)].astype({c: "str" for c in schema.ID_COLUMNS})
    return frame.sort_values(list(schema.ID_COLUMNS), ignore_index=True)


@pytest.mark.parametrize("layout", "ABCD")
def test_every_choice_on_tiny_files_with_all_defects(layout: str) -> None:
    truth = generate(layout, "tiny", seed=11, defects=Defects.every()).truth
    for state in sorted(truth[schema.STATE].unique()):
        for level in LEVELS:
            for age in AGES:
                assert_agrees(truth, state, level, age)


# Clean and all-defects files in every layout; each single defect in one layout (rotating).
FAST_CASES = [(layout, d) for layout in "ABCD" for d in DEFECT_SETS[:3]] + [
    ("ABCD"[i % 4], d) for i, d in enumerate(DEFECT_SETS[3:])
]
SLOW_CASES = [
    (layout, d) for layout in "ABCD" for d in DEFECT_SETS if (layout, d) not in FAST_CASES
]


def _case_id(case: tuple[str, frozenset[str]]) -> str:
    return f"{case[0]}-{'+'.join(sorted(case[1])) or 'clean'}"


@pytest.mark.parametrize("case", FAST_CASES, ids=_case_id)
def test_parsed_file_equals_truth_and_oracle(case: tuple[str, frozenset[str]]) -> None:
    check_parsed(*case)


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES, ids=_case_id)
def test_parsed_file_equals_truth_every_layout_and_defect(case: tuple[str, frozenset[str]]) -> None:
    check_parsed(*case)


def check_parsed(layout: str, defects: frozenset[str]) -> None:
    fmt = "csv" if "mojibake_headers" in defects else "xlsx"
    made = generate(layout, "tiny", seed=len(defects), fmt=fmt, defects=defects)
    parsed = parse_workbook(made.data, made.file_name).frame
    pd.testing.assert_frame_equal(tidy_sorted(parsed), tidy_sorted(made.truth), check_dtype=False)
    state = sorted(parsed[schema.STATE].unique())[0]
    for level, age in (("All", "all"), ("Primary", "u5"), ("Secondary", "pw")):
        assert_agrees(parsed, state, level, age)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_state_size_file_parses_and_agrees_on_a_sample(fmt: str) -> None:
    made = generate("D" if fmt == "csv" else "A", "state", seed=2, fmt=fmt,
                    defects=Defects.every(partial=False))  # fmt: skip
    parsed = parse_workbook(made.data, made.file_name).frame
    pd.testing.assert_frame_equal(tidy_sorted(parsed), tidy_sorted(made.truth), check_dtype=False)
    for level, age in (("Primary", "u5"), ("All", "all"), ("Tertiary", "pw")):
        assert_agrees(parsed, "Adamawa", level, age)
