"""The TPR conversation as a pure machine: `step(state, event) -> (state, effects)`.

No I/O, no clock, no randomness: the host feeds events (facts) and carries out effects
(imperatives), both defined in `events.py`; `driver.py` is the loop that feeds the answers of
effects back in. Every Reply is for the stage the machine is in after the step.

Transitions (`*` = any stage; "changing" = a choice being changed after results):

    stage            input                               -> stage            effects
    *                SessionStarted                      -> (same)           Reply(current question)
    *                UploadStarted                       -> (same)           -
    *                FileUploaded, several states        -> select_state     Reply(summary + states)
    *                FileUploaded, one state             -> select_level     Reply(summary + levels)
    *                UploadFailed                        -> (same)           Reply(problems...)
    awaiting_upload  "sample"                            -> (same)           LoadSample
    awaiting_upload  "continue" (a file is loaded)       -> select_state/level, or results if kept
    select_state     a state                             -> select_level     Reply(levels)
    select_level     a level                             -> select_age       Reply(ages)
    select_age       an age group                        -> (same)           ComputeResults
    changing         a state / level / age               -> (same)           ComputeResults
    *                ResultsComputed matching choices    -> results          Reply(results)
    results          "change state|level|age"            -> that stage, changing
    results          a state, level or age by name       -> results          ComputeResults
    *                unmatched reply                     -> (same)           Reply(question again)
    *                ambiguous reply                     -> (same)           Reply(which one?)

Commands, understood at every stage (COMMANDS):

    back      the previous step, later choices cleared; while changing a choice after results,
              back to those results; at awaiting_upload "nothing to go back to"
    restart   awaiting_upload with nothing kept
    status    same stage: step, file, choices, last results, then the question again
    analyses  same stage: the session's analyses, one button each (`open:<key>`)
    help      same stage: what can be typed here, with examples, then the question again
    upload    ("upload a new file") awaiting_upload; the loaded file (and any results) stay
              until a new file arrives ("continue" or back returns to them)

Every analysis shown is recorded (`history.record`: result key, file, choices, first time
shown) and survives new files and restart. `open:<key>` or "open 2" shows one again: one of
the loaded file becomes the current results (ComputeResults with its key: the host loads the
stored object instead of recomputing); one of another file is shown at the current stage.

A reply is read in this order: a button's exact value, a command, an option number, option
names and synonyms (whole words), close misspellings of the options, close misspellings of
a one-word command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from tpr_ws.actors import history, questions
from tpr_ws.actors import messages as msg
from tpr_ws.actors.events import (
    ComputeResults,
    Effect,
    Event,
    FileUploaded,
    LoadSample,
    MessageReceived,
    Reply,
    ResultsComputed,
    SessionStarted,
    UploadFailed,
    UploadStarted,
)
from tpr_ws.actors.matching import (
    Ambiguous,
    Command,
    Picked,
    candidate_label,
    fuzzy_command,
    match_command,
    match_option,
    stage_candidates,
)
from tpr_ws.actors.messages import Option
from tpr_ws.actors.state import (
    Analysis,
    Choices,
    Dataset,
    Results,
    Stage,
    WorkflowState,
    initial_state,
)

Outcome = tuple[WorkflowState, list[Effect]]


# -- questions: what the bot asks at each stage ----------------------------------------------


def _overview(s: WorkflowState) -> Mapping[str, Any]:
    return s.dataset.overview if s.dataset else {}


def _results_question(s: WorkflowState) -> tuple[str, list[Option]]:
    c = s.choices
    text = (
        f"Showing results for {msg.params_line(c.state or '', c.level or '', c.age or '')}. "
        "Change one choice (e.g. `pregnant women`, `all levels`), upload a new file or start over."
    )
    return text, msg.results_actions(_overview(s), analyses=len(s.analyses))


QUESTIONS: Final[Mapping[Stage, Callable[[WorkflowState], tuple[str, list[Option]]]]] = {
    Stage.AWAITING_UPLOAD: lambda s: msg.upload_question(
        s.dataset.file_name if s.dataset else None
    ),
    Stage.SELECT_STATE: lambda s: questions.state_question(_overview(s)),
    Stage.SELECT_FACILITY_LEVEL: lambda s: questions.level_question(
        _overview(s), s.choices.state or ""
    ),
    Stage.SELECT_AGE_GROUP: lambda s: questions.age_question(
        _overview(s), s.choices.state or "", s.choices.level or ""
    ),
    Stage.RESULTS: _results_question,
}


_CHOICE_SHOWN: Final = {
    Stage.SELECT_STATE: "state",
    Stage.SELECT_FACILITY_LEVEL: "level",
    Stage.SELECT_AGE_GROUP: "age",
}


def _ask(
    s: WorkflowState, before: str = "", after: str = "", data: dict[str, Any] | None = None
) -> Outcome:
    """Reply with the current stage's question, with text before and after it."""
    text, options = QUESTIONS[s.stage](s)
    shown = _CHOICE_SHOWN.get(s.stage)
    if s.results is not None and shown is not None:  # changing one choice: mark the one in use
        current = getattr(s.results, shown)
        options = [replace(o, detail=f"{o.detail} · current") if o.value == current else o
                   for o in options]  # fmt: skip
    parts = [p for p in (before, text, after) if p]
    return s, [Reply("\n\n".join(parts), s.stage, options, data or {})]


