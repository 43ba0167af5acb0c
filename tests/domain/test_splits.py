"""Indicators split over several columns: merged per row (DOMAIN.md), checked cell by cell
against the oracle, and never losing a reported count."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.domain.oracle import merge_cells
from tpr_ws.domain.splits import merge_columns

nan = float("nan")


def merge(*columns: list[float]) -> list[float]:
    return merge_columns([pd.Series(c, dtype="float64") for c in columns]).values.tolist()


def same(a: list[float], b: list[float]) -> bool:
    return all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


def test_blank_and_zero_are_not_reports() -> None:
    assert same(merge([7, 0, nan, 0, nan], [0, 7, 7, nan, nan]), [7, 7, 7, 0, nan])


def test_equal_reports_count_once_and_different_ones_are_summed() -> None:
    result = merge_columns([pd.Series([5.0, 5.0, 2.0]), pd.Series([5.0, 3.0, nan])])
    assert result.values.tolist() == [5.0, 8.0, 2.0]
    assert result.same.tolist() == [True, False, False]
    assert result.summed.tolist() == [False, True, False]


def test_a_negative_in_a_disagreement_is_kept_for_the_rule_to_exclude() -> None:
    assert merge([-2, -2, 4], [6, -2, -1]) == [-2, -2, -1]


def test_three_columns() -> None:
    assert merge([1, 4, 0], [0, 4, 0], [2, 4, 9]) == [3, 4, 9]


_cell = st.one_of(st.none(), st.just(0.0), st.integers(1, 40).map(float))
_rows = st.lists(st.lists(_cell, min_size=2, max_size=3), min_size=1, max_size=30).filter(
    lambda rows: len({len(r) for r in rows}) == 1
)


@settings(deadline=None)
@given(_rows)
def test_merge_never_loses_a_reported_count(rows: list[list[float | None]]) -> None:
    columns = [
        pd.Series([np.nan if r[j] is None else r[j] for r in rows], dtype="float64")
        for j in range(len(rows[0]))
    ]
    merged = merge_columns(columns).values.tolist()
    for row, value in zip(rows, merged, strict=True):
        expected = merge_cells(row)
        assert (expected is None and math.isnan(value)) or value == expected, (row, value)
        reports = [c for c in row if c]
        # Every reported count is in the merged value, and each is counted once at most.
        assert all(value >= c for c in reports)
        assert not reports or value <= sum(reports)
    reported_total = sum(max([c for c in r if c], default=0.0) for r in rows)
    assert sum(v for v in merged if not math.isnan(v)) >= reported_total
