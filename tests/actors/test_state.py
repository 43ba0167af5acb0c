"""Versioned state: round trips at every stage, migration from v0, refusal of newer versions."""

from __future__ import annotations

import orjson
import pytest

from tests.actors.test_workflow import START
from tpr_ws.actors.state import (
    VERSION,
    Stage,
    WorkflowState,
    dump_state,
    initial_state,
    load_state,
    migrate,
)
from tpr_ws.errors import ServerError, StateVersionError


@pytest.mark.parametrize("start", list(START))
def test_round_trip(start: str) -> None:
    state = START[start]()
    assert WorkflowState.from_dict(state.to_dict()) == state
    data = dump_state(state)
    assert orjson.loads(data)["v"] == VERSION
    assert load_state(data) == state


def test_new_session_is_the_initial_state() -> None:
    assert load_state(None) == initial_state()
    assert load_state(b"") == initial_state()
    assert initial_state().stage is Stage.AWAITING_UPLOAD


# A checkpoint as the v0 prototype wrote it, by hand: `step` and `upload`, no "v".
V0 = {
    "step": "select_facility_level",
    "upload": {"blob_key": "blob:1", "file_name": "ad.xlsx", "overview": {"states": ["Adamawa"]}},
    "choices": {"state": "Adamawa", "level": None, "age": None},
    "results": None,
}


def test_v0_migrates() -> None:
    state = load_state(orjson.dumps(V0))
    assert state.stage is Stage.SELECT_FACILITY_LEVEL
    assert state.dataset is not None and state.dataset.blob_key == "blob:1"
    assert state.choices.state == "Adamawa"
    assert migrate(dict(V0))["v"] == VERSION
    assert load_state(dump_state(state)) == state


def test_newer_version_is_refused_with_a_clear_message() -> None:
    newer = {**START["results"]().to_dict(), "v": VERSION + 1}
    with pytest.raises(StateVersionError, match="newer release"):
        load_state(orjson.dumps(newer))


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'{"v": 1, "stage": "nowhere"}',
                                  b'{"v": "x"}'])  # fmt: skip
def test_corrupt_state_is_a_server_error(data: bytes) -> None:
    with pytest.raises(ServerError):
        load_state(data)