def _show_results(s: WorkflowState, before: str = "") -> Outcome:
    r = s.results
    if r is None:
        return _ask(s, before)
    text = msg.results_text(r.summary, r.state, r.level, r.age)
    data = _results_data(s, r)
    text = f"{before}\n\n{text}" if before else text
    actions = msg.results_actions(_overview(s), analyses=len(s.analyses))
    return s, [Reply(text, Stage.RESULTS, actions, data)]


def _results_data(s: WorkflowState, r: Results) -> dict[str, Any]:
    data = msg.results_data(r.summary, r.state, r.level, r.age)
    known = history.find(s.analyses, r.key)
    if known is not None:
        data["analysis"] = history.describe(known, s.analyses)
    return data


def _first_choice(
    s: WorkflowState, before: str = "", data: dict[str, Any] | None = None
) -> Outcome:
    """After an upload: ask for the state, or auto-select the only one and ask for the level."""
    states = [str(x) for x in _overview(s).get("states") or []]
    s = replace(s, choices=Choices(), results=None)
    if len(states) == 1:
        s = replace(s, stage=Stage.SELECT_FACILITY_LEVEL, choices=Choices(state=states[0]))
        note = f"This file holds one state, **{msg.md(states[0])}**, so I selected it."
        return _ask(s, f"{before}\n\n{note}" if before else note, data=data)
    return _ask(replace(s, stage=Stage.SELECT_STATE), before, data=data)


def _to_results(s: WorkflowState, before: str = "") -> Outcome:
    assert s.results is not None
    return _show_results(replace(s, stage=Stage.RESULTS, choices=s.results.choices), before)


def _compute(s: WorkflowState, choices: Choices) -> Outcome:
    s = replace(s, choices=choices)
    if s.dataset is None or not (choices.state and choices.level and choices.age):
        return _ask(s)
    return s, [ComputeResults(s.dataset.blob_key, choices.state, choices.level, choices.age)]


# -- picks: a reply that chose one of this stage's options -----------------------------------


def _pick_upload(s: WorkflowState, value: str) -> Outcome:
    if value == "sample":
        return s, [LoadSample()]
    return _to_results(s) if s.results else _first_choice(s)


def _pick_state(s: WorkflowState, value: str) -> Outcome:
    c = replace(s.choices, state=value)
    if c.level and c.age and questions.level_unavailable(_overview(s), value, c.level) is None:
        return _compute(s, c)  # changing the state after results: keep level and age
    c = replace(c, level=None) if c.age else Choices(state=value)
    return _ask(replace(s, stage=Stage.SELECT_FACILITY_LEVEL, choices=c))


