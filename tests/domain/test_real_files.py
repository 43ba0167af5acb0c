"""Done when: on every generated layout and defect, each ward's TPR, Tested and Positive equal
the oracle's, for every state x level x age group the file can answer, with no ward missing.

The expected figures come from the generated file itself, read row by row by
`file_oracle` (independent of the parser) and computed by `oracle`; the product's come from
`parse_workbook` and `compute_tpr`.
"""

from __future__ import annotations

import pytest

from tests.domain.file_oracle import read_file
from tests.domain.oracle import assert_result_matches, oracle_tpr
from tpr_ws.domain.sample.generator import DEFECT_NAMES, Defects, generate
from tpr_ws.domain.tpr import compute_tpr
from tpr_ws.domain.workbook import parse_workbook

DEFECT_SETS = [
    frozenset(), Defects.every().names, Defects.every(partial=False).names,
    *[frozenset({n}) for n in DEFECT_NAMES],
]  # fmt: skip
CASES = [(layout, d) for layout in "ABCD" for d in DEFECT_SETS]
# The fast suite: the clean file, every defect, and every defect but the missing columns, each
# in one layout (rotating), one state; the slow suite: every case, every state.
FAST = [("ABCD"[i], d) for i, d in enumerate(DEFECT_SETS[:3])]
SLOW = CASES


def _id(case: tuple[str, frozenset[str]]) -> str:
    layout, defects = case
    if defects == Defects.every().names:
        return f"{layout}-every"
    if defects == Defects.every(partial=False).names:
        return f"{layout}-every-but-missing-columns"
    return f"{layout}-{'+'.join(sorted(defects)) or 'clean'}"


def check_file(layout: str, defects: frozenset[str], states: int = 99) -> int:
    """Compare every answerable choice of one generated file (in its first `states` states);
    the number of choices checked."""
    fmt = "csv" if "mojibake_headers" in defects or len(defects) % 2 else "xlsx"
    made = generate(layout, "tiny", seed=len(defects) + 7, fmt=fmt, defects=defects)
    product = parse_workbook(made.data, made.file_name).frame
    expected = read_file(made.data, made.file_name)
    levels = ("Primary", "Secondary", "Tertiary", "All") if expected.levels_known else ("All",)
    checked = 0
    for state in sorted(set(expected.frame["state"]))[:states]:
        for level in levels:
            for age in (*expected.ages, "all"):
                result = compute_tpr(product, state, level, age)
                assert_result_matches(result, oracle_tpr(expected.frame, state, level, age))
                checked += 1
    return checked


@pytest.mark.parametrize("case", FAST, ids=_id)
def test_every_ward_agrees_with_the_oracle(case: tuple[str, frozenset[str]]) -> None:
    assert check_file(*case, states=1) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW, ids=_id)
def test_every_ward_agrees_with_the_oracle_every_layout(case: tuple[str, frozenset[str]]) -> None:
    assert check_file(*case) >= 2


# The rules of issue 9, each on the generated file that showed the old failure.
@pytest.mark.parametrize(
    ("defect", "layout"),
    [
        ("odd_name_starts", "B"),  # prefixes before 'Yan, lower-case and symbol names; "na"->"0"
        ("zero_filled_split_pair", "A"),  # the Kwara shape: zeros in the unused column
        ("no_pregnant_women", "C"),  # partial files: accepted, All ages pools what is there
        ("rdt_only", "D"),
        ("no_period_column", "A"),
        ("no_facility_column", "B"),  # no facility and no level column: only All levels
    ],
)
def test_each_rule_on_its_generated_file(defect: str, layout: str) -> None:
    assert check_file(layout, frozenset({defect}), states=1) >= 4


def test_every_ward_is_listed_at_every_level_on_a_generated_file() -> None:
    # Most wards have no secondary or tertiary facility: they are still listed (Facilities 0).
    made = generate("A", "tiny", seed=1)
    product = parse_workbook(made.data, made.file_name).frame
    wards = product[product["state"] == "Adamawa"].groupby(["lga", "ward"]).ngroups
    for level in ("Primary", "Secondary", "Tertiary", "All"):
        result = compute_tpr(product, "Adamawa", level, "u5")
        assert len(result.wards) == result.summary["wards_total"] == wards
    tertiary = compute_tpr(product, "Adamawa", "Tertiary", "u5")
    assert (tertiary.wards["Facilities"] == 0).sum() == tertiary.summary["wards_no_facility"] > 0
