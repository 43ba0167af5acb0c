"""The choice questions (state, facility level, age group) and which choices a file can serve.

A choice the file cannot serve is still shown, marked unavailable with the reason (DOMAIN.md):
a level without facilities in the state, every level but All when the file can tell no level
apart, an age group the file has no columns for. `unavailable_reason` says why, for the
workflow to explain a typed reply that picks one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tpr_ws.actors.messages import (
    AGES,
    LEVEL_LABELS,
    LEVELS,
    PRIMARY_SHARE_TO_RECOMMEND,
    Option,
    age_label,
    count,
    get,
    level_phrase,
    md,
    num,
    pct,
)

AGE_COLUMNS: Final = {"u5": "under-5", "o5": "5-and-over", "pw": "pregnant-women"}
_POOLED: Final = {"u5": "Under 5", "o5": "5 and over", "pw": "pregnant women"}


def state_question(overview: Mapping[str, Any]) -> tuple[str, list[Option]]:
    states = [str(s) for s in overview.get("states") or []]
    options = []
    for s in states:
        d = get(overview, "by_state", s) or {}
        detail = f"{count(d.get('rows'), 'row')} · {_facilities(d)}{count(d.get('tests'), 'test')}"
        options.append(Option(s, s, detail=detail))
    return f"This file holds {len(states)} states. **Which state?**", options


def _facilities(stats: Mapping[str, Any]) -> str:
    """ "868 facilities · ", or nothing when the file does not name its facilities."""
    if "facilities" in stats and stats["facilities"] is None:
        return ""
    return f"{count(stats.get('facilities'), 'facility')} · "


def level_stats(overview: Mapping[str, Any], state: str, level: str) -> Mapping[str, Any]:
    stats = get(overview, "by_state", state, "levels", level)
    return stats if isinstance(stats, Mapping) else {}


def level_unavailable(overview: Mapping[str, Any], state: str, level: str) -> str | None:
    """Why `level` cannot be chosen in `state`, or None when it can."""
    if level == "All":
        return None
    if get(overview, "coverage", "levels_known") is False:
        return "this file has no facility level column and no facility column"
    stats = level_stats(overview, state, level)
    if num(stats.get("rows")) == "0" and num(stats.get("facilities")) == "0":
        return f"no {level.lower()} facilities in {state}'s data"
    return None


def age_unavailable(overview: Mapping[str, Any], age: str) -> str | None:
    """Why `age` cannot be chosen, or None when it can."""
    ages = get(overview, "coverage", "ages")
    if age == "all" or not isinstance(ages, list) or age in ages:
        return None
    return f"this file has no {AGE_COLUMNS.get(age, age)} columns"


def unavailable_reason(
    overview: Mapping[str, Any], state: str, kind: str, value: str
) -> str | None:
    """Why a level or age choice (kind "level" or "age") cannot be chosen, or None."""
    if kind == "level":
        return level_unavailable(overview, state, value)
    if kind == "age":
        return age_unavailable(overview, value)
    return None


def available_levels(overview: Mapping[str, Any], state: str) -> list[str]:
    """The levels that can be chosen in the state (All always can)."""
    return [lv for lv in LEVELS if level_unavailable(overview, state, lv) is None]


def primary_share(overview: Mapping[str, Any], state: str) -> float:
    """Primary's share of the state's records, 0..1."""
    primary = level_stats(overview, state, "Primary").get("rows") or 0
    total = level_stats(overview, state, "All").get("rows") or get(
        overview, "by_state", state, "rows"
    )
    try:
        return float(primary) / float(total) if float(total) > 0 else 0.0
    except (TypeError, ValueError):
        return 0.0


def level_question(overview: Mapping[str, Any], state: str) -> tuple[str, list[Option]]:
    share = primary_share(overview, state)
    rec = (
        share >= PRIMARY_SHARE_TO_RECOMMEND
        and level_unavailable(overview, state, "Primary") is None
    )
    options = []
    for lv in LEVELS:
        reason = level_unavailable(overview, state, lv)
        if reason is not None:
            options.append(Option(LEVEL_LABELS[lv], lv, detail=f"unavailable: {reason}",
                                  available=False))  # fmt: skip
            continue
        s = level_stats(overview, state, lv)
        detail = f"{_facilities(s)}{count(s.get('tests'), 'test')}"
        options.append(
            Option(LEVEL_LABELS[lv], lv, recommended=rec and lv == "Primary", detail=detail)
        )
    text = f"**Which facility level** in {md(state)}?"
    if rec:
        text += f" Primary is recommended: it holds {share:.0%} of the state's records."
    return text, options


def age_question(overview: Mapping[str, Any], state: str, level: str) -> tuple[str, list[Option]]:
    options = []
    for age in AGES:
        reason = age_unavailable(overview, age)
        if reason is not None:
            options.append(Option(age_label(age), age, detail=f"unavailable: {reason}",
                                  available=False))  # fmt: skip
            continue
        s = get(level_stats(overview, state, level), "ages", age) or {}
        tests = num(s.get("tests"))
        detail = (
            "no tests recorded"
            if tests == "0"
            else f"{tests} tests · data in {pct(s.get('pct_rows_with_data'))} of rows"
        )
        if age == "all":
            detail = f"{detail} · {_pooled(overview)}"
        rec = age == "u5" and tests != "0"
        options.append(Option(age_label(age), age, recommended=rec, detail=detail))
    text = f"**Which age group?** ({md(state)}, {level_phrase(level)}.)"
    if any(o.recommended for o in options):
        text += " Under 5 is recommended."
    return text, options


def _pooled(overview: Mapping[str, Any]) -> str:
    """Which age groups "All ages" adds up in this file."""
    ages = get(overview, "coverage", "ages")
    if not isinstance(ages, list) or len(ages) == len(_POOLED):
        return "the three groups together"
    missing = [_POOLED[a] for a in _POOLED if a not in ages]
    present = " and ".join(_POOLED[a] for a in ages if a in _POOLED)
    return f"pools {present} (no {' or '.join(missing)} columns)"
