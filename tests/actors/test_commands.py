"""back / restart / status / help / upload a new file, at every stage."""

from __future__ import annotations

import pytest

from tests.actors.factory import at_results, host, loaded, make_overview, replies
from tests.actors.test_workflow import START
from tpr_ws.actors.events import Effect, MessageReceived, Reply
from tpr_ws.actors.state import Choices, Stage, WorkflowState, initial_state

S, L, A, R, U = (Stage.SELECT_STATE, Stage.SELECT_FACILITY_LEVEL, Stage.SELECT_AGE_GROUP,
                 Stage.RESULTS, Stage.AWAITING_UPLOAD)  # fmt: skip


def say(state: WorkflowState, text: str) -> tuple[WorkflowState, Reply]:
    state, effects = host(state, MessageReceived(text))
    rs = replies(effects)
    assert len(rs) == 1 and rs[0].stage is state.stage
    return state, rs[0]


# (start, stage after back, choices after back)
BACKS = [
    ("empty", U, Choices()),
    ("upload_with_file", U, Choices()),
    ("state", U, Choices()),
    ("level", S, Choices()),
    ("age", L, Choices("Adamawa")),
    ("results", A, Choices("Adamawa", "Primary")),
]


@pytest.mark.parametrize(("start", "stage", "choices"), BACKS)
@pytest.mark.parametrize("spelling", ["back", "Back", "go back", "BACK please", "bakc"])
def test_back(start: str, stage: Stage, choices: Choices, spelling: str) -> None:
    before = START[start]()
    state, reply = say(before, spelling)
    assert (state.stage, state.choices) == (stage, choices)
    assert state.dataset == before.dataset
    if stage is not R:
        assert state.results is None
    if start in ("empty", "upload_with_file"):
        assert "nothing to go back to" in reply.text


def test_back_walks_all_the_way_to_the_start() -> None:
    state = at_results()
    stages = []
    for _ in range(5):
        state, _ = say(state, "back")
        stages.append(state.stage)
    assert stages == [A, L, S, U, U]
    assert state.dataset is not None  # going back never forgets the file; restart does


@pytest.mark.parametrize("start", list(START))
@pytest.mark.parametrize("spelling", ["restart", "Start over", "reset", "restat"])
def test_restart_keeps_nothing(start: str, spelling: str) -> None:
    state, reply = say(START[start](), spelling)
    assert state == initial_state()
    assert "Starting over" in reply.text and [o.value for o in reply.options] == ["sample"]


STATUS_NEEDLES = {
    "empty": ["1 of 5", "File: none yet", "State: not chosen"],
    "upload_with_file": ["1 of 5", "adamawa\\_2024.xlsx (33,000 rows)"],
    "state": ["2 of 5, choose a state", "State: not chosen"],
    "level": ["3 of 5", "State: Adamawa", "Facility level: not chosen"],
    "age": ["4 of 5", "Facility level: Primary facilities", "Age group: not chosen"],
    "results": ["5 of 5", "Age group: Under 5", "Last results: **Adamawa** · Primary"],
}


@pytest.mark.parametrize("start", list(START))
def test_status(start: str) -> None:
    before = START[start]()
    state, reply = say(before, "status")
    assert state == before
    for needle in STATUS_NEEDLES[start]:
        assert needle in reply.text, needle
    _, question = say(before, "help")
    assert reply.options == question.options


HELP_NEEDLES = {
    "empty": "`sample`",
    "upload_with_file": "`sample`",
    "state": "`Adamawa`",
    "level": "`PHC`",
    "age": "`kids`",
    "results": "`pregnant women`",
}


@pytest.mark.parametrize("start", list(START))
@pytest.mark.parametrize("spelling", ["help", "HELP", "what can I type?", "help me"])
def test_help(start: str, spelling: str) -> None:
    before = START[start]()
    state, reply = say(before, spelling)
    assert state == before
    assert "What you can type here" in reply.text and "`back`" in reply.text
    assert HELP_NEEDLES[start] in reply.text
    assert reply.options  # the question's buttons come with it


@pytest.mark.parametrize("start", list(START))
def test_upload_a_new_file_keeps_the_old_one_until_it_arrives(start: str) -> None:
    before = START[start]()
    state, reply = say(before, "upload a new file")
    assert state.stage is U and state.choices == Choices() and state.dataset == before.dataset
    values = [o.value for o in reply.options]
    assert values == (["sample", "continue"] if before.dataset else ["sample"])


def test_continue_after_upload_prompt_returns_to_kept_results() -> None:
    state, _ = say(at_results(), "new file")
    state, reply = say(state, "continue")
    assert state.stage is R and state.choices == Choices("Adamawa", "Primary", "u5")
    assert "State TPR" in reply.text


def test_commands_match_whole_words_only() -> None:
    for text in ("feedback", "backlog", "helpful", "restarted", "statuses"):
        state, reply = say(START["level"](), text)
        assert state == START["level"](), text
        assert "did not recognise" in reply.text


def test_results_actions_hide_change_state_for_a_one_state_file() -> None:
    state = at_results(["Adamawa"])
    _, reply = say(state, "help")
    assert [o.value for o in reply.options] == ["change level", "change age", "upload", "restart"]
    assert make_overview(["Adamawa"])["states"] == ["Adamawa"]
    state, reply = say(loaded(["Adamawa"], stage=R, choices=state.choices), "kano")
    assert state.stage is R


def _effects_are_replies(effects: list[Effect]) -> bool:
    return all(isinstance(e, Reply) for e in effects)
