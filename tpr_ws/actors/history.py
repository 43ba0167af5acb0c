"""The session's analyses: how they are recorded, named, listed and asked for again.

Pure functions of the state's `analyses` tuple (oldest first). An analysis is named by its
choices and the time it was first shown: "Adamawa · Primary · Under 5 · 14:02 UTC" (with the
date when the list spans several days). A reply asks for one again with the button value
`open:<result key>` or by its number in the list ("open 2", "reopen 2").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from tpr_ws.actors import messages as msg
from tpr_ws.actors.messages import Option
from tpr_ws.actors.state import MAX_ANALYSES, Analysis

OPEN_PREFIX: Final = "open:"
_OPEN_NUMBER: Final = re.compile(
    r"^\s*(?:re)?open\s+(?:analysis\s+|number\s+|no\.?\s*)?#?(\d{1,3})\s*$", re.IGNORECASE
)


def record(analyses: tuple[Analysis, ...], new: Analysis) -> tuple[Analysis, ...]:
    """The list with `new` added (once per key: the first time shown is kept), capped."""
    if any(a.key == new.key for a in analyses):
        return analyses
    return (*analyses, new)[-MAX_ANALYSES:]


def find(analyses: Sequence[Analysis], key: str) -> Analysis | None:
    return next((a for a in analyses if a.key == key), None)


def requested(analyses: Sequence[Analysis], text: str) -> Analysis | bool | None:
    """The analysis a reply asks to open again; False if the reply is not such a request,
    None if it is one that names no analysis of the list."""
    clean = text.strip()
    if clean.startswith(OPEN_PREFIX):
        return find(analyses, clean[len(OPEN_PREFIX) :])
    m = _OPEN_NUMBER.match(clean)
    if m is None:
        return False
    n = int(m.group(1))
    return analyses[n - 1] if 1 <= n <= len(analyses) else None


def _when(at: float, with_date: bool) -> str:
    t = datetime.fromtimestamp(at, tz=UTC)
    return (f"{t.day} {t:%b} " if with_date else "") + f"{t:%H:%M} UTC"


def _one_day(analyses: Sequence[Analysis]) -> bool:
    return len({datetime.fromtimestamp(a.at, tz=UTC).date() for a in analyses}) <= 1


def label(a: Analysis, analyses: Sequence[Analysis] = ()) -> str:
    """ "Adamawa · Primary · Under 5 · 14:02 UTC" (plain text, not Markdown)."""
    level = msg.LEVEL_LABELS.get(a.level, a.level)
    with_date = not _one_day([*analyses, a])
    return f"{a.state} · {level} · {msg.age_label(a.age)} · {_when(a.at, with_date)}"


def describe(a: Analysis, analyses: Sequence[Analysis]) -> dict[str, Any]:
    """What a results event says about its analysis (the page names its card with it)."""
    return {"key": a.key, "label": label(a, analyses), "at": a.at, "file_name": a.file_name,
            "state": a.state, "level": a.level, "age": a.age}  # fmt: skip


def list_text(analyses: Sequence[Analysis], current: str | None) -> tuple[str, list[Option]]:
    """The analyses as a numbered list with one button each (the one shown now marked)."""
    if not analyses:
        return ("No analyses yet: pick a state, a facility level and an age group first.", [])
    lines = [f"**Your analyses** ({len(analyses)}, oldest first):", ""]
    options = []
    for n, a in enumerate(analyses, 1):
        name = label(a, analyses)
        shown = " (shown now)" if a.key == current else ""
        lines.append(f"{n}. {msg.md(name)}, file {msg.md(a.file_name)}{shown}")
        options.append(Option(name, OPEN_PREFIX + a.key, detail=a.file_name))
    lines += ["", "Pick one to open it again, or type its number, e.g. `open 1`."]
    return "\n".join(lines), options
