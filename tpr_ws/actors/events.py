"""What the workflow machine is fed (events: facts) and what it asks for (effects: imperatives)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tpr_ws.actors.messages import Option
from tpr_ws.actors.state import Stage

# -- events (facts) --------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStarted:
    """A session was created, or a client asks for the current question again."""


@dataclass(frozen=True)
class MessageReceived:
    """The user typed a reply or clicked a choice (its value)."""

    text: str


@dataclass(frozen=True)
class UploadStarted:
    """A file is on its way (no answer needed)."""

    file_name: str
    size: int


@dataclass(frozen=True)
class FileUploaded:
    """A file was parsed and stored under `blob_key`; `overview` is describe_dataset's summary."""

    blob_key: str
    file_name: str
    overview: dict[str, Any]


@dataclass(frozen=True)
class UploadFailed:
    """A file could not be used; `problems` says every reason."""

    file_name: str
    problems: list[str]


@dataclass(frozen=True)
class ResultsComputed:
    """The answer to `ComputeResults`: compute_tpr's summary for these choices; `key` addresses
    the stored result object, `dataset` is the blob key it was computed from, `at` the host's
    clock (seconds since the epoch)."""

    state: str
    level: str
    age: str
    summary: dict[str, Any]
    key: str = ""
    dataset: str = ""
    at: float = 0.0


Event = (
    SessionStarted | MessageReceived | UploadStarted | FileUploaded | UploadFailed | ResultsComputed
)


# -- effects (imperatives) -------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Show this bot message (Markdown) with its choices, for `stage`."""

    text: str
    stage: Stage
    options: list[Option] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ComputeResults:
    """Compute TPR for these choices on the dataset `blob_key`; answer with ResultsComputed.
    With a `key`, the stored result object of that key if it is still kept (an analysis
    opened again: not recomputed)."""

    blob_key: str
    state: str
    level: str
    age: str
    key: str = ""


@dataclass(frozen=True)
class LoadSample:
    """Load the sample file; answer with FileUploaded."""


Effect = Reply | ComputeResults | LoadSample