def _pick_level(s: WorkflowState, value: str) -> Outcome:
    c = replace(s.choices, level=value)
    if c.age:
        return _compute(s, c)
    return _ask(replace(s, stage=Stage.SELECT_AGE_GROUP, choices=c))


def _pick_age(s: WorkflowState, value: str) -> Outcome:
    return _compute(s, replace(s.choices, age=value))


_CHANGE_TO: Final = {
    "change state": Stage.SELECT_STATE,
    "change level": Stage.SELECT_FACILITY_LEVEL,
    "change age": Stage.SELECT_AGE_GROUP,
}


def _pick_change(s: WorkflowState, value: str) -> Outcome:
    """At results: open one choice for changing, or change it at once when named."""
    if value in _CHANGE_TO:
        return _ask(
            replace(s, stage=_CHANGE_TO[value]), "Pick the new value; I keep the other choices."
        )
    if value in ("upload", "restart", "analyses"):
        return COMMANDS[Command(value)](s)
    kind, _, new = value.partition(":")
    c = s.choices
    changed = {"state": replace(c, state=new), "level": replace(c, level=new),
               "age": replace(c, age=new)}.get(kind)  # fmt: skip
    if changed is None:
        return _ask(s)
    if changed == c:
        shown = msg.age_label(new) if kind == "age" else new
        return _show_results(s, f"Already showing {msg.md(shown)}.")
    return _pick_state(s, new) if kind == "state" else _compute(s, changed)


PICKS: Final[Mapping[Stage, Callable[[WorkflowState, str], Outcome]]] = {
    Stage.AWAITING_UPLOAD: _pick_upload,
    Stage.SELECT_STATE: _pick_state,
    Stage.SELECT_FACILITY_LEVEL: _pick_level,
    Stage.SELECT_AGE_GROUP: _pick_age,
    Stage.RESULTS: _pick_change,
}


# -- commands --------------------------------------------------------------------------------


def _back(s: WorkflowState) -> Outcome:
    if s.results is not None and s.stage is not Stage.RESULTS:
        return _to_results(s, "Back to your results; nothing changed.")
    c, multi = s.choices, len(_overview(s).get("states") or []) > 1
    if s.stage is Stage.AWAITING_UPLOAD:
        return _ask(s, "You are at the first step; there is nothing to go back to.")
    if s.stage is Stage.SELECT_STATE or (s.stage is Stage.SELECT_FACILITY_LEVEL and not multi):
        return _ask(replace(s, stage=Stage.AWAITING_UPLOAD, choices=Choices()))
    if s.stage is Stage.SELECT_FACILITY_LEVEL:
        return _ask(replace(s, stage=Stage.SELECT_STATE, choices=Choices()))
    if s.stage is Stage.SELECT_AGE_GROUP:
        return _ask(replace(s, stage=Stage.SELECT_FACILITY_LEVEL, choices=Choices(state=c.state)))
    back = replace(c, age=None)
    return _ask(replace(s, stage=Stage.SELECT_AGE_GROUP, choices=back, results=None))


def _restart(s: WorkflowState) -> Outcome:
    if not s.analyses:
        return _ask(initial_state(), "Starting over: nothing is kept.")
    # The analyses stay: their cards are still on the page, and their downloads must work.
    return _ask(
        replace(initial_state(), analyses=s.analyses),
        "Starting over: the file and the choices are cleared. Your earlier analyses stay "
        "available (type `analyses`).",
    )


def _analyses(s: WorkflowState) -> Outcome:
    text, options = history.list_text(s.analyses, s.results.key if s.results else None)
    if not options:
        return _ask(s, text)
    return s, [Reply(text, s.stage, options)]


