"""Indicators split over several columns by a form migration: merged per row, and what that found.

DOMAIN.md's rule, per row: blank and 0 both mean "not reported in this column". When one column
reports, its number is used; when several report the same number, it counts once; when they
report different numbers, their sum counts and the row is a data-quality finding, listed by
ward and month. The first column is never simply preferred. Two edges the rule leaves open:
a row where no column reports keeps 0 if a column holds 0 (the file said 0) and stays blank
otherwise; a disagreement involving a negative number keeps the most negative one, so the TPR
rule still excludes that row instead of a sum hiding the negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema

MAX_LISTED_WARDS: Final = 10  # the summary names this many wards per split indicator


@dataclass(frozen=True)
class Merged:
    """One indicator rebuilt from its raw count columns, and per row how the merge went."""

    values: pd.Series
    same: np.ndarray  # several columns reported the same number: counted once
    summed: np.ndarray  # several columns reported different numbers: their sum counted


def merge_columns(columns: Sequence[pd.Series]) -> Merged:
    """The indicator's value on each row from all the columns that hold it."""
    index = columns[0].index
    if len(columns) == 1:
        none = np.zeros(len(index), dtype=bool)
        return Merged(columns[0], none, none)
    cells = np.column_stack([c.to_numpy(dtype=np.float64) for c in columns])
    reported = ~np.isnan(cells) & (cells != 0)
    count = reported.sum(axis=1)
    values = np.where(reported, cells, np.nan)
    high = np.fmax.reduce(values, axis=1)  # NaN only where nothing reported
    low = np.fmin.reduce(values, axis=1)
    differ = (count > 1) & (high != low)
    total = np.where(reported, cells, 0.0).sum(axis=1)
    zero = np.where((cells == 0).any(axis=1), 0.0, np.nan)
    merged = np.where(count == 0, zero, np.where(differ, np.where(low < 0, low, total), high))
    return Merged(pd.Series(merged, index=index), (count > 1) & ~differ, differ)


def split_findings(
    frame: pd.DataFrame, merged: dict[str, Merged], headers: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Per split indicator (tidy column -> its Merged, aligned with `frame`'s rows): the
    JSON-able finding the upload summary shows, naming the wards and months summed."""
    findings = []
    for column, result in merged.items():
        summed = frame[result.summed]
        wards = _wards_with_months(summed)
        findings.append(
            {
                "indicator": schema.DHIS2_NAMES[column],
                "columns": len(headers[column]),
                "headers": list(headers[column]),
                "rows_same_number": int(result.same.sum()),
                "rows_summed": len(summed),
                "wards_summed": len(wards),
                "summed_in": wards[:MAX_LISTED_WARDS],
            }
        )
    return findings


def _wards_with_months(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The wards of `rows` (state, LGA, ward) with their months, most rows first."""
    keys = [schema.STATE, schema.LGA, schema.WARD]
    wards = []
    for (state, lga, ward), group in rows.groupby(keys, sort=True):
        months = sorted({str(p) for p in group[schema.PERIOD]})
        wards.append(
            {"state": str(state), "lga": str(lga), "ward": str(ward), "rows": len(group),
             "months": months}
        )  # fmt: skip
    return sorted(wards, key=lambda w: -int(w["rows"]))
