"""The bot's words: every question, summary and results text (Markdown) with its options.

Pure functions of plain dicts. Every name that comes from a file (state, LGA, ward, file name)
goes through `md()` before it is interpolated, so it cannot open HTML, a table cell or emphasis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from tpr_ws.domain import figures
from tpr_ws.domain.markdown import md_escape
from tpr_ws.domain.schema import AGE_LABELS, AgeGroup, FacilityLevel

LEVELS: Final = tuple(lv.value for lv in FacilityLevel)
AGES: Final = tuple(a.value for a in AgeGroup)
LEVEL_LABELS: Final = {"Primary": "Primary", "Secondary": "Secondary", "Tertiary": "Tertiary",
                       "All": "All levels"}  # fmt: skip
PRIMARY_SHARE_TO_RECOMMEND: Final = 0.7


@dataclass(frozen=True)
class Option:
    """A button: `value` is what the UI sends back as the user's text when it is clicked."""

    label: str
    value: str
    recommended: bool = False
    detail: str = ""
    # False for a choice the file cannot serve: shown, not clickable, the reason in `detail`.
    available: bool = True


md = md_escape  # every name from a file goes through it (short: it is everywhere here)


def code(value: object) -> str:
    return "`" + " ".join(str(value).replace("`", "'").split()) + "`"


def num(value: object) -> str:
    try:
        return f"{int(float(value)):,}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "0"


_PLURALS: Final = {"facility": "facilities", "month": "months", "row": "rows", "test": "tests",
                   "ward": "wards", "more ward": "more wards"}  # fmt: skip


def count(value: object, noun: str) -> str:
    """`value` and the noun, singular for 1: "1 facility", "2,304 facilities"."""
    n = num(value)
    return f"{n} {noun if n == '1' else _PLURALS.get(noun, noun + 's')}"


def pct(value: object) -> str:
    """A percentage rounded once for display, as the page and the files round it."""
    return figures.percent(value)


def get(d: object, *path: str) -> Any:
    """The value at `path` in nested mappings, or None."""
    for key in path:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)
    return d


def age_label(age: str) -> str:
    return AGE_LABELS[AgeGroup(age)] if age in AGES else age


def level_phrase(level: str) -> str:
    return "all facility levels" if level == "All" else f"{level} facilities"


def params_line(state: str, level: str, age: str) -> str:
    return f"**{md(state)}** · {level_phrase(level)} · {age_label(age)}"


# -- awaiting upload -------------------------------------------------------------------------

SAMPLE_OPTION: Final = Option("Use the sample data", "sample", detail="a generated DHIS2 export")

WELCOME: Final = (
    "**Malaria test positivity rate (TPR) by ward.** Upload a monthly DHIS2 health-facility "
    "export and I will compute the TPR of every ward in a state, for the facility level and age "
    "group you choose.\n\nUpload an `.xlsx`, `.xls` or `.csv` file with the upload button, or "
    "try it with the sample data."
)


def upload_question(file_name: str | None) -> tuple[str, list[Option]]:
    if file_name is None:
        return WELCOME, [SAMPLE_OPTION]
    text = (
        "Upload the new file (`.xlsx`, `.xls` or `.csv`) with the upload button. Until you do, "
        f"**{md(file_name)}** stays loaded."
    )
    return text, [SAMPLE_OPTION, Option(f"Continue with {file_name}", "continue")]


# -- upload summary --------------------------------------------------------------------------


def upload_summary(file_name: str, overview: Mapping[str, Any]) -> str:
    states = overview.get("states") or []
    months = overview.get("months") or {}
    span = f"{md(months.get('first', '?'))} to {md(months.get('last', '?'))}"
    span = f"{span} ({count(months.get('count'), 'month')})"
    if months.get("given") is False:
        span = "not given (the file has no period column)"
    facilities = overview.get("facilities")
    lines = [
        f"**{md(file_name)}** is loaded: {num(overview.get('rows'))} facility-month rows.",
        "",
        f"- States: {len(states)}{_listed(states)}",
        f"- LGAs: {num(overview.get('lgas'))} · wards: {num(overview.get('wards'))} · "
        f"facilities: {'not counted' if facilities is None else num(facilities)}",
        f"- Months: {span}",
        f"- Completeness: {pct(get(overview, 'completeness', 'rdt'))} of rows have RDT tests, "
        f"{pct(get(overview, 'completeness', 'microscopy'))} have microscopy tests",
    ]  # fmt: skip
    lacks = get(overview, "coverage", "lacks") or []
    if lacks:
        lines += ["", "**What this file lacks, and what that rules out:**", ""]
        lines += [f"- {md(line)}" for line in lacks]
        lines += ["", "**Data quality:**", ""]
    rows = overview.get("rows")
    lines += [f"- {q}" for q in quality_findings(overview.get("quality") or {}, rows=rows)]
    return "\n".join(lines)


