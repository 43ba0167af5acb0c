"""The workflow's versioned state: frozen dataclasses, their JSON form (orjson) and migrations.

The checkpoint is JSON with a schema version `"v"`. An older version is migrated on load, one
step at a time through `MIGRATIONS`; a newer one (written by a newer release during a rolling
deploy) is refused with `StateVersionError`. The dataset is held by its blob key only, plus the
small overview dict the conversation quotes from; each analysis by its result key only (its
table and summary live in the result object).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import orjson

from tpr_ws.errors import ServerError, StateVersionError

VERSION: Final = 2
MAX_ANALYSES: Final = 40  # the oldest analysis leaves the list past this


class Stage(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    SELECT_STATE = "select_state"
    SELECT_FACILITY_LEVEL = "select_facility_level"
    SELECT_AGE_GROUP = "select_age_group"
    RESULTS = "results"


@dataclass(frozen=True)
class Dataset:
    """A parsed upload: where its tidy data lives and what describe_dataset said about it."""

    blob_key: str
    file_name: str
    overview: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"blob_key": self.blob_key, "file_name": self.file_name, "overview": self.overview}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Dataset:
        return cls(str(d["blob_key"]), str(d["file_name"]), dict(d.get("overview") or {}))


@dataclass(frozen=True)
class Choices:
    """What the user picked so far: a state name, a FacilityLevel value, an AgeGroup value."""

    state: str | None = None
    level: str | None = None
    age: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "level": self.level, "age": self.age}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Choices:
        return cls(d.get("state"), d.get("level"), d.get("age"))


@dataclass(frozen=True)
class Results:
    """The last results shown: their parameters, compute_tpr's summary and the result key."""

    state: str
    level: str
    age: str
    summary: dict[str, Any]
    key: str = ""

    @property
    def choices(self) -> Choices:
        return Choices(self.state, self.level, self.age)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "level": self.level, "age": self.age,
                "summary": self.summary, "key": self.key}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Results:
        return cls(str(d["state"]), str(d["level"]), str(d["age"]),
                   dict(d.get("summary") or {}), str(d.get("key") or ""))  # fmt: skip


@dataclass(frozen=True)
class Analysis:
    """One analysis of the session: its result key, what it was computed from, and when it
    was first shown (seconds since the epoch, from the host)."""

    key: str
    dataset: str
    file_name: str
    state: str
    level: str
    age: str
    at: float

    @property
    def choices(self) -> Choices:
        return Choices(self.state, self.level, self.age)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "dataset": self.dataset, "file_name": self.file_name,
                "state": self.state, "level": self.level, "age": self.age,
                "at": self.at}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Analysis:
        return cls(str(d["key"]), str(d["dataset"]), str(d["file_name"]), str(d["state"]),
                   str(d["level"]), str(d["age"]), float(d["at"]))  # fmt: skip


@dataclass(frozen=True)
class WorkflowState:
    """One session's conversation.

    Invariants the workflow keeps: at AWAITING_UPLOAD the choices are empty; `results` is set at
    RESULTS, and at an earlier stage only while the user is changing one choice after results
    (then `back` returns to them).
    """

    stage: Stage = Stage.AWAITING_UPLOAD
    dataset: Dataset | None = None
    choices: Choices = field(default_factory=Choices)
    results: Results | None = None
    analyses: tuple[Analysis, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "stage": self.stage.value,
            "dataset": self.dataset.to_dict() if self.dataset else None,
            "choices": self.choices.to_dict(),
            "results": self.results.to_dict() if self.results else None,
            "analyses": [a.to_dict() for a in self.analyses],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WorkflowState:
        dataset, results = d.get("dataset"), d.get("results")
        return cls(
            stage=Stage(d["stage"]),
            dataset=Dataset.from_dict(dataset) if dataset else None,
            choices=Choices.from_dict(d.get("choices") or {}),
            results=Results.from_dict(results) if results else None,
            analyses=tuple(Analysis.from_dict(a) for a in d.get("analyses") or ()),
        )


def _v0_to_v1(d: dict[str, Any]) -> dict[str, Any]:
    """v0 (prototype checkpoints) named the stage `step` and the dataset `upload`."""
    out = {k: v for k, v in d.items() if k not in ("step", "upload")}
    out["stage"] = d.get("step", Stage.AWAITING_UPLOAD.value)
    out["dataset"] = d.get("upload")
    return out


def _v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
    """v1 kept no list of analyses and no result key (its results are recomputed on demand)."""
    return {**d, "analyses": []}


# MIGRATIONS[n] turns a version-n dict into a version-(n + 1) dict.
MIGRATIONS: Final[Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    0: _v0_to_v1,
    1: _v1_to_v2,
}


def migrate(d: dict[str, Any]) -> dict[str, Any]:
    """Bring a checkpoint dict of any known version up to VERSION."""
    version = d.get("v", 0)
    if not isinstance(version, int) or version < 0:
        raise ServerError(f"session state has an invalid version marker: {version!r}")
    if version > VERSION:
        raise StateVersionError(
            f"session state was written by a newer release (state version {version}, this "
            f"release reads up to {VERSION}); it is left untouched for a newer worker"
        )
    while version < VERSION:
        d = MIGRATIONS[version](d)
        version += 1
        d["v"] = version
    return d


def initial_state() -> WorkflowState:
    return WorkflowState()


def dump_state(state: WorkflowState) -> bytes:
    return orjson.dumps(state.to_dict())


def load_state(data: bytes | None) -> WorkflowState:
    """None (a new session) gives the initial state; older versions are migrated."""
    if not data:
        return initial_state()
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ServerError(f"session state is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ServerError("session state is not a JSON object")
    d = migrate(raw)
    try:
        return WorkflowState.from_dict(d)
    except (KeyError, ValueError, TypeError) as exc:
        raise ServerError(f"session state is malformed: {exc!r}") from exc
