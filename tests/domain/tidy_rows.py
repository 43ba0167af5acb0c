"""Hand-made tidy frames for the TPR tests: one dict per facility-month, blanks by default."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tpr_ws.domain import schema


def tidy(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A tidy frame (schema.TIDY_COLUMNS); omitted counts are blank, identity has defaults."""
    defaults: dict[str, Any] = {
        schema.STATE: "Adamawa",
        schema.LGA: "Yola North",
        schema.WARD: "Karewa",
        schema.FACILITY: "Primary Health Centre Bako",
        schema.FACILITY_LEVEL: "Primary",
        schema.PERIOD: "2024-01",
    }
    records = [{**defaults, **row} for row in rows]
    frame = pd.DataFrame(records, columns=list(schema.TIDY_COLUMNS))
    for column in schema.INDICATOR_COLUMNS:
        frame[column] = frame[column].astype(np.float64)
    for column in schema.ID_COLUMNS:
        frame[column] = frame[column].astype("str")
    return frame
