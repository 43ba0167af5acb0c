"""Figures for display: computed unrounded everywhere, rounded once, here, when shown.

The rounding is the page's (the browser's `Intl.NumberFormat`): the float's shortest decimal
form (what `repr` prints, "13.45" for 269/2000), to the nearest, ties away from zero. So the
chat, the page, the files and the report show the same number: 141/1048 = 13.454...% is 13.5
everywhere, never 13.4 in one place because it went through 13.45 first; 269/2000 = 13.45% is
13.5 everywhere too (the float just below 13.45 does not make it 13.4 on one side only).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def rounded(value: float, digits: int = 1) -> Decimal:
    """`value` rounded once to `digits` decimals, as the page rounds it."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def is_figure(value: object) -> bool:
    """Whether `value` is a finite number (None, NaN and text are "no data")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def fixed(value: object, digits: int = 1, missing: str = "") -> str:
    """`value` with exactly `digits` decimals ("13.5"), or `missing` when it is no figure."""
    if not is_figure(value):
        return missing
    return f"{rounded(float(value), digits):.{digits}f}"  # type: ignore[arg-type]


def percent(value: object, digits: int = 1, missing: str = "n/a") -> str:
    """A rate in percent for display: "13.5%", or `missing`."""
    text = fixed(value, digits)
    return f"{text}%" if text else missing
