"""Header recognition: which raw column holds which indicator or identity field, and where the
header row is.

Headers are matched by meaning, not by exact text, because real files spell them many ways:
mojibake (`â‰¥` for `≥`), double spaces, DHIS2's "na" -> "0" corruption (`period0me`),
misspellings (`Health Faccility`) and run-together names (`WardName`, `HealthFacility`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from tpr_ws.domain.schema import AgeGroup, Method, count_column

# Identity roles, each with the compact header spellings that fill it, best first. When a file
# has several (e.g. `organisationunitname` and `orgunitlevel5`), the earliest alias wins.
ROLE_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "state": ("state", "statename", "orgunitlevel2"),
    "lga": ("lga", "lganame", "localgovernmentarea", "orgunitlevel3"),
    "ward": ("ward", "wardname", "orgunitlevel4"),
    "facility": (
        "healthfacility", "healthfaccility", "healthfacilityname", "facility", "facilityname",
        "organisationunitname", "organisationunit", "orgunitname", "orgunitlevel5",
    ),
    "level": ("level", "facilitylevel", "healthfacilitylevel", "levelofcare"),
    "period_code": ("periodcode", "periodid"),
    "period_name": ("periodname", "period", "month"),
}  # fmt: skip

# How a missing role is named to the analyst.
ROLE_LABELS: Final = {
    "state": "state (State or orgunitlevel2)",
    "lga": "LGA (LGA or orgunitlevel3)",
    "ward": "ward (Ward, WardName or orgunitlevel4)",
    "facility": "health facility (Health Facility, organisationunitname or orgunitlevel5)",
}

_MOJIBAKE: Final = {"â‰¥": "≥", "Ã¢â€°Â¥": "≥", "â‰¤": "≤", "Â ": " ", "\u00a0": " "}
_ZERO_FOR_NA: Final = re.compile(r"(?<=[a-z])0(?=[a-z])")
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9<>≥]+")
_SPACES: Final = re.compile(r"\s+")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8-read-as-cp1252 damage (`â‰¥` -> `≥`) where it is recognisable."""
    if "â" not in text and "Ã" not in text and "\u00a0" not in text:
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:  # partially damaged: fall back to the known sequences
        for bad, good in _MOJIBAKE.items():
            text = text.replace(bad, good)
        return text


def normalise_header(cell: object) -> str:
    """Lower-case, mojibake-free, single-spaced header text with DHIS2's `0` restored to `na`."""
    if cell is None or (isinstance(cell, float) and cell != cell):
        return ""
    text = _SPACES.sub(" ", fix_mojibake(str(cell))).strip().lower()
    text = text.replace(">=", "≥").replace("=>", "≥")
    return _ZERO_FOR_NA.sub("na", text)


def compact(header: str) -> str:
    """The normalised header with everything but letters, digits and <, >, ≥ removed."""
    return _NOT_ALNUM.sub("", header)


def indicator_of(header: str) -> str | None:
    """The tidy indicator column a normalised header holds, or None (e.g. LLIN, treatment)."""
    key = compact(header)
    if "treat" in key or "llin" in key:
        return None
    method = Method.RDT if "rdt" in key else Method.MICROSCOPY if "microscop" in key else None
    if method is None:
        return None
    if "positive" in key:
        kind = "positive"
    elif "tested" in key and ("fever" in key or "presenting" in key):
        kind = "tested"
    else:
        return None
    age = _age_of(key)
    return None if age is None else count_column(method, kind, age)


def _age_of(key: str) -> AgeGroup | None:
    if "<5" in key or "under5" in key:
        return AgeGroup.UNDER_5
    # "excl PW" marks the 5-and-over group even when the ≥ sign was lost in transit.
    if "≥5" in key or ">5" in key or "excl" in key:
        return AgeGroup.OVER_5
    if "preg" in key or key.endswith("pw"):
        return AgeGroup.PREGNANT
    return None


def role_of(header: str) -> tuple[str, int] | None:
    """(role, rank of the alias) of an identity header, or None."""
    key = compact(header)
    for role, aliases in ROLE_ALIASES.items():
        if key in aliases:
            return role, aliases.index(key)
    return None


@dataclass(frozen=True)
class HeaderMap:
    """Where each field lives in one header row (column positions)."""

    indicators: dict[str, list[int]] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)
    role_alias: dict[str, str] = field(default_factory=dict)
    raw: tuple[str, ...] = ()

    @property
    def score(self) -> int:
        return len(self.indicators) * 2 + len(self.roles)


def map_header_row(cells: Sequence[object]) -> HeaderMap:
    """Recognise every cell of a candidate header row."""
    indicators: dict[str, list[int]] = {}
    best: dict[str, tuple[int, int, str]] = {}
    for pos, cell in enumerate(cells):
        header = normalise_header(cell)
        if not header:
            continue
        column = indicator_of(header)
        if column is not None:
            indicators.setdefault(column, []).append(pos)
            continue
        found = role_of(header)
        if found is not None and (found[0] not in best or found[1] < best[found[0]][0]):
            best[found[0]] = (found[1], pos, compact(header))
    return HeaderMap(
        indicators=indicators,
        roles={role: pos for role, (_, pos, _) in best.items()},
        role_alias={role: alias for role, (_, _, alias) in best.items()},
        raw=tuple("" if c is None else str(c) for c in cells),
    )


def find_header_row(rows: Sequence[Sequence[object]]) -> tuple[int, HeaderMap]:
    """The first row with the most recognised headers among `rows` (the top of a sheet)."""
    best_row, best_map = 0, HeaderMap()
    for index, cells in enumerate(rows):
        candidate = map_header_row(cells)
        if candidate.score > best_map.score:
            best_row, best_map = index, candidate
    return best_row, best_map