def _reopen(s: WorkflowState, a: Analysis | None) -> Outcome:
    if a is None:
        return _ask(s, "There is no such analysis; type `analyses` to see the list.")
    if s.dataset is not None and a.dataset == s.dataset.blob_key:
        s = replace(s, choices=a.choices)
    return s, [ComputeResults(a.dataset, a.state, a.level, a.age, key=a.key)]


def _status(s: WorkflowState) -> Outcome:
    return _ask(s, _status_text(s))


def _help(s: WorkflowState) -> Outcome:
    return _ask(
        s, f"**What you can type here:** {msg.HELP_BY_STAGE[s.stage.value]}\n\n{msg.COMMANDS_HELP}"
    )


def _upload_again(s: WorkflowState) -> Outcome:
    return _ask(replace(s, stage=Stage.AWAITING_UPLOAD, choices=Choices()))


COMMANDS: Final[Mapping[Command, Callable[[WorkflowState], Outcome]]] = {
    Command.BACK: _back,
    Command.RESTART: _restart,
    Command.STATUS: _status,
    Command.HELP: _help,
    Command.UPLOAD: _upload_again,
    Command.ANALYSES: _analyses,
}

_STEP_NAMES: Final = {
    Stage.AWAITING_UPLOAD: "1 of 5, upload a file",
    Stage.SELECT_STATE: "2 of 5, choose a state",
    Stage.SELECT_FACILITY_LEVEL: "3 of 5, choose a facility level",
    Stage.SELECT_AGE_GROUP: "4 of 5, choose an age group",
    Stage.RESULTS: "5 of 5, results",
}


def _status_text(s: WorkflowState) -> str:
    c, d = s.choices, s.dataset
    file = f"{msg.md(d.file_name)} ({msg.num(d.overview.get('rows'))} rows)" if d else "none yet"
    lines = [
        "**Status**",
        f"- Step: {_STEP_NAMES[s.stage]}",
        f"- File: {file}",
        f"- State: {msg.md(c.state) if c.state else 'not chosen'}",
        f"- Facility level: {msg.level_phrase(c.level) if c.level else 'not chosen'}",
        f"- Age group: {msg.age_label(c.age) if c.age else 'not chosen'}",
    ]
    if s.results:
        r = s.results
        lines.append(f"- Last results: {msg.params_line(r.state, r.level, r.age)}")
    return "\n".join(lines)


# -- reading a reply -------------------------------------------------------------------------


def _on_message(s: WorkflowState, text: str) -> Outcome:
    wanted = history.requested(s.analyses, text)
    if wanted is not False:
        return _reopen(s, wanted if isinstance(wanted, Analysis) else None)
    _, options = QUESTIONS[s.stage](s)
    candidates = stage_candidates(s.stage, options, _overview(s))
    exact = [c.value for c in candidates if c.value == text.strip()]
    if exact:  # a button's value
        return _pick(s, exact[0], options)
    command = match_command(text)
    if command is not None:
        return COMMANDS[command](s)
    found = match_option(text, candidates, numbered=len(options))
    if isinstance(found, Picked):
        return _pick(s, found.value, options)
    if isinstance(found, Ambiguous):
        shown = {o.value: o for o in options}
        which = [shown.get(v) or Option(candidate_label(v, options), v) for v in found.values]
        names = " or ".join(f"**{msg.md(o.label)}**" for o in which)
        return s, [Reply(f"That could mean {names}. Which one?", s.stage, which)]
    command = fuzzy_command(text)
    if command is not None:
        return COMMANDS[command](s)
    example = f"`1` or {msg.code(options[0].label)}" if options else "`help`"
    return _ask(
        s,
        "I did not recognise that as one of the choices.",
        f"For example, type {example}. Type `help` for more.",
    )


