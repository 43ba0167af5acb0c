"""What ingestion found and did: the `IngestReport` and the figures it is built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.headers import HeaderMap


@dataclass(frozen=True)
class IngestReport:
    """Facts about one parsed upload, shown to the analyst in the upload summary.

    `dropped` maps a reason ("empty_row", "totals_row", "missing_geography", "missing_period",
    "duplicate") to a row count, so rows_read == rows_kept + sum(dropped.values()).
    `completeness` is the percentage of kept rows with any tested cell, per method.
    """

    file_name: str
    file_format: str
    sheet: str
    header_row: int  # 1-based, as Excel numbers rows
    layout: str  # "A".."D" (DOMAIN.md) or "unknown"
    rows_read: int
    rows_kept: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    totals_row_dropped: bool = False
    duplicates_removed: int = 0
    positives_gt_tested: int = 0
    negative_values: int = 0
    unknown_wards: int = 0
    # One entry per indicator split over several columns (see `splits.split_findings`).
    split_indicators: list[dict[str, Any]] = field(default_factory=list)
    level_derived_from_name: bool = False
    completeness: Mapping[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # What the file can answer (`coverage.Coverage.to_dict`): pairs, ages, optional columns.
    coverage: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "file_name": self.file_name,
            "file_format": self.file_format,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "layout": self.layout,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": dict(self.dropped),
            "totals_row_dropped": self.totals_row_dropped,
            "duplicates_removed": self.duplicates_removed,
            "positives_gt_tested": self.positives_gt_tested,
            "negative_values": self.negative_values,
            "unknown_wards": self.unknown_wards,
            "split_indicators": [dict(s) for s in self.split_indicators],
            "level_derived_from_name": self.level_derived_from_name,
            "completeness": dict(self.completeness),
            "warnings": list(self.warnings),
            "coverage": dict(self.coverage),
        }


def completeness(frame: pd.DataFrame) -> dict[str, float]:
    """Percent of rows (unrounded) with any non-blank tested cell, for RDT and microscopy."""
    result: dict[str, float] = {}
    for method, key in ((schema.Method.RDT, "rdt"), (schema.Method.MICROSCOPY, "microscopy")):
        cols = [schema.count_column(method, "tested", age) for age in schema.SINGLE_AGES]
        share = frame[cols].notna().any(axis=1).mean() if len(frame) else 0.0
        result[key] = 100.0 * float(share)
    return result


def layout_of(header_map: HeaderMap, header_row: int) -> str:
    """Which DOMAIN.md layout the recognised headers look like."""
    alias = header_map.role_alias
    state, ward = alias.get("state"), alias.get("ward")
    if ward == "orgunitlevel4" and "level" not in alias:
        return "B"
    if ward == "wardname":
        return "C"
    if state == "orgunitlevel2" and ward == "ward":
        return "D"
    if state == "state" and ward == "ward":
        return "A"
    return "unknown"
