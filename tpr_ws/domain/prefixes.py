"""The DHIS2 state prefix (`ad` in `ad Karewa Ward`), learnt per state from the file's values.

DHIS2 writes the state's two-letter code in lower case before every org-unit name of that
state: `ad Adamawa State`, `ad Yola North Local Government Area`, `ad mbamba Ward`. The code is
learnt, never guessed from the next character: a state's code is the two-letter lower-case
first word that more than half of its distinct names (state, LGA, ward, facility) start with.
A state whose names carry no such common word has no prefix, and nothing is stripped.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema

_CODE: Final = r"^([a-z]{2})\s"


def learn_prefixes(geo: pd.DataFrame) -> pd.Series:
    """Per row of `geo` (text columns, one of them `schema.STATE`), its state's code or ""."""
    state_codes, states = pd.factorize(geo[schema.STATE])
    words: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for column in geo.columns:
        value_codes, values = pd.factorize(geo[column])
        text = pd.Series(values, dtype=object).astype("str")
        first = text.str.extract(_CODE, expand=False).fillna("").to_numpy(dtype=object)
        blank = (text == "").to_numpy(dtype=bool)
        width = len(values) + 1  # a missing value (code -1) decodes to `width - 1`: dropped
        pairs = np.unique(state_codes.astype(np.int64) * width + value_codes)
        state_of, value_of = pairs // width, pairs % width
        placed = (state_of >= 0) & (value_of < len(values))
        state_of, value_of = state_of[placed], value_of[placed]
        named = ~blank[value_of]
        owners.append(state_of[named])
        words.append(first[value_of[named]])
    codes = _majority_codes(np.concatenate(owners), np.concatenate(words), len(states))
    per_row = np.append(np.asarray(codes, dtype=object), "")[state_codes]  # -1 (blank) -> ""
    return pd.Series(per_row, index=geo.index, dtype=object)


def _majority_codes(owner: np.ndarray, word: np.ndarray, n_states: int) -> list[str]:
    """Per state: the first word more than half of its distinct names start with, else ""."""
    names = pd.DataFrame({"state": owner, "word": word})
    totals = np.bincount(owner.astype(np.int64), minlength=n_states)
    coded = names[names["word"] != ""].value_counts()
    codes = [""] * n_states
    for (state, word), votes in zip(coded.index.tolist(), coded.tolist(), strict=True):
        if 2 * int(votes) > int(totals[int(state)]):
            codes[int(state)] = str(word)
    return codes
