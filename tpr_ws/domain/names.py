"""Cleaning of place and facility names, facility levels and periods.

Every function here works on one distinct value; callers apply them to the unique values of a
column (a few thousand at most) and map the results back, so no row-by-row Python loop runs.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Final

from tpr_ws.domain.schema import FacilityLevel

_SPACES: Final = re.compile(r"\s+")
# DHIS2 corrupts "na" to "0"; a 0 between letters (or ending a word after a lower-case letter)
# cannot be a real digit in a Nigerian place name.
_ZERO_BETWEEN: Final = re.compile(r"(?<=[A-Za-z])0(?=[a-z])|(?<=[a-z])0(?![A-Za-z0-9])")
_SUFFIXES: Final = {
    "state": re.compile(r"\s+state$", re.IGNORECASE),
    "lga": re.compile(r"\s+(local government area|l\.?g\.?a\.?)$", re.IGNORECASE),
    "ward": re.compile(r"\s+ward$", re.IGNORECASE),
    "facility": None,
}
_FCT: Final = re.compile(r"^(federal capital territory|f\.?\s?c\.?\s?t\.?)$", re.IGNORECASE)
_TOTAL: Final = re.compile(r"^(grand\s+)?totals?:?$", re.IGNORECASE)
_MAX_PASSES: Final = 5


def clean_name(value: str, role: str, prefix: str = "") -> str:
    """A place or facility name without its state's prefix, type suffix or DHIS2 corruption.

    `role` is "state", "lga", "ward" or "facility"; `prefix` is the state's DHIS2 code as learnt
    from the file (`prefixes.learn_prefixes`), "" when its values carry none. Exactly that code
    and its space go, whatever follows (`kn 'Yan Kaba Ward` -> `'Yan Kaba`); nothing is guessed
    from the case of the next letter. Idempotent: cleaning twice changes nothing.
    """
    text = value
    for _ in range(_MAX_PASSES):  # to a fixed point, so stacked prefixes/suffixes all go
        cleaned = _clean_once(text, role, f"{prefix} " if prefix else "")
        if cleaned == text:
            break
        text = cleaned
    return text


def _clean_once(value: str, role: str, prefix: str) -> str:
    text = _SPACES.sub(" ", value).strip()
    if prefix and text.startswith(prefix):
        text = text[len(prefix) :].strip()
    text = _ZERO_BETWEEN.sub("na", text)
    suffix = _SUFFIXES.get(role)
    if suffix is not None:
        stripped = suffix.sub("", text).strip()
        text = stripped or text  # a ward literally called "Ward" keeps its name
    if role == "state" and _FCT.match(text):
        return "FCT"
    return text


def is_total(value: str) -> bool:
    """Whether an org-unit cell marks a totals row ("Total", "Grand total")."""
    return bool(_TOTAL.match(value.strip()))


_LEVEL_WORDS: Final = (
    (FacilityLevel.TERTIARY, re.compile(r"tertiary|\bthf\b|teaching", re.IGNORECASE)),
    (FacilityLevel.SECONDARY, re.compile(r"secondary|\bshf\b|general", re.IGNORECASE)),
    (FacilityLevel.PRIMARY, re.compile(r"primary|\bphc\b|\bphf\b|\bhealth (post|cent)", re.I)),
)


def normalise_level(value: str) -> str | None:
    """Primary/Secondary/Tertiary from a level cell's many spellings, or None if unrecognised."""
    for level, pattern in _LEVEL_WORDS:
        if pattern.search(value):
            return level.value
    return None


# Plain strings: this runs once per distinct facility (~28k nationally), enum lookups add up.
_TERTIARY: Final = FacilityLevel.TERTIARY.value
_SECONDARY: Final = FacilityLevel.SECONDARY.value
_PRIMARY: Final = FacilityLevel.PRIMARY.value
_TERTIARY_NAME: Final = re.compile(
    r"teaching hospital|university hospital|federal medical cent(re|er)|federal specialist",
    re.IGNORECASE,
)
_SECONDARY_NAME: Final = re.compile(
    r"general hospital|cottage hospital|specialist hospital|hospital|medical cent(re|er)",
    re.IGNORECASE,
)


def level_from_name(facility: str) -> str:
    """The facility level implied by a facility's name (DOMAIN.md, layout B)."""
    if _TERTIARY_NAME.search(facility):
        return _TERTIARY
    if _SECONDARY_NAME.search(facility):
        return _SECONDARY
    return _PRIMARY


_YEAR_MONTH: Final = re.compile(r"^(\d{4})-?(\d{2})(?:[-/ ]\d{1,2}.*)?$")
_YEAR: Final = re.compile(r"^(\d{4})(?:\.0+)?$")
_MONTH_FORMATS: Final = ("%B %Y", "%b %Y", "%B-%Y", "%b-%Y", "%b-%y", "%B, %Y")


def normalise_period(value: object) -> str | None:
    """The period as "YYYY-MM" (monthly) or "YYYY" (yearly) from a code or name, or None."""
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, float) and value == value and value.is_integer():
        value = int(value)
    text = _SPACES.sub(" ", str(value)).strip() if value is not None else ""
    if match := _YEAR_MONTH.match(text):
        year, month = match.groups()
        return f"{year}-{month}" if 1 <= int(month) <= 12 else None
    if match := _YEAR.match(text):
        return match.group(1)
    for fmt in _MONTH_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return f"{parsed.year:04d}-{parsed.month:02d}"
    return None