def _pick(s: WorkflowState, value: str, options: list[Option]) -> Outcome:
    """Carry out a picked choice, or explain why the file cannot serve it and ask again."""
    kind = _KIND.get(s.stage, "")
    choice = value
    if s.stage is Stage.RESULTS:
        kind, _, choice = value.partition(":")
    reason = questions.unavailable_reason(_overview(s), s.choices.state or "", kind, choice)
    if reason is None:
        return PICKS[s.stage](s, value)
    label = candidate_label(value, options)
    return _ask(s, f"**{msg.md(label)}** is not available: {msg.md(reason)}. Choose another.")


_KIND: Final = {Stage.SELECT_FACILITY_LEVEL: "level", Stage.SELECT_AGE_GROUP: "age"}


# -- events ----------------------------------------------------------------------------------


def _on_file(s: WorkflowState, e: FileUploaded) -> Outcome:
    if not e.overview.get("states"):
        return _ask(s, f"**{msg.md(e.file_name)}** has no rows with a state I can use.")
    s = WorkflowState(
        stage=Stage.AWAITING_UPLOAD,
        dataset=Dataset(e.blob_key, e.file_name, dict(e.overview)),
        analyses=s.analyses,
    )
    summary = msg.upload_summary(e.file_name, e.overview)
    # The event carries the headline figures only: a national file's per-state breakdown is
    # tens of KB, and events stay a few KB (the state keeps the whole overview).
    headline = {k: v for k, v in e.overview.items() if k != "by_state"}
    return _first_choice(s, summary, {"overview": headline, "file_name": e.file_name})


def _on_failed(s: WorkflowState, e: UploadFailed) -> Outcome:
    problems = "\n".join(f"- {msg.md(p)}" for p in e.problems) or "- the file could not be read"
    text = f"I could not use **{msg.md(e.file_name)}**:\n\n{problems}"
    if s.dataset:
        text += f"\n\nI am still using **{msg.md(s.dataset.file_name)}**."
    return _ask(s, text)


def _on_results(s: WorkflowState, e: ResultsComputed) -> Outcome:
    if s.dataset is None or e.dataset not in ("", s.dataset.blob_key):
        return _show_other_file(s, e)
    if s.choices != Choices(e.state, e.level, e.age):
        return s, []  # results for choices no longer current: nothing to show
    if e.key:
        seen = Analysis(e.key, s.dataset.blob_key, s.dataset.file_name, e.state, e.level, e.age,
                        e.at)  # fmt: skip
        s = replace(s, analyses=history.record(s.analyses, seen))
    results = Results(e.state, e.level, e.age, dict(e.summary), e.key)
    return _show_results(replace(s, stage=Stage.RESULTS, results=results))


def _show_other_file(s: WorkflowState, e: ResultsComputed) -> Outcome:
    """An analysis of a file that is not the loaded one, opened again: its results, then the
    current question (the state does not change)."""
    a = history.find(s.analyses, e.key)
    if a is None:
        return s, []
    r = Results(e.state, e.level, e.age, dict(e.summary), e.key)
    loaded = f"**{msg.md(s.dataset.file_name)}**" if s.dataset else "no file"
    note = (f"This analysis is of **{msg.md(a.file_name)}**, an earlier file; you are working "
            f"with {loaded}, so changing a choice uses that.")  # fmt: skip
    _, (reply,) = _ask(s, f"{msg.results_text(r.summary, r.state, r.level, r.age)}\n\n{note}")
    assert isinstance(reply, Reply)
    return s, [replace(reply, data=_results_data(s, r))]


def step(state: WorkflowState, event: Event) -> Outcome:
    """Feed one event; get the new state and the effects to carry out, in order."""
    match event:
        case MessageReceived(text=text):
            return _on_message(state, text)
        case FileUploaded():
            return _on_file(state, event)
        case UploadFailed():
            return _on_failed(state, event)
        case ResultsComputed():
            return _on_results(state, event)
        case SessionStarted():
            return _ask(state) if state == initial_state() else _ask(state, "Welcome back.")
        case UploadStarted():
            return state, []
    raise TypeError(f"not a workflow event: {event!r}")
