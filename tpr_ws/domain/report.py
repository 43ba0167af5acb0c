"""The summary report of one analysis: its facts once, rendered as Markdown (here), HTML
(`report_html`) and an XLSX "Summary" sheet (`report_xlsx`), so all three say the same.

Facts are plain text (nothing escaped): each renderer escapes for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from tpr_ws.domain import figures
from tpr_ws.domain.markdown import md_escape
from tpr_ws.domain.tpr import TprResult

LEVEL_NAMES: Final = {"All": "All levels"}


@dataclass(frozen=True)
class Audit:
    """How an analysis was made: the file (name, SHA-256), rows used, versions, time."""

    file_name: str
    sha256: str
    rows_used: int
    rule_version: int
    product_version: str
    computed_at: float  # seconds since the epoch


@dataclass(frozen=True)
class Ward:
    rank: int
    lga: str
    ward: str
    tpr: str
    tested: str
    positive: str


@dataclass(frozen=True)
class ReportFacts:
    """Everything a report shows, as display strings (rounded once, here)."""

    state: str
    subtitle: str
    headline: str  # the pooled state TPR, e.g. "12.3%", or "no data"
    headline_detail: str
    parameters: list[tuple[str, str]]
    results: list[tuple[str, str]]
    histogram: list[tuple[str, int]]  # band label, wards
    top_wards: list[Ward]
    quality: list[str]
    rule: str
    audit: list[tuple[str, str]]


def pct(value: Any) -> str:
    """A rate rounded once, as the chat and the page show it (`figures`)."""
    return figures.percent(value, 1, missing="no data")


def count(value: Any) -> str:
    return f"{int(value or 0):,}"


def when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _band(b: dict[str, Any]) -> str:
    return f"{b['from']}% and over" if b.get("to") is None else f"{b['from']}–{b['to']}%"


def _wards_without(s: dict[str, Any]) -> list[tuple[str, str]]:
    """Why wards have no data, when the summary says (no facility at the level, or facilities
    without usable tests)."""
    if "wards_no_facility" not in s:
        return []
    return [
        ("… with no facility at this level", count(s.get("wards_no_facility"))),
        ("… whose facilities reported no usable tests", count(s.get("wards_no_usable_tests"))),
    ]


def _quality(q: dict[str, Any]) -> list[str]:
    notes = [
        f"Facility-month rows that reported usable tests for this choice: "
        f"{count(q.get('reporting_rows'))}; rows without usable data: "
        f"{count(q.get('rows_without_data'))}.",
    ]
    if q.get("excluded_rows"):
        notes.append(
            f"Rows excluded for a method with negative counts or positives above tested: "
            f"{count(q.get('excluded_rows'))} (in {count(q.get('wards_with_excluded_rows'))} "
            "wards); they still count through the other method when it is usable."
        )
    else:
        notes.append("No row had negative counts or positives above tested.")
    return notes


def report_facts(result: TprResult, audit: Audit) -> ReportFacts:
    """The report's content for one analysis and its audit facts."""
    s = result.summary
    stats = s.get("stats") or {}
    level = LEVEL_NAMES.get(result.level.value, result.level.value)
    tested, positive = s.get("tested") or 0, s.get("positive") or 0
    top = [
        Ward(n, str(w["lga"]), str(w["ward"]), pct(w["tpr"]), count(w["tested"]),
             count(w["positive"]))
        for n, w in enumerate(s.get("top_wards") or [], 1)
    ]  # fmt: skip
    return ReportFacts(
        state=result.state,
        subtitle=f"{level} · {result.age.label}",
        headline=pct(s.get("state_tpr")),
        headline_detail=f"{count(positive)} positive of {count(tested)} tested, pooled over "
        "all wards",
        parameters=[("State", result.state), ("Facility level", level),
                    ("Age group", result.age.label), ("Source file", audit.file_name)],
        results=[
            ("State TPR (pooled)", pct(s.get("state_tpr"))),
            ("Persons tested", count(tested)),
            ("Persons positive", count(positive)),
            ("Wards", count(s.get("wards_total"))),
            ("Wards with data", count(s.get("wards_with_data"))),
            ("Wards without data", count(s.get("wards_no_data"))),
            *_wards_without(s),
            ("Median ward TPR", pct(stats.get("median"))),
            ("Mean ward TPR", pct(stats.get("mean"))),
            ("Lowest ward TPR", pct(stats.get("min"))),
            ("Highest ward TPR", pct(stats.get("max"))),
            ("Wards above 50%", count(s.get("above_50"))),
            ("Wards above 70%", count(s.get("above_70"))),
        ],
        histogram=[(_band(b), int(b["count"])) for b in s.get("histogram") or []],
        top_wards=top,
        quality=_quality(s.get("quality") or {}),
        rule=str(s.get("rule") or ""),
        audit=[("File", audit.file_name), ("SHA-256 of the file", audit.sha256),
               ("Rows used", f"{audit.rows_used:,} facility-month rows"),
               ("Rule version", str(audit.rule_version)),
               ("Product version", f"tpr_ws {audit.product_version}"),
               ("Computed", when(audit.computed_at))],
    )  # fmt: skip


def rows_used(result: TprResult) -> int:
    """The facility-month rows of the selection (those with and without usable tests)."""
    q = result.summary.get("quality") or {}
    return int(q.get("reporting_rows") or 0) + int(q.get("rows_without_data") or 0)


def report_markdown(facts: ReportFacts) -> str:
    """The report as Markdown text (every file-derived name escaped)."""
    e = md_escape
    lines = [f"# Malaria test positivity rate: {e(facts.state)}", "", e(facts.subtitle), ""]
    lines += [f"**State TPR: {facts.headline}** ({facts.headline_detail})", ""]
    lines += ["## Parameters", "", *(f"- {k}: {e(v)}" for k, v in facts.parameters), ""]
    lines += ["## Results", "", *(f"- {k}: {v}" for k, v in facts.results), ""]
    lines += ["## Ward TPR distribution", "", "| TPR band | Wards |", "|---|---:|"]
    lines += [f"| {band} | {n:,} |" for band, n in facts.histogram]
    lines += ["", "## Highest TPR wards", ""]
    if facts.top_wards:
        lines += ["| # | LGA | Ward | TPR | Tested | Positive |", "|---:|---|---|---:|---:|---:|"]
        lines += [f"| {w.rank} | {e(w.lga)} | {e(w.ward)} | {w.tpr} | {w.tested} | "
                  f"{w.positive} |" for w in facts.top_wards]  # fmt: skip
    else:
        lines.append("No ward has data for this choice.")
    lines += ["", "## Data quality", "", *(f"- {n}" for n in facts.quality), ""]
    lines += ["## Rule", "", facts.rule, ""]
    lines += ["## Audit", "", *(f"- {k}: {e(v)}" for k, v in facts.audit)]
    return "\n".join(lines) + "\n"
