"""What a file can answer: its tested/positive pairs, facility, level and period columns.

Partial files are normal (DOMAIN.md): an RDT-only extract, one without the pregnant-women
columns, one without a period column. A file is usable when it has the state, LGA and ward
columns and at least one tested/positive pair (one method, one age group); everything else it
lacks only rules some choices out, and the upload summary says which (`Coverage.lacks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from tpr_ws.domain import schema
from tpr_ws.domain.headers import HeaderMap
from tpr_ws.domain.schema import AgeGroup, Method

METHOD_NAMES: Final = {Method.RDT: "RDT", Method.MICROSCOPY: "microscopy"}
AGE_PHRASES: Final = {
    AgeGroup.UNDER_5: "under-5",
    AgeGroup.OVER_5: "5-and-over",
    AgeGroup.PREGNANT: "pregnant-women",
}
REQUIRED_ROLES: Final = ("state", "lga", "ward")


@dataclass(frozen=True)
class Coverage:
    """Which (method, age) pairs and which optional columns a header row has."""

    pairs: tuple[tuple[Method, AgeGroup], ...]
    unpaired: tuple[str, ...]  # tidy indicator columns whose partner column is missing
    has_facility: bool
    has_level: bool
    has_period: bool

    @property
    def ages(self) -> tuple[AgeGroup, ...]:
        """The single age groups at least one method has a pair for, in schema order."""
        return tuple(a for a in schema.SINGLE_AGES if any(age is a for _, age in self.pairs))

    @property
    def methods(self) -> tuple[Method, ...]:
        return tuple(m for m in Method if any(method is m for method, _ in self.pairs))

    @property
    def levels_known(self) -> bool:
        """Whether facility levels can be told (from a level column or facility names)."""
        return self.has_level or self.has_facility

    def lacks(self) -> list[str]:
        """What the file lacks and what that rules out, in the analyst's words."""
        out = [_unpaired_note(c) for c in self.unpaired]
        out += _missing_groups(self)
        if not self.has_facility and not self.has_level:
            out.append(
                "No facility column and no facility level column: facilities are not counted "
                "and only All levels can be chosen."
            )
        elif not self.has_facility:
            out.append("No facility column: facilities are not counted.")
        if not self.has_period:
            out.append(
                "No period column: the months are not given; exact duplicate rows are still "
                "removed."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for the overview the conversation reads."""
        return {
            "pairs": {m.value: [a.value for mm, a in self.pairs if mm is m] for m in Method},
            "ages": [a.value for a in self.ages],
            "methods": [m.value for m in self.methods],
            "facility": self.has_facility,
            "level": self.has_level,
            "levels_known": self.levels_known,
            "period": self.has_period,
            "lacks": self.lacks(),
        }


def coverage_of(header_map: HeaderMap) -> Coverage:
    """What the recognised header row can answer."""
    found = header_map.indicators
    pairs: list[tuple[Method, AgeGroup]] = []
    unpaired: list[str] = []
    for method in Method:
        for age in schema.SINGLE_AGES:
            tested = schema.count_column(method, "tested", age)
            positive = schema.count_column(method, "positive", age)
            if tested in found and positive in found:
                pairs.append((method, age))
            else:
                unpaired += [c for c in (tested, positive) if c in found]
    roles = header_map.roles
    return Coverage(
        pairs=tuple(pairs),
        unpaired=tuple(unpaired),
        has_facility="facility" in roles,
        has_level="level" in roles,
        has_period="period_code" in roles or "period_name" in roles,
    )


def _unpaired_note(column: str) -> str:
    partner = (
        column.replace("tested", "positive")
        if "tested" in column
        else column.replace("positive", "tested")
    )
    return (
        f"'{schema.DHIS2_NAMES[column]}' has no '{schema.DHIS2_NAMES[partner]}' beside it, so "
        "it is not used (a TPR needs both)."
    )


def _missing_groups(coverage: Coverage) -> list[str]:
    """Sentences for the methods and age groups without any pair."""
    out = []
    ages, methods = coverage.ages, coverage.methods
    for age in schema.SINGLE_AGES:
        if age not in ages and ages:
            pooled = " and ".join(AGE_LABEL_LOWER[a] for a in ages)
            out.append(
                f"No {AGE_PHRASES[age]} columns: the {age.label} age group is not available, "
                f"and All ages pools {pooled}."
            )
    for method in Method:
        if method not in methods and methods:
            out.append(f"No {METHOD_NAMES[method]} columns: {METHOD_NAMES[method]} is not counted.")
    for method in methods:
        own = [a for m, a in coverage.pairs if m is method]
        if len(own) < len(ages):
            only = " and ".join(AGE_LABEL_LOWER[a] for a in own)
            out.append(f"{METHOD_NAMES[method].capitalize()} columns only for {only}.")
    return out


AGE_LABEL_LOWER: Final = {
    AgeGroup.UNDER_5: "under 5",
    AgeGroup.OVER_5: "5 and over",
    AgeGroup.PREGNANT: "pregnant women",
}