def _listed(names: list[str], most: int = 6) -> str:
    return f" ({', '.join(md(n) for n in names)})" if len(names) <= most else ""


_REPORTED_ABOVE: Final = frozenset({"totals_row", "duplicate", "duplicates", "duplicates_removed"})


def quality_findings(quality: Mapping[str, Any], *, rows: Any = None) -> list[str]:
    found = []
    if quality.get("rows_read") is not None:
        found.append(_rows_read(quality.get("rows_read"), rows))
    labels = (
        ("duplicates_removed", "exact duplicate rows removed"),
        ("positives_gt_tested", "rows with positives greater than tested (excluded by the rule)"),
        ("negative_values", "negative counts (excluded by the rule)"),
        ("unknown_wards", "rows with an unknown ward"),
    )
    found += [f"{num(quality[k])} {label}" for k, label in labels if num(quality.get(k)) != "0"]
    if quality.get("totals_row_dropped"):
        found.append("A totals row at the bottom was dropped")
    dropped = quality.get("dropped") or {}
    if isinstance(dropped, Mapping):
        found += [
            f"Rows dropped ({md(str(why).replace('_', ' '))}): {num(n)}"
            for why, n in dropped.items()
            if n and why not in _REPORTED_ABOVE
        ]
    found += [split_finding(s) for s in quality.get("split_indicators") or []]
    found += [md(w) for w in quality.get("warnings") or []]
    return found or ["No data-quality problems found"]


def _rows_read(read: Any, kept: Any) -> str:
    """Rows read from the file beside the rows kept, so "4,817" and "4,800" do not puzzle."""
    try:
        removed = int(read) - int(kept)
    except (TypeError, ValueError):
        return f"Rows read from the file: {num(read)}"
    if removed <= 0:
        return f"Rows read from the file: {num(read)}, all kept"
    return (
        f"Rows read from the file: {num(read)}; the {num(kept)} rows above are what is left "
        f"after cleaning ({count(removed, 'row')} removed: see the lines below)"
    )


def split_finding(split: Mapping[str, Any]) -> str:
    """One indicator split over several columns: how each row was counted, and where the
    columns disagreed (their sum counted), by ward and month."""
    text = (
        f"{code(split.get('indicator', ''))} is split over {num(split.get('columns'))} columns "
        "(a form change). On each row the column that reports is used (blank and 0 mean not "
        "reported)"
    )
    same, summed = split.get("rows_same_number"), split.get("rows_summed")
    if num(same) != "0":
        text += f"; on {count(same, 'row')} they report the same number, counted once"
    if num(summed) == "0":
        return text + "."
    wards = [
        f"{md(w.get('ward', ''))} ({md(w.get('lga', ''))}, {md(w.get('state', ''))}): "
        f"{', '.join(md(m) for m in w.get('months') or [])}"
        for w in split.get("summed_in") or []
    ]
    more = int(split.get("wards_summed") or 0) - len(wards)
    listed = "; ".join(wards) + (f"; and {count(more, 'more ward')}" if more > 0 else "")
    return (
        f"{text}. **Data-quality finding:** on {count(summed, 'row')} the columns report "
        f"different numbers and their sum is counted, in {listed}."
    )


# -- help ------------------------------------------------------------------------------------

HELP_BY_STAGE: Final = {
    "awaiting_upload": "upload a DHIS2 export (`.xlsx`, `.xls` or `.csv`) with the upload "
    "button, or type `sample` to try the sample data.",
    "select_state": "type a state's number (`1`) or its name (`Adamawa`, `kano state`); small "
    "misspellings are fine.",
    "select_facility_level": "type a number or a level: `primary` (or `PHC`), `secondary`, "
    "`tertiary`, `all levels`.",
    "select_age_group": "type a number or an age group: `under 5` (or `u5`, `kids`), "
    "`5 and over` (or `adults`), `pregnant` (or `pw`), `all ages`.",
    "results": "change one choice and I recompute at once: `pregnant women`, `all levels`, "
    "`primary`, a state's name, `change state`; or `upload a new file`.",
}
COMMANDS_HELP: Final = (
    "At any step: `back` (previous step), `restart` (start over, keep nothing), "
    "`status` (where you are and what you chose), `analyses` (your earlier results), `help`."
)


