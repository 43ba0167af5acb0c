"""A downloaded ward table (CSV) against the row-by-row oracle of tests/domain/oracle.py."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd

from tests.domain.oracle import oracle_tpr

_COUNTS = {
    "Tested": "tested",
    "Positive": "positive",
    "RDT_Tested": "rdt_tested",
    "RDT_Positive": "rdt_positive",
    "Microscopy_Tested": "mic_tested",
    "Microscopy_Positive": "mic_positive",
    "Reporting_Rows": "reporting_rows",
    "Excluded_Rows": "excluded_rows",
}


def _number(cell: str) -> float:
    return float(cell) if cell.strip() else math.nan


def csv_problems(body: bytes, truth: pd.DataFrame, state: str, level: str, age: str) -> list[str]:
    """Every difference between the CSV and the oracle's ward figures (empty: they agree)."""
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    expected = oracle_tpr(truth, state, level, age).wards
    got = {(r["LGA"], r["Ward"]): r for r in rows}
    problems = []
    if len(rows) != len(expected) or set(got) != set(expected):
        problems.append(f"{len(rows)} wards in the CSV, the oracle has {len(expected)}")
    for key, want in expected.items():
        row = got.get(key)
        if row is None:
            continue
        shown = (row["State"], row["Facility_Level"], row["Age_Group"])
        if shown != (state, level, age):
            problems.append(f"{key}: the CSV is for {shown}")
        for column, attr in _COUNTS.items():
            if _number(row[column]) != round(getattr(want, attr)):
                problems.append(f"{key}: {column} {row[column]} != {getattr(want, attr)}")
        if int(_number(row["Facilities"])) != len(want.facilities):
            problems.append(f"{key}: Facilities {row['Facilities']} != {len(want.facilities)}")
        tpr = _number(row["TPR"])
        if want.tpr is None:
            if not math.isnan(tpr):
                problems.append(f"{key}: TPR {tpr} where the oracle has none")
        elif math.isnan(tpr) or abs(tpr - want.tpr) > 0.005 + 1e-9:
            problems.append(f"{key}: TPR {row['TPR']} != {want.tpr:.4f}")
    return problems
