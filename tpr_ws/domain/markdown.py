"""Text from a file (place names, file names) made inert in Markdown, for the chat and the
Markdown report alike."""

from __future__ import annotations

import re
from typing import Final

# Every character that can start emphasis, code, a link, a tag, an entity, a table cell, a
# heading or an HTML block; CommonMark shows a backslash-escaped one literally.
_ACTIVE: Final = re.compile(r"([\\`*_{}\[\]<>#+!|~&])")


def md_escape(value: object) -> str:
    """`value` on one line, shown literally by any CommonMark renderer (and so unable to make
    HTML); ordinary names read unchanged ("Lamurde Ward (Lamurde)")."""
    return _ACTIVE.sub(r"\\\1", " ".join(str(value).split()))