# -- results ---------------------------------------------------------------------------------

DOWNLOADS: Final = (
    {"kind": "csv", "label": "Ward table (CSV)"},
    {"kind": "xlsx", "label": "Ward table (Excel)"},
    {"kind": "html", "label": "Report (HTML)"},
    {"kind": "md", "label": "Report (Markdown)"},
)
TOP_WARDS: Final = 10


def results_actions(overview: Mapping[str, Any], analyses: int = 0) -> list[Option]:
    """The buttons under results; "Earlier analyses" once there is more than one."""
    options = [
        Option("Change facility level", "change level"),
        Option("Change age group", "change age"),
        Option("Upload a new file", "upload"),
        Option("Start over", "restart"),
    ]
    if len(overview.get("states") or []) > 1:
        options.insert(0, Option("Change state", "change state"))
    if analyses > 1:
        options.insert(-2, Option("Earlier analyses", "analyses", detail=f"{analyses} so far"))
    return options


def top_wards_table(wards: list[Mapping[str, Any]]) -> list[str]:
    rows = ["| # | Ward | LGA | TPR | Tested |", "|---:|---|---|---:|---:|"]
    for i, w in enumerate(wards[:TOP_WARDS], 1):
        rows.append(
            f"| {i} | {md(w.get('ward', ''))} | {md(w.get('lga', ''))} | {pct(w.get('tpr'))} | "
            f"{num(w.get('tested'))} |"
        )
    return rows


def results_text(summary: Mapping[str, Any], state: str, level: str, age: str) -> str:
    head = f"**Results:** {params_line(state, level, age)}"
    stats = summary.get("stats") or {}
    if summary.get("state_tpr") is None or num(summary.get("tested")) == "0":
        return (
            f"{head}\n\nNo tests are recorded for this selection, so there is no TPR to show "
            f"({count(summary.get('wards_total'), 'ward')}, none with data"
            f"{wards_without(summary, level)}). Try another age group or facility level."
        )
    lines = [
        head,
        "",
        f"**State TPR: {pct(summary.get('state_tpr'))}** ({num(summary.get('positive'))} "
        f"positive of {num(summary.get('tested'))} tested, pooled over all wards)",
        "",
        f"- Wards: {num(summary.get('wards_total'))}; {num(summary.get('wards_with_data'))} with "
        f"data, {num(summary.get('wards_no_data'))} without data"
        f"{wards_without(summary, level)}",
        f"- Ward TPR distribution: mean {pct(stats.get('mean'))}, median "
        f"{pct(stats.get('median'))}, min {pct(stats.get('min'))}, max {pct(stats.get('max'))}",
        f"- Wards above 50%: {num(summary.get('above_50'))} · above 70%: "
        f"{num(summary.get('above_70'))}",
        "",
        f"**Top {min(TOP_WARDS, len(summary.get('top_wards') or []))} wards by TPR**",
        "",
        *top_wards_table(list(summary.get("top_wards") or [])),
        "",
        f"**Data quality:** {results_quality(summary.get('quality') or {})}",
        "",
        f"**Rule:** {md(summary.get('rule', ''))}",
    ]
    return "\n".join(lines)


def wards_without(summary: Mapping[str, Any], level: str) -> str:
    """Why wards have no data: no facility at the level, or no usable tests reported."""
    if "wards_no_facility" not in summary:  # a summary from before these counts existed
        return ""
    none_here, no_tests = summary.get("wards_no_facility"), summary.get("wards_no_usable_tests")
    where = "no facility in the file" if level == "All" else f"no {level.lower()} facility"
    return (
        f": {num(none_here)} with {where}, {num(no_tests)} whose facilities reported no usable "
        "tests"
    )


def results_quality(q: Mapping[str, Any]) -> str:
    notes = []
    if num(q.get("excluded_rows")) != "0":
        notes.append(
            f"{count(q.get('excluded_rows'), 'row')} excluded (positives greater than tested or "
            f"negative counts) in {count(q.get('wards_with_excluded_rows'), 'ward')}"
        )
    notes.append(
        f"{num(q.get('reporting_rows'))} facility-month rows reported tests for this selection, "
        f"{num(q.get('rows_without_data'))} did not"
    )
    return "; ".join(notes) + "."


def results_data(summary: Mapping[str, Any], state: str, level: str, age: str) -> dict[str, Any]:
    return {
        "results": dict(summary),
        "downloads": [dict(d) for d in DOWNLOADS],
        "params": {"state": state, "level": level, "age": age, "age_label": age_label(age)},
    }
