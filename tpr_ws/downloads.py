"""The downloads of a session's analyses: the ward table (CSV, Excel with a Summary sheet) and
the report (HTML, Markdown), rendered from the stored result object and the session's record of
the analysis (file name, time), so a link to one analysis always returns the same bytes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Final

from tpr_ws.actors import history
from tpr_ws.actors.state import Analysis, WorkflowState, load_state
from tpr_ws.analyses import AnalysisStore
from tpr_ws.domain import outputs
from tpr_ws.domain.analysis import StoredResult, result_key
from tpr_ws.domain.blob import upload_sha256
from tpr_ws.domain.report import Audit, ReportFacts, report_facts, report_markdown, rows_used
from tpr_ws.domain.report_html import report_html
from tpr_ws.domain.report_xlsx import analysis_xlsx
from tpr_ws.errors import ErrorCode, NotFound


@dataclass(frozen=True)
class Format:
    extension: str
    content_type: str
    label: str


FORMATS: Final = {
    "csv": Format("csv", "text/csv; charset=utf-8", "Ward table (CSV)"),
    "xlsx": Format(
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Ward table (Excel)",
    ),
    "html": Format("html", "text/html; charset=utf-8", "Report (HTML)"),
    "md": Format("md", "text/markdown; charset=utf-8", "Report (Markdown)"),
}


@dataclass(frozen=True)
class Download:
    file_name: str
    content_type: str
    body: bytes


def _render(fmt: str, stored: StoredResult, facts: ReportFacts, at: float) -> bytes:
    result = stored.result
    if fmt == "csv":
        return outputs.ward_table_csv(result)
    if fmt == "xlsx":
        return analysis_xlsx(result, facts, at)
    if fmt == "html":
        return report_html(facts).encode()
    return report_markdown(facts).encode()


def analysis_of(state: WorkflowState, key: str | None) -> Analysis:
    """The session's analysis `key`, or its latest results (None); NotFound if it has none."""
    if key is not None:
        found = history.find(state.analyses, key)
        if found is None:
            raise NotFound("This session has no such analysis.", code=ErrorCode.UNKNOWN_RESULT)
        return found
    r, d = state.results, state.dataset
    if r is None or d is None:
        raise NotFound("There are no results yet: finish the workflow first.")
    found = history.find(state.analyses, r.key)
    if found is not None:
        return found
    # Results of a session written before analyses were recorded: address them now.
    return Analysis(result_key(d.blob_key, r.state, r.level, r.age), d.blob_key, d.file_name,
                    r.state, r.level, r.age, time.time())  # fmt: skip


class Downloads:
    """Render one analysis of a session in one format."""

    def __init__(self, analyses: AnalysisStore) -> None:
        self._analyses = analyses

    def owned(self, state_bytes: bytes | None, key: str) -> Analysis:
        """The session's record of analysis `key` (NotFound unless the session has it)."""
        return analysis_of(load_state(state_bytes), key)

    async def render(self, state_bytes: bytes | None, key: str | None, fmt: str) -> Download:
        """Analysis `key` of the session (None: its latest results) as `fmt`."""
        a = analysis_of(load_state(state_bytes), key)
        stored = await self._analyses.get_or_compute(a.dataset, a.state, a.level, a.age, key=a.key)
        # The audit names the file's SHA-256, not the dataset key (which adds the parse version).
        audit = Audit(a.file_name, upload_sha256(a.dataset), rows_used(stored.result),
                      stored.rule_version, stored.product_version, a.at)  # fmt: skip
        facts = report_facts(stored.result, audit)
        body = await asyncio.to_thread(_render, fmt, stored, facts, a.at)
        spec = FORMATS[fmt]
        name = outputs.output_filename(a.state, a.level, a.age, spec.extension)
        return Download(file_name=name, content_type=spec.content_type, body=body)
