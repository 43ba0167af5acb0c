"""The sample generator's ground truth: a tidy frame of realistic facility-month counts."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.schema import AgeGroup, Method

# Mean persons tested per facility-month at a size-1 facility, by method and age.
_MEAN_TESTED: Final = {
    (Method.RDT, AgeGroup.UNDER_5): 38.0,
    (Method.RDT, AgeGroup.OVER_5): 45.0,
    (Method.RDT, AgeGroup.PREGNANT): 9.0,
    (Method.MICROSCOPY, AgeGroup.UNDER_5): 14.0,
    (Method.MICROSCOPY, AgeGroup.OVER_5): 22.0,
    (Method.MICROSCOPY, AgeGroup.PREGNANT): 5.0,
}
_AGE_RISK: Final = {AgeGroup.UNDER_5: 1.0, AgeGroup.OVER_5: 0.85, AgeGroup.PREGNANT: 0.75}
_RDT_BLANK: Final = 0.46  # with the zeros DHIS2 leaves blank, ~47% of RDT tested cells blank
_MIC_BLANK: Final = 0.35  # at facilities that do microscopy at all

MONTH_NAMES: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def monthly_periods(count: int, last_year: int = 2024) -> list[str]:
    """`count` consecutive "YYYY-MM" periods ending with December of `last_year`."""
    end = last_year * 12 + 11
    return [f"{m // 12}-{m % 12 + 1:02d}" for m in range(end - count + 1, end + 1)]


def yearly_periods(count: int, last_year: int = 2024) -> list[str]:
    """`count` consecutive "YYYY" periods ending with `last_year`."""
    return [str(y) for y in range(last_year - count + 1, last_year + 1)]


def _blank_zeros(values: np.ndarray) -> np.ndarray:
    """DHIS2 omits zeros: a zero count is a blank cell."""
    out = values.astype(np.float64)
    out[out == 0] = np.nan
    return out


def build_truth(
    facilities: pd.DataFrame, periods: list[str], rng: np.random.Generator, scale: float = 1.0
) -> pd.DataFrame:
    """The tidy frame (schema.TIDY_COLUMNS): one row per facility and period.

    Ward TPR varies (beta around 45%); positives are a binomial fraction of tested; RDT cells
    are often blank and microscopy cells almost always blank outside hospitals.
    """
    n_fac, n_per = len(facilities), len(periods)
    fac_idx = np.repeat(np.arange(n_fac), n_per)
    out = facilities.iloc[fac_idx][list(schema.ID_COLUMNS[:5])].reset_index(drop=True)
    out[schema.PERIOD] = np.tile(np.asarray(periods, dtype=object), n_fac)
    ward_codes = facilities.groupby(["state", "lga", "ward"], sort=False).ngroup().to_numpy()
    ward_p = rng.beta(4.5, 5.5, ward_codes.max() + 1 if n_fac else 0)
    fac_p = np.clip(ward_p[ward_codes] * rng.lognormal(0.0, 0.15, n_fac), 0.02, 0.95)[fac_idx]
    size = facilities["size"].to_numpy()[fac_idx] * scale
    has_mic = facilities["has_mic"].to_numpy()[fac_idx]
    n = len(out)
    for (method, age), mean in _MEAN_TESTED.items():
        tested = rng.poisson(size * mean)
        blank_p = _RDT_BLANK if method is Method.RDT else _MIC_BLANK
        present = rng.random(n) >= blank_p
        if method is Method.MICROSCOPY:
            present &= has_mic
        tested = np.where(present, tested, 0)
        risk = fac_p * _AGE_RISK[age] * (1.0 if method is Method.RDT else 0.85)
        positive = rng.binomial(tested, np.clip(risk, 0.0, 1.0))
        out[schema.count_column(method, "tested", age)] = _blank_zeros(tested)
        out[schema.count_column(method, "positive", age)] = _blank_zeros(positive)
    return out[list(schema.TIDY_COLUMNS)]


def add_count_defects(
    truth: pd.DataFrame, rng: np.random.Generator, *, negatives: bool, over: bool
) -> pd.DataFrame:
    """Inject the defects that live in the data itself: negative counts and positives > tested."""
    out = truth.copy()
    n = len(out)
    if n == 0:
        return out
    if negatives:
        # A few cells of RDT counts turn negative (data-entry slips DHIS2 lets through).
        targets = list(schema.INDICATOR_COLUMNS[:3] + schema.INDICATOR_COLUMNS[6:9])
        hits = rng.choice(n, size=max(2, n // 400), replace=True)
        picks = rng.integers(0, len(targets), len(hits))
        for i, column in enumerate(targets):
            values = out[column].to_numpy(dtype=np.float64).copy()
            rows = hits[picks == i]
            values[rows] = -rng.integers(1, 6, len(rows)).astype(np.float64)
            out[column] = values
    if over:
        tested = out[schema.count_column(Method.RDT, "tested", AgeGroup.UNDER_5)].to_numpy()
        candidates = np.flatnonzero(tested > 0)
        if len(candidates):
            hits = rng.choice(candidates, size=max(2, len(candidates) // 150), replace=False)
            column = schema.count_column(Method.RDT, "positive", AgeGroup.UNDER_5)
            values = out[column].to_numpy(dtype=np.float64).copy()
            values[hits] = tested[hits] * rng.integers(2, 7, len(hits))
            out[column] = values
    return out
