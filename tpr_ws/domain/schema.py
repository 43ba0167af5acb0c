"""The tidy dataset's canonical columns, facility levels and age groups: the domain's contract.

Ingestion produces a DataFrame with exactly `TIDY_COLUMNS` (one row per facility-month);
the TPR code and the overview read only these. Counts are float64 with NaN for a blank cell,
because a blank is not a zero under the TPR rule (a method whose tested cells are all blank is
absent on that row).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Method(StrEnum):
    RDT = "rdt"
    MICROSCOPY = "mic"


class AgeGroup(StrEnum):
    UNDER_5 = "u5"
    OVER_5 = "o5"  # 5 and over, excluding pregnant women
    PREGNANT = "pw"
    ALL = "all"

    @property
    def label(self) -> str:
        return AGE_LABELS[self]

    @property
    def parts(self) -> tuple[AgeGroup, ...]:
        """The single age groups this choice adds up."""
        if self is AgeGroup.ALL:
            return (AgeGroup.UNDER_5, AgeGroup.OVER_5, AgeGroup.PREGNANT)
        return (self,)


AGE_LABELS: Final = {
    AgeGroup.UNDER_5: "Under 5",
    AgeGroup.OVER_5: "5 and over (excl. pregnant women)",
    AgeGroup.PREGNANT: "Pregnant women",
    AgeGroup.ALL: "All ages",
}


class FacilityLevel(StrEnum):
    PRIMARY = "Primary"
    SECONDARY = "Secondary"
    TERTIARY = "Tertiary"
    ALL = "All"


# Identity columns, in order. `period` is "YYYY-MM" (or "YYYY" for yearly rows).
STATE: Final = "state"
LGA: Final = "lga"
WARD: Final = "ward"
FACILITY: Final = "facility"
FACILITY_LEVEL: Final = "facility_level"  # one of Primary, Secondary, Tertiary
PERIOD: Final = "period"
ID_COLUMNS: Final = (STATE, LGA, WARD, FACILITY, FACILITY_LEVEL, PERIOD)

SINGLE_AGES: Final = (AgeGroup.UNDER_5, AgeGroup.OVER_5, AgeGroup.PREGNANT)


def count_column(method: Method, kind: str, age: AgeGroup) -> str:
    """Name of one indicator column, e.g. count_column(Method.RDT, "tested", AgeGroup.UNDER_5)
    == "rdt_tested_u5". `kind` is "tested" or "positive"; `age` is a single age group."""
    if kind not in ("tested", "positive") or age is AgeGroup.ALL:
        raise ValueError(f"no column for {method}/{kind}/{age}")
    return f"{method.value}_{kind}_{age.value}"


INDICATOR_COLUMNS: Final = tuple(
    count_column(m, k, a) for k in ("tested", "positive") for m in Method for a in SINGLE_AGES
)
TIDY_COLUMNS: Final = ID_COLUMNS + INDICATOR_COLUMNS

# The DHIS2 data-element name of each indicator column, as DOMAIN.md lists them.
_AGE_SUFFIX: Final = {
    AgeGroup.UNDER_5: "<5yrs",
    AgeGroup.OVER_5: "≥5yrs (excl PW)",
    AgeGroup.PREGNANT: "Preg Women (PW)",
}


def dhis2_name(column: str) -> str:
    """The canonical DHIS2 header of a tidy indicator column."""
    method_s, kind, age_s = column.split("_")
    method, age = Method(method_s), AgeGroup(age_s)
    if kind == "tested":
        joiner = "&" if method is Method.RDT else "and"
        how = "RDT" if method is Method.RDT else "Microscopy"
        return f"Persons presenting with fever {joiner} tested by {how} {_AGE_SUFFIX[age]}"
    how = "RDT" if method is Method.RDT else "Microscopy"
    return f"Persons tested positive for malaria by {how} {_AGE_SUFFIX[age]}"


DHIS2_NAMES: Final = {c: dhis2_name(c) for c in INDICATOR_COLUMNS}

# The ward table's columns (CSV and XLSX), in order.
WARD_TABLE_COLUMNS: Final = (
    "State", "LGA", "Ward", "TPR", "Tested", "Positive", "RDT_Tested", "RDT_Positive",
    "Microscopy_Tested", "Microscopy_Positive", "Facilities", "Reporting_Rows", "Excluded_Rows",
    "Facility_Level", "Age_Group",
)  # fmt: skip

TPR_RULE: Final = (
    "Each facility-month contributes the tested and positive counts of one method, the usable "
    "method (tested > 0 and 0 <= positive <= tested) with more tests, RDT on a tie; "
    "TPR = 100 x positive / tested, pooled over the ward's (or state's) contributing rows."
)
