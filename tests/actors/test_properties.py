"""Properties: no reply text ever raises, answers for another stage, or echoes markup."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.actors.factory import host, replies
from tests.actors.test_workflow import START
from tpr_ws.actors.events import ComputeResults, LoadSample, MessageReceived, Reply
from tpr_ws.actors.matching import AGE_PHRASES, COMMAND_PHRASES, LEVEL_PHRASES
from tpr_ws.actors.state import Stage, dump_state, load_state
from tpr_ws.actors.workflow import step

S, L, A, R, U = (Stage.SELECT_STATE, Stage.SELECT_FACILITY_LEVEL, Stage.SELECT_AGE_GROUP,
                 Stage.RESULTS, Stage.AWAITING_UPLOAD)  # fmt: skip

# Where one typed reply may take the conversation from each stage (before the host answers).
REACHABLE = {
    U: {U, S, L, R},  # continue with the loaded file (or its kept results)
    S: {S, L, U, R},  # a state; back; back to kept results
    L: {L, A, S, U, R},
    A: {A, L, U, R},  # an age computes but stays until ResultsComputed; back
    R: {R, S, L, A, U},
}

WORDS = sorted(
    {
        w
        for ps in (*LEVEL_PHRASES.values(), *AGE_PHRASES.values(), *COMMAND_PHRASES.values())
        for w in ps
    }
    | {
        "Adamawa",
        "kano",
        "no",
        "end",
        "recommended",
        "feedback",
        "1",
        "2",
        "9",
        "sample",
        "continue",
        "change state",
        "state:Kano",
        "level:All",
        "age:pw",
        "<script>",
        "|",
        "**",
    }
)
texts = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
    st.tuples(st.sampled_from(WORDS), st.text(max_size=10)).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(start=st.sampled_from(sorted(START)), text=texts)
def test_any_text_is_answered_for_the_stage_it_leaves_us_in(start: str, text: str) -> None:
    before = START[start]()
    after, effects = step(before, MessageReceived(text))
    assert after.stage in REACHABLE[before.stage]
    rs = replies(effects)
    for reply in rs:
        assert reply.stage is after.stage
        assert "<" not in reply.text.replace("\\<", "")  # nothing the user typed comes back raw
        assert len({o.value for o in reply.options}) == len(reply.options)
    others = [e for e in effects if not isinstance(e, Reply)]
    if others:  # an effect instead of a reply: the host answers it in the same turn
        assert rs == [] and len(others) == 1
        effect = others[0]
        if isinstance(effect, ComputeResults):
            c = after.choices
            assert (effect.state, effect.level, effect.age) == (c.state, c.level, c.age)
        else:
            assert isinstance(effect, LoadSample) and before.stage is U
    else:
        assert len(rs) == 1
    assert load_state(dump_state(after)) == after


@settings(max_examples=100, deadline=None)
@given(start=st.sampled_from(sorted(START)), script=st.lists(texts, max_size=6))
def test_conversations_never_break_the_state_invariants(start: str, script: list[str]) -> None:
    state = START[start]()
    for text in script:
        state, effects = host(state, MessageReceived(text))
        assert all(r.stage is state.stage for r in replies(effects))
        if state.stage is U:
            assert state.choices.state is None and state.choices.level is None
        if state.stage is R:
            assert state.results is not None
        assert state.dataset is not None or state.stage is U
