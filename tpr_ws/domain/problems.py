"""What makes a sheet unusable, said in the analyst's words, all at once.

Only a file that can answer nothing is refused: one without the state, LGA or ward column, or
without a single tested/positive pair (one method, one age group). Anything else a file lacks
only rules some choices out (`coverage.Coverage.lacks`).
"""

from __future__ import annotations

from tpr_ws.domain import schema
from tpr_ws.domain.coverage import REQUIRED_ROLES, coverage_of
from tpr_ws.domain.headers import ROLE_LABELS, HeaderMap

_EXAMPLE_PAIR = (
    f"'{schema.DHIS2_NAMES['rdt_tested_u5']}' with '{schema.DHIS2_NAMES['rdt_positive_u5']}'"
)


def header_problems(header_map: HeaderMap) -> list[str]:
    """Every reason the recognised header row cannot be used (empty when it can)."""
    problems: list[str] = []
    roles = [ROLE_LABELS[role] for role in REQUIRED_ROLES if role not in header_map.roles]
    if roles:
        problems.append(f"Missing geography columns: {'; '.join(roles)}.")
    if not coverage_of(header_map).pairs:
        problems.append(_no_pair(header_map))
    return problems


def _no_pair(header_map: HeaderMap) -> str:
    """Why no TPR can be computed: the indicator columns found and those missing."""
    text = (
        "No tested/positive pair: a TPR needs the tested and the positive column of at least "
        f"one method and age group (for example {_EXAMPLE_PAIR})."
    )
    found = [c for c in schema.INDICATOR_COLUMNS if c in header_map.indicators]
    if not found:
        return f"{text} No indicator column was recognised."
    missing = [c for c in schema.INDICATOR_COLUMNS if c not in header_map.indicators]
    listed = "; ".join(f"'{schema.DHIS2_NAMES[c]}'" for c in found)
    lacking = "; ".join(f"'{schema.DHIS2_NAMES[c]}'" for c in missing)
    return f"{text} Found {len(found)}: {listed}. Missing {len(missing)}: {lacking}."
