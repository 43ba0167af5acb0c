"""The specification lives in the repository: docs link to files that exist, nothing points
outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_OUTSIDE = re.compile(r"\.\./shared/|/shared/(DESIGN|DOMAIN|STYLE)\.md")


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def test_markdown_links_point_at_files_of_the_repository() -> None:
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in _LINK.findall(doc.read_text()):
            if "://" in target:
                continue
            if not (doc.parent / target).resolve().is_file():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_specification_is_in_docs() -> None:
    for name in ("DESIGN.md", "DOMAIN.md", "PROTOCOL.md", "DEVELOPING.md"):
        assert (ROOT / "docs" / name).is_file(), name
        assert f"docs/{name}" in (ROOT / "README.md").read_text(), f"README links {name}"


def test_nothing_points_outside_the_repository() -> None:
    files = _tracked("*.py", "*.md", "*.js", "*.html", "*.css", "*.toml", "*.conf", ".ci/*")
    offenders = [
        str(path.relative_to(ROOT))
        for path in files
        if path.name != "test_docs.py" and _OUTSIDE.search(path.read_text(errors="replace"))
    ]
    assert offenders == []
