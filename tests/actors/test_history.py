"""Every analysis kept: recorded once with its time, listed by `analyses`, opened again by its
button or number (its stored result asked for by key), kept across new files and restart."""

from __future__ import annotations

import orjson

from tests.actors.factory import HOST_CLOCK, at_results, host, make_overview, replies
from tpr_ws.actors import history
from tpr_ws.actors.state import MAX_ANALYSES, Analysis, Stage, WorkflowState, load_state
from tpr_ws.actors.workflow import (
    ComputeResults,
    FileUploaded,
    MessageReceived,
    ResultsComputed,
    step,
)
from tpr_ws.domain.analysis import result_key

KEY_U5 = result_key("blob:abc", "Adamawa", "Primary", "u5")
KEY_PW = result_key("blob:abc", "Adamawa", "Primary", "pw")


def say(state: WorkflowState, text: str) -> tuple[WorkflowState, list[object]]:
    return host(state, MessageReceived(text))  # type: ignore[return-value]


def two_analyses() -> WorkflowState:
    state, _ = say(at_results(), "under 5")  # already shown, but never recorded: compute it
    state, _ = say(state, "change age")
    state, _ = say(state, "under 5")
    state, _ = say(state, "pregnant women")
    assert [a.key for a in state.analyses] == [KEY_U5, KEY_PW]
    return state


def test_each_analysis_is_recorded_once_with_its_file_and_time() -> None:
    state = two_analyses()
    state, effects = say(state, "under 5")
    assert [a.key for a in state.analyses] == [KEY_U5, KEY_PW]  # shown again: not a new one
    first = state.analyses[0]
    assert (first.file_name, first.dataset, first.at) == ("adamawa_2024.xlsx", "blob:abc",
                                                          HOST_CLOCK)  # fmt: skip
    shown = replies(effects)[-1].data["analysis"]
    assert shown["key"] == KEY_U5
    assert shown["label"] == "Adamawa · Primary · Under 5 · 10:02 UTC"


def test_analyses_lists_them_with_one_button_each_at_any_stage() -> None:
    state = two_analyses()
    for at in (state, say(state, "change level")[0]):
        after, effects = say(at, "analyses")
        (reply,) = replies(effects)
        assert after == at and reply.stage is at.stage
        assert [o.value for o in reply.options] == [f"open:{KEY_U5}", f"open:{KEY_PW}"]
        assert "1. Adamawa · Primary · Under 5 · 10:02 UTC" in reply.text
        assert "(shown now)" in reply.text.splitlines()[3]  # pregnant women is on screen
    actions = [o.value for o in replies(say(state, "pregnant women")[1])[-1].options]
    assert "analyses" in actions  # "Earlier analyses" once there are two


def test_opening_one_asks_for_its_stored_result_and_shows_it() -> None:
    state = two_analyses()
    opened, effects = say(state, f"open:{KEY_U5}")
    assert effects[0] == ComputeResults("blob:abc", "Adamawa", "Primary", "u5", key=KEY_U5)
    reply = replies(effects)[-1]
    assert opened.stage is Stage.RESULTS and opened.results is not None
    assert (opened.results.age, opened.results.key) == ("u5", KEY_U5)
    assert reply.data["analysis"]["key"] == KEY_U5
    assert opened.analyses == state.analyses
    by_number, _ = say(state, "open 1")
    assert by_number == opened
    missing, effects = say(state, "open 9")
    assert missing == state and "no such analysis" in replies(effects)[0].text


def test_analyses_survive_a_new_file_and_restart_and_open_as_they_were() -> None:
    state = two_analyses()
    state, _ = host(state, FileUploaded("blob:new", "kano.xlsx", make_overview(["Kano", "Kaduna"])))
    assert state.stage is Stage.SELECT_STATE and len(state.analyses) == 2
    after, effects = say(state, "open 2")
    assert effects[0] == ComputeResults("blob:abc", "Adamawa", "Primary", "pw", key=KEY_PW)
    reply = replies(effects)[-1]
    assert after == state  # shown, but the loaded file and the step stay as they were
    assert reply.stage is Stage.SELECT_STATE and reply.data["analysis"]["key"] == KEY_PW
    assert "adamawa\\_2024.xlsx" in reply.text and "kano.xlsx" in reply.text
    restarted, _ = say(state, "restart")
    assert restarted.dataset is None and restarted.analyses == state.analyses
    again, effects = say(restarted, "open 1")
    assert again == restarted and replies(effects)[-1].data["analysis"]["key"] == KEY_U5


def test_the_list_is_capped_and_labels_name_the_day_when_it_spans_several() -> None:
    made = tuple(
        Analysis(f"k{n}", "blob:abc", "f.xlsx", "Kano", "All", "all", HOST_CLOCK + n * 3600)
        for n in range(MAX_ANALYSES + 5)
    )
    kept: tuple[Analysis, ...] = ()
    for a in made:
        kept = history.record(kept, a)
    assert [a.key for a in kept] == [a.key for a in made[5:]]
    assert history.label(kept[0], kept) == "Kano · All levels · All ages · 1 Jun 15:02 UTC"


def test_a_version_1_checkpoint_migrates_to_an_empty_list() -> None:
    v1 = {"v": 1, "stage": "results", "dataset": {"blob_key": "b", "file_name": "f.xlsx",
          "overview": {}}, "choices": {"state": "Kano", "level": "All", "age": "all"},
          "results": {"state": "Kano", "level": "All", "age": "all", "summary": {}}}  # fmt: skip
    state = load_state(orjson.dumps(v1))
    assert state.analyses == () and state.results is not None and state.results.key == ""
    # a result for the loaded file then records it as usual
    state, _ = step(state, ResultsComputed("Kano", "All", "all", {}, key="k", dataset="b",
                                                 at=HOST_CLOCK))  # fmt: skip
    assert [a.key for a in state.analyses] == ["k"]
