"""The conversation, driven with plain function calls: every stage x every kind of reply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from tests.actors.factory import at_results, host, loaded, make_overview, make_summary, replies
from tpr_ws.actors.events import (
    ComputeResults,
    Effect,
    FileUploaded,
    LoadSample,
    MessageReceived,
    Reply,
    ResultsComputed,
    SessionStarted,
    UploadFailed,
    UploadStarted,
)
from tpr_ws.actors.state import Choices, Stage, WorkflowState, initial_state
from tpr_ws.actors.workflow import step

S, L, A, R, U = (Stage.SELECT_STATE, Stage.SELECT_FACILITY_LEVEL, Stage.SELECT_AGE_GROUP,
                 Stage.RESULTS, Stage.AWAITING_UPLOAD)  # fmt: skip


def say(state: WorkflowState, text: str) -> tuple[WorkflowState, list[Effect]]:
    return host(state, MessageReceived(text))


def one_reply(state: WorkflowState, effects: list[Effect]) -> Reply:
    rs = replies(effects)
    assert len(rs) == 1, effects
    assert rs[0].stage is state.stage  # never a reply for another stage
    return rs[0]


# Starting points, by name.
START: dict[str, Callable[[], WorkflowState]] = {
    "empty": initial_state,
    "upload_with_file": lambda: loaded(stage=U),
    "state": lambda: loaded(stage=S),
    "level": lambda: loaded(stage=L, choices=Choices("Adamawa")),
    "age": lambda: loaded(stage=A, choices=Choices("Adamawa", "Primary")),
    "results": at_results,
}

# (start, reply, stage after, choices after). The host feeds results back in the same turn.
TRANSITIONS = [
    # awaiting upload
    ("empty", "1", S, Choices()),  # sample -> LoadSample -> FileUploaded (3 states)
    ("empty", "sample", S, Choices()),
    ("empty", "Use the sample data", S, Choices()),
    ("empty", "2", U, Choices()),  # only one option
    ("empty", "kano", U, Choices()),
    ("empty", "asdf qwer", U, Choices()),
    ("upload_with_file", "continue", S, Choices()),
    ("upload_with_file", "2", S, Choices()),
    # select state
    ("state", "2", L, Choices("Kaduna")),
    ("state", "Kano", L, Choices("Kano")),
    ("state", "kano", L, Choices("Kano")),
    ("state", "Kano State", L, Choices("Kano")),
    ("state", "ADAMAWA", L, Choices("Adamawa")),
    ("state", "Adamwa", L, Choices("Adamawa")),
    ("state", "the adamwa one please", L, Choices("Adamawa")),
    ("state", "no", S, Choices()),  # not Kano
    ("state", "4", S, Choices()),
    ("state", "under 5", S, Choices()),  # another stage's answer
    ("state", "hello there", S, Choices()),
    ("state", "kano or kaduna", S, Choices()),  # ambiguous
    # select facility level (Adamawa: Primary holds 90% of rows)
    ("level", "1", A, Choices("Adamawa", "Primary")),
    ("level", "Primary", A, Choices("Adamawa", "Primary")),
    ("level", "phc", A, Choices("Adamawa", "Primary")),
    ("level", "primery", A, Choices("Adamawa", "Primary")),
    ("level", "recommended", A, Choices("Adamawa", "Primary")),
    ("level", "secondary", A, Choices("Adamawa", "Secondary")),
    ("level", "general hospital", A, Choices("Adamawa", "Secondary")),
    ("level", "teaching hospital", A, Choices("Adamawa", "Tertiary")),
    ("level", "All", A, Choices("Adamawa", "All")),
    ("level", "use all facility levels", A, Choices("Adamawa", "All")),
    ("level", "hospital", L, Choices("Adamawa")),  # ambiguous: secondary or tertiary
    ("level", "5", L, Choices("Adamawa")),
    ("level", "feedback", L, Choices("Adamawa")),
    ("level", "kano", L, Choices("Adamawa")),
    # select age group -> results at once
    ("age", "1", R, Choices("Adamawa", "Primary", "u5")),
    ("age", "u5", R, Choices("Adamawa", "Primary", "u5")),
    ("age", "Under 5", R, Choices("Adamawa", "Primary", "u5")),
    ("age", "under five", R, Choices("Adamawa", "Primary", "u5")),
    ("age", "kids", R, Choices("Adamawa", "Primary", "u5")),
    ("age", "children", R, Choices("Adamawa", "Primary", "u5")),
    ("age", "recommended", R, Choices("Adamawa", "Primary", "u5")),
    ("age", "5 and over (excl. pregnant women)", R, Choices("Adamawa", "Primary", "o5")),
    ("age", "over five", R, Choices("Adamawa", "Primary", "o5")),
    ("age", "5+", R, Choices("Adamawa", "Primary", "o5")),
    ("age", "adults", R, Choices("Adamawa", "Primary", "o5")),
    ("age", "pregnant", R, Choices("Adamawa", "Primary", "pw")),
    ("age", "PW", R, Choices("Adamawa", "Primary", "pw")),
    ("age", "pregnent women", R, Choices("Adamawa", "Primary", "pw")),
    ("age", "all ages", R, Choices("Adamawa", "Primary", "all")),
    ("age", "everyone", R, Choices("Adamawa", "Primary", "all")),
    ("age", "4", R, Choices("Adamawa", "Primary", "all")),
    ("age", "5", A, Choices("Adamawa", "Primary")),
    ("age", "under 5 and pregnant women", A, Choices("Adamawa", "Primary")),  # ambiguous
    ("age", "Kano", A, Choices("Adamawa", "Primary")),
    # after results: one change recomputes at once
    ("results", "switch to pregnant women", R, Choices("Adamawa", "Primary", "pw")),
    ("results", "use all facility levels", R, Choices("Adamawa", "All", "u5")),
    ("results", "kano", R, Choices("Kano", "Primary", "u5")),
    ("results", "adults", R, Choices("Adamawa", "Primary", "o5")),
    ("results", "another state", S, Choices("Adamawa", "Primary", "u5")),
    ("results", "change state", S, Choices("Adamawa", "Primary", "u5")),
    ("results", "change level", L, Choices("Adamawa", "Primary", "u5")),
    ("results", "2", L, Choices("Adamawa", "Primary", "u5")),
    ("results", "change age", A, Choices("Adamawa", "Primary", "u5")),
    ("results", "primary", R, Choices("Adamawa", "Primary", "u5")),  # already showing
    ("results", "all", R, Choices("Adamawa", "Primary", "u5")),  # ambiguous: levels or ages
    ("results", "upload a new file", U, Choices()),
    ("results", "gibberish", R, Choices("Adamawa", "Primary", "u5")),
    ("results", "9", R, Choices("Adamawa", "Primary", "u5")),
]


@pytest.mark.parametrize(("start", "text", "stage", "choices"), TRANSITIONS)
def test_transition(start: str, text: str, stage: Stage, choices: Choices) -> None:
    state, effects = say(START[start](), text)
    assert state.stage is stage
    assert state.choices == choices
    rs = replies(effects)
    assert rs, "every reply gets an answer"
    assert all(r.stage is stage for r in rs)
    if stage is R:
        assert state.results is not None and state.results.choices == choices


@pytest.mark.parametrize(("start", "text"), [(t[0], t[1]) for t in TRANSITIONS if t[2] is R])
def test_results_recomputed_from_blob(start: str, text: str) -> None:
    before = START[start]()
    state, effects = step(before, MessageReceived(text))
    computes = [e for e in effects if isinstance(e, ComputeResults)]
    if before.stage is R and before.choices == state.choices:
        assert computes == []  # nothing changed: no recompute
        return
    c = state.choices
    assert computes == [ComputeResults("blob:abc", c.state or "", c.level or "", c.age or "")]
    assert [e for e in effects if isinstance(e, Reply)] == []


def test_unmatched_reply_repeats_the_question_with_an_example() -> None:
    state, effects = say(START["level"](), "what about the weather")
    reply = one_reply(state, effects)
    assert "did not recognise" in reply.text
    assert "Which facility level" in reply.text
    assert "For example, type `1` or `Primary`" in reply.text
    assert [o.value for o in reply.options] == ["Primary", "Secondary", "Tertiary", "All"]
    assert "understand you" not in reply.text


def test_ambiguous_reply_asks_which_one() -> None:
    state, effects = say(START["level"](), "hospital")
    reply = one_reply(state, effects)
    assert [o.value for o in reply.options] == ["Secondary", "Tertiary"]
    assert "Which one" in reply.text
    state, effects = say(state, reply.options[1].value)
    assert state.stage is A and state.choices.level == "Tertiary"


def test_ambiguous_at_results_offers_buttons_that_resolve() -> None:
    state, effects = say(at_results(), "all")
    reply = one_reply(state, effects)
    assert {o.value for o in reply.options} == {"level:All", "age:all"}
    state, _ = say(state, "age:all")
    assert state.choices == Choices("Adamawa", "Primary", "all")
    assert state.results is not None and state.results.age == "all"


# -- pitfalls ----------------------------------------------------------------------------------


def test_no_does_not_select_kano() -> None:
    state, effects = say(loaded(stage=S), "no")
    assert state.stage is S and state.choices.state is None
    assert "did not recognise" in one_reply(state, effects).text


def test_recommended_is_not_a_command_and_picks_the_recommended_option() -> None:
    state, _ = say(START["level"](), "the recommended one")
    assert state.choices.level == "Primary"


def test_feedback_is_not_back() -> None:
    state, effects = say(START["age"](), "feedback")
    assert state.stage is A and state.choices.level == "Primary"
    assert "did not recognise" in one_reply(state, effects).text


def test_number_beyond_the_options() -> None:
    state, effects = say(initial_state(), "2")
    assert state == initial_state()
    assert [o.value for o in one_reply(state, effects).options] == ["sample"]


# -- uploads -----------------------------------------------------------------------------------


def test_welcome() -> None:
    state, effects = step(initial_state(), SessionStarted())
    reply = one_reply(state, effects)
    assert reply.stage is U
    assert ".xlsx" in reply.text and ".csv" in reply.text and ".xls`" in reply.text
    assert [(o.label, o.value) for o in reply.options] == [("Use the sample data", "sample")]


def test_session_started_again_repeats_the_current_question() -> None:
    state, effects = step(START["age"](), SessionStarted())
    assert "Which age group" in one_reply(state, effects).text


def test_sample_asks_the_host_to_load_it() -> None:
    state, effects = step(initial_state(), MessageReceived("sample"))
    assert effects == [LoadSample()] and state == initial_state()


def test_upload_started_needs_no_answer() -> None:
    assert step(START["state"](), UploadStarted("a.xlsx", 10)) == (START["state"](), [])


def test_upload_summary_has_real_numbers() -> None:
    ov = make_overview()
    state, effects = step(initial_state(), FileUploaded("blob:1", "nmep.xlsx", ov))
    reply = one_reply(state, effects)
    assert state.stage is S and state.dataset is not None and state.dataset.blob_key == "blob:1"
    for needle in ("nmep.xlsx", "33,000 facility-month rows", "States: 3", "LGAs: 63",
                   "wards: 678", "2024-01 to 2024-12", "12 months", "53.2% of rows have RDT tests",
                   "2.1% have microscopy", "3 exact duplicate rows removed", "totals row",
                   "17 rows with positives greater than tested", "Which state"):  # fmt: skip
        assert needle in reply.text, needle
    assert [o.value for o in reply.options] == ["Adamawa", "Kaduna", "Kano"]
    assert reply.options[0].detail == "10,000 rows · 868 facilities · 400,000 tests"
    assert reply.data["overview"] == {k: v for k, v in ov.items() if k != "by_state"}
    assert "by_state" in ov  # the per-state breakdown stays in the state, out of the event


def test_single_state_file_skips_state_selection() -> None:
    state, effects = step(initial_state(), FileUploaded("b", "ad.xlsx", make_overview(["Adamawa"])))
    reply = one_reply(state, effects)
    assert state.stage is L and state.choices == Choices("Adamawa")
    assert "one state, **Adamawa**, so I selected it" in reply.text
    assert "Which facility level" in reply.text
    state, effects = say(state, "back")
    assert state.stage is U
    state, effects = say(state, "continue")
    assert state.stage is L and state.choices == Choices("Adamawa")


def test_new_file_at_any_stage_starts_from_the_summary() -> None:
    for name, make in START.items():
        state, effects = step(make(), FileUploaded("blob:new", "new.csv", make_overview()))
        reply = one_reply(state, effects)
        assert state.stage is S, name
        assert state.choices == Choices() and state.results is None
        assert "new.csv" in reply.text


def test_upload_failed_keeps_the_previous_dataset() -> None:
    before = START["age"]()
    problems = ["missing column: Persons tested positive for malaria by RDT <5yrs",
                "sheet tried: Sheet1"]  # fmt: skip
    state, effects = step(before, UploadFailed("bad.xlsx", problems))
    assert state == before
    reply = one_reply(state, effects)
    assert "bad.xlsx" in reply.text and "still using **adamawa\\_2024.xlsx**" in reply.text
    assert "RDT \\<5yrs" in reply.text and "Sheet1" in reply.text
    assert "Which age group" in reply.text


def test_upload_failed_with_nothing_loaded() -> None:
    state, effects = step(initial_state(), UploadFailed("x.pdf", ["not a workbook"]))
    assert state == initial_state()
    assert "not a workbook" in one_reply(state, effects).text


def test_file_without_states_is_refused() -> None:
    ov = make_overview({})
    state, effects = step(START["level"](), FileUploaded("b", "empty.csv", ov))
    assert state == START["level"]()
    assert "no rows with a state" in one_reply(state, effects).text


# -- questions ---------------------------------------------------------------------------------


def test_level_question_recommends_primary_only_at_70_percent() -> None:
    from tests.actors.factory import state_entry

    for share, recommended in ((0.7, True), (0.69, False)):
        ov = make_overview({"Adamawa": state_entry(primary_share=share)})
        state, effects = step(initial_state(), FileUploaded("b", "f.csv", ov))
        options = one_reply(state, effects).options
        assert [o.value for o in options if o.recommended] == (["Primary"] if recommended else [])
        assert options[0].detail.endswith("tests")


def test_level_without_facilities_is_shown_unavailable_and_explained() -> None:
    from tests.actors.factory import state_entry

    ov = make_overview({"Kano": state_entry(tertiary=False)})
    state, effects = step(initial_state(), FileUploaded("b", "f.csv", ov))
    reply = one_reply(state, effects)
    assert [(o.value, o.available) for o in reply.options] == [
        ("Primary", True), ("Secondary", True), ("Tertiary", False), ("All", True),
    ]  # fmt: skip
    assert reply.options[2].detail == "unavailable: no tertiary facilities in Kano's data"
    for typed in ("tertiary", "3", "Tertiary"):
        after, effects = say(state, typed)
        again = one_reply(after, effects)
        assert after == state  # nothing chosen
        assert again.text.startswith(
            "**Tertiary** is not available: no tertiary facilities in Kano's data. Choose another."
        )
        assert "Which facility level" in again.text
        assert [o.value for o in again.options] == ["Primary", "Secondary", "Tertiary", "All"]


def test_age_question_shows_tests_and_availability() -> None:
    state, effects = say(START["level"](), "primary")
    reply = one_reply(state, effects)
    assert [o.label for o in reply.options] == [
        "Under 5", "5 and over (excl. pregnant women)", "Pregnant women", "All ages"]  # fmt: skip
    assert [o.value for o in reply.options] == ["u5", "o5", "pw", "all"]
    assert [o.value for o in reply.options if o.recommended] == ["u5"]
    assert "tests · data in" in reply.options[0].detail


def test_age_without_tests_says_so() -> None:
    from tests.actors.factory import state_entry

    ov = make_overview({"Kano": state_entry(pw_tests=0)})
    state = loaded(stage=A, choices=Choices("Kano", "Primary"))
    state = replace(state, dataset=replace(state.dataset, overview=ov))  # type: ignore[type-var]
    _, effects = say(state, "help")
    options = replies(effects)[0].options
    assert options[2].detail == "no tests recorded"


# -- results -----------------------------------------------------------------------------------


def test_results_reply() -> None:
    state, effects = say(START["age"](), "under 5")
    reply = one_reply(state, effects)
    for needle in ("**Adamawa** · Primary facilities · Under 5", "State TPR: 23.4%",
                   "12,251 positive of 52,345 tested", "210 with data, 16 without data",
                   "mean 24.1%, median 22.0%, min 0.0%, max 88.2%", "above 50%: 12",
                   "above 70%: 3", "| # | Ward | LGA | TPR | Tested |",
                   "| 1 | Ward 1 | Yola North | 88.2% | 400 |", "15 rows excluded",
                   "**Rule:** Each facility-month"):  # fmt: skip
        assert needle in reply.text, needle
    assert reply.text.count("| Yola North |") == 10
    assert [d["kind"] for d in reply.data["downloads"]] == ["csv", "xlsx", "html", "md"]
    assert reply.data["params"] == {"state": "Adamawa", "level": "Primary", "age": "u5",
                                    "age_label": "Under 5"}  # fmt: skip
    assert reply.data["results"]["tested"] == 52_345
    assert [o.value for o in reply.options] == [
        "change state", "change level", "change age", "upload", "restart"]  # fmt: skip


def test_results_escape_names_from_the_file() -> None:
    summary = make_summary(wards=[("Yola|North", "<b>Ward_1*</b>")])
    state = loaded(stage=A, choices=Choices("Adamawa", "Primary", "u5"))
    state, effects = step(state, ResultsComputed("Adamawa", "Primary", "u5", summary))
    text = one_reply(state, effects).text
    assert "<b>" not in text and "\\<b\\>Ward\\_1\\*\\</b\\>" in text
    assert "Yola\\|North" in text


def test_results_with_no_tests() -> None:
    state = loaded(stage=A, choices=Choices("Adamawa", "Primary", "pw"))
    state, effects = step(
        state,
        ResultsComputed("Adamawa", "Primary", "pw", make_summary(age="pw", tested=0, positive=0)),
    )
    reply = one_reply(state, effects)
    assert state.stage is R and "No tests are recorded" in reply.text


def test_stale_results_are_ignored() -> None:
    state = START["age"]()
    assert step(state, ResultsComputed("Kano", "Primary", "u5", make_summary())) == (state, [])


def test_change_state_keeps_level_and_age_and_recomputes() -> None:
    state, _ = say(at_results(), "another state")
    state, effects = step(state, MessageReceived("Kano"))
    assert effects == [ComputeResults("blob:abc", "Kano", "Primary", "u5")]
    state, effects = say(at_results(), "change state")
    state, effects = say(state, "kaduna")
    assert state.stage is R and state.results is not None and state.results.state == "Kaduna"


def test_change_then_back_returns_to_results_unchanged() -> None:
    before = at_results()
    for action in ("change state", "change level", "change age", "upload a new file"):
        state, _ = say(before, action)
        assert state.stage is not R
        state, effects = say(state, "back")
        assert state.stage is R and state.choices == before.choices
        assert "nothing changed" in one_reply(state, effects).text, action


def test_already_showing_does_not_recompute() -> None:
    state, effects = step(at_results(), MessageReceived("under 5"))
    assert not any(isinstance(e, ComputeResults) for e in effects)
    assert "Already showing Under 5" in one_reply(state, effects).text


def test_full_walk_with_the_sample() -> None:
    state, effects = host(initial_state(), SessionStarted())
    for text, stage in (("sample", S), ("adamawa", L), ("1", A), ("u5", R),
                        ("switch to pregnant women", R), ("use all facility levels", R),
                        ("kano", R)):  # fmt: skip
        state, effects = say(state, text)
        assert state.stage is stage, text
        assert all(r.stage is stage for r in replies(effects))
    assert state.results is not None
    assert state.results.choices == Choices("Kano", "All", "pw")
    assert state.dataset is not None and state.dataset.blob_key == "blob:sample"


def test_changing_a_choice_marks_the_one_in_use() -> None:
    state, effects = say(at_results(), "change age")
    options = one_reply(state, effects).options
    assert [o.detail.endswith("· current") for o in options] == [True, False, False, False]
    state, effects = say(at_results(), "change level")
    assert one_reply(state, effects).options[0].detail.endswith("· current")


def test_upload_failed_at_results_keeps_them() -> None:
    before = at_results()
    state, effects = step(before, UploadFailed("x.xlsx", ["not a workbook", "sheet: raw"]))
    assert state == before
    reply = one_reply(state, effects)
    assert "- not a workbook\n- sheet: raw" in reply.text
    assert [o.value for o in reply.options][:2] == ["change state", "change level"]
