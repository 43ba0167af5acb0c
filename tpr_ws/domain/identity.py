"""The identity columns of the tidy dataset: cleaned names and facility levels.

A file may lack the facility column (facilities are then "" and not counted) and the level
column (levels then come from facility names; with neither, the level is "" and the rows count
only under All levels).
"""

from __future__ import annotations

import pandas as pd

from tpr_ws.domain import schema, tidy
from tpr_ws.domain.prefixes import learn_prefixes

_NAMES = (schema.STATE, schema.LGA, schema.WARD, schema.FACILITY)


def identity_frame(
    geo: pd.DataFrame, level_cells: pd.Series | None, warnings: list[str]
) -> pd.DataFrame:
    """Cleaned state/LGA/ward/facility names and facility levels from the raw name columns
    present in `geo` (text) and the raw level cells, if the file has a level column."""
    prefix = learn_prefixes(geo)
    frame = pd.DataFrame(
        {role: tidy.clean_names(geo[role], role, prefix) if role in geo else "" for role in _NAMES},
        index=geo.index,
    )
    named = schema.FACILITY in geo
    if level_cells is None and not named:
        frame[schema.FACILITY_LEVEL] = ""
        return frame.astype({c: "str" for c in frame.columns})
    level_text = None if level_cells is None else tidy.text_column(level_cells)
    levels = tidy.facility_levels(level_text, frame[schema.FACILITY] if named else None)
    if level_text is not None and levels.from_name:
        warnings.append(
            f"{levels.from_name} rows had a blank or unrecognised facility level; "
            + (
                "their level was taken from the facility name."
                if named
                else "they count only under All levels."
            )
        )
    frame[schema.FACILITY_LEVEL] = levels.values
    return frame.astype({c: "str" for c in frame.columns})
