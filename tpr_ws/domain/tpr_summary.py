"""The JSON-able summary of a ward TPR table: pooled state figure, distribution, top wards.

Every figure is kept unrounded; whoever shows it rounds it once (`domain/figures.py`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.schema import AgeGroup, FacilityLevel

TOP_WARDS: Final = 10
HISTOGRAM_EDGES: Final = tuple(range(0, 101, 10))


def _figure(value: float | None) -> float | None:
    """A statistic as it is computed, unrounded (None for "no data"): it is rounded once,
    where it is shown (`figures`)."""
    if value is None or math.isnan(value):
        return None
    return float(value)


def _stats(tpr: pd.Series) -> dict[str, float | None]:
    if tpr.empty:
        return {"mean": None, "median": None, "min": None, "max": None}
    return {
        "mean": _figure(tpr.mean()),
        "median": _figure(tpr.median()),
        "min": _figure(tpr.min()),
        "max": _figure(tpr.max()),
    }


def _histogram(tpr: pd.Series) -> list[dict[str, Any]]:
    """Counts of ward TPRs in [0,10), [10,20), ..., [90,100), and [100, ...)."""
    values = tpr.to_numpy(dtype=np.float64)
    bins: list[dict[str, Any]] = []
    for low, high in itertools.pairwise(HISTOGRAM_EDGES):
        count = int(((values >= low) & (values < high)).sum())
        bins.append({"from": low, "to": high, "count": count})
    bins.append({"from": 100, "to": None, "count": int((values >= 100).sum())})
    return bins


def _top_wards(with_data: pd.DataFrame) -> list[dict[str, Any]]:
    top = with_data.sort_values(["TPR", "Tested"], ascending=[False, False], kind="stable")
    return [
        {
            "lga": str(lga),
            "ward": str(ward),
            "tpr": _figure(float(tpr)),
            "tested": int(tested),
            "positive": int(positive),
        }
        for lga, ward, tpr, tested, positive in top.head(TOP_WARDS)[
            ["LGA", "Ward", "TPR", "Tested", "Positive"]
        ].to_numpy(dtype=object)
    ]


def summarise(
    wards: pd.DataFrame,
    state: str,
    level: FacilityLevel,
    age: AgeGroup,
    rows: int,
    wards_at_level: int,
) -> dict[str, Any]:
    """The summary dict of one analysis, from its ward table, its number of input rows (at the
    level) and the number of wards with a row at the level."""
    with_data = wards[wards["TPR"].notna()]
    tpr = with_data["TPR"]
    tested, positive = float(wards["Tested"].sum()), float(wards["Positive"].sum())
    excluded = wards["Excluded_Rows"]
    reporting = int(wards["Reporting_Rows"].sum())
    return {
        "state": state,
        "level": level.value,
        "age": age.value,
        "age_label": age.label,
        "tested": int(tested),
        "positive": int(positive),
        "state_tpr": _figure(100.0 * positive / tested) if tested > 0 else None,
        "wards_total": len(wards),
        "wards_with_data": len(with_data),
        "wards_no_data": len(wards) - len(with_data),
        # The wards without data, by why: no facility at the level, or no usable tests there.
        "wards_no_facility": len(wards) - wards_at_level,
        "wards_no_usable_tests": wards_at_level - len(with_data),
        "facilities_counted": bool(wards["Facilities"].notna().all()),
        "stats": _stats(tpr),
        "above_50": int((tpr > 50).sum()),
        "above_70": int((tpr > 70).sum()),
        "top_wards": _top_wards(with_data),
        "histogram": _histogram(tpr),
        "quality": {
            "excluded_rows": int(excluded.sum()),
            "wards_with_excluded_rows": int((excluded > 0).sum()),
            "reporting_rows": reporting,
            "rows_without_data": rows - reporting,
        },
        "rule": schema.TPR_RULE,
    }
