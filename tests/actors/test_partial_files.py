"""The conversation on partial files: choices the file cannot serve are shown unavailable with
the reason, and a reply that picks one gets the reason and the question again."""

from __future__ import annotations

from typing import Any

from tests.actors.factory import at_results, host, loaded, make_overview, replies
from tpr_ws.actors.messages import Option, upload_summary
from tpr_ws.actors.state import Choices, Stage, WorkflowState
from tpr_ws.actors.workflow import ComputeResults, Effect, MessageReceived, Reply
from tpr_ws.conversation import reply_event

NO_PW = {"ages": ["u5", "o5"], "levels_known": True, "lacks": ["No pregnant-women columns: x."]}
NO_LEVELS = {"ages": ["u5", "o5", "pw"], "levels_known": False, "lacks": []}


def with_coverage(state: WorkflowState, coverage: dict[str, Any]) -> WorkflowState:
    assert state.dataset is not None
    overview = {**state.dataset.overview, "coverage": coverage}
    dataset = type(state.dataset)(state.dataset.blob_key, state.dataset.file_name, overview)
    return WorkflowState(state.stage, dataset, state.choices, state.results)


def say(state: WorkflowState, text: str) -> tuple[WorkflowState, list[Effect]]:
    return host(state, MessageReceived(text))


def only_reply(effects: list[Effect]) -> Reply:
    (reply,) = replies(effects)
    return reply


def test_an_age_group_without_columns_is_shown_unavailable() -> None:
    state = with_coverage(loaded(stage=Stage.SELECT_AGE_GROUP, choices=Choices("Adamawa",
                          "Primary")), NO_PW)  # fmt: skip
    state, effects = host(state, MessageReceived("status"))
    options = only_reply(effects).options
    assert [(o.value, o.available) for o in options] == [
        ("u5", True), ("o5", True), ("pw", False), ("all", True),
    ]  # fmt: skip
    assert options[2].detail == "unavailable: this file has no pregnant-women columns"
    assert options[2].available is False and not options[2].recommended
    assert "pools Under 5 and 5 and over (no pregnant women columns)" in options[3].detail


def test_typed_replies_for_an_unavailable_age_are_explained_and_asked_again() -> None:
    state = with_coverage(loaded(stage=Stage.SELECT_AGE_GROUP, choices=Choices("Adamawa",
                          "Primary")), NO_PW)  # fmt: skip
    for typed in ("pregnant women", "pw", "3", "pregnnt"):
        after, effects = say(state, typed)
        reply = only_reply(effects)
        assert after == state, typed
        assert not [e for e in effects if isinstance(e, ComputeResults)]
        assert reply.text.startswith(
            "**Pregnant women** is not available: this file has no pregnant-women columns."
        ), typed
        assert "Which age group?" in reply.text and reply.stage is Stage.SELECT_AGE_GROUP
    after, effects = say(state, "all ages")
    assert any(isinstance(e, ComputeResults) and e.age == "all" for e in effects)


def test_without_levels_only_all_levels_can_be_chosen() -> None:
    state = with_coverage(loaded(stage=Stage.SELECT_FACILITY_LEVEL,
                                 choices=Choices("Adamawa")), NO_LEVELS)  # fmt: skip
    state, effects = say(state, "help")
    options = only_reply(effects).options
    assert [o.available for o in options] == [False, False, False, True]
    assert not any(o.recommended for o in options)
    after, effects = say(state, "primary")
    assert after == state
    assert (
        "this file has no facility level column and no facility column" in only_reply(effects).text
    )
    after, _ = say(state, "all levels")
    assert after.stage is Stage.SELECT_AGE_GROUP and after.choices.level == "All"


def test_changing_to_an_unavailable_choice_after_results_is_explained() -> None:
    state = with_coverage(at_results(), NO_PW)
    after, effects = say(state, "switch to pregnant women")
    reply = only_reply(effects)
    assert after == state and reply.stage is Stage.RESULTS
    assert not [e for e in effects if isinstance(e, ComputeResults)]
    assert "**Pregnant women** is not available" in reply.text
    after, effects = say(state, "5 and over")
    assert any(isinstance(e, ComputeResults) and e.age == "o5" for e in effects)


def test_the_upload_summary_says_what_the_file_lacks() -> None:
    overview = {
        **make_overview(["Kwara"]),
        "facilities": None,
        "months": {"first": None, "last": None, "count": 0, "given": False},
        "coverage": {"lacks": ["No facility column: facilities are not counted."]},
    }
    text = upload_summary("kwara.csv", overview)
    assert "facilities: not counted" in text
    assert "Months: not given (the file has no period column)" in text
    assert "**What this file lacks, and what that rules out:**" in text
    assert "- No facility column: facilities are not counted." in text


def test_option_wire_form_carries_availability() -> None:
    reply = Reply("Which?", Stage.SELECT_AGE_GROUP, [Option("Pregnant women", "pw", detail="why",
                  available=False)])  # fmt: skip
    assert reply_event(reply, "m1")["options"] == [
        {"label": "Pregnant women", "value": "pw", "recommended": False, "detail": "why",
         "available": False},
    ]  # fmt: skip
