"""Reply matching: which option or command a typed reply means, on whole words only.

Text is cut into tokens (letters, digits, `<`, `>=`, `+`; "u5" -> u 5), and a phrase matches
when its tokens occur contiguously in the reply: "no" never selects Kano, "end" inside
"recommended" and "back" inside "feedback" are not words of their own. Order of trust:
an option number ("2"), then exact phrases (a phrase found inside a longer one gives way, so "all
facility levels" beats "all"), then close misspellings (difflib ratio >= 0.85, only against this
stage's phrases).
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from tpr_ws.actors import messages as msg
from tpr_ws.actors.messages import Option
from tpr_ws.actors.state import Stage

_TOKEN: Final = re.compile(r"[a-z]+|[0-9]+|[<>]=?|\+")
FUZZY_CUTOFF: Final = 0.85
FUZZY_MAX_TOKENS: Final = 6
# A reply longer than this is not a choice; only its start is read.
MAX_CHARS: Final = 1000
MAX_TOKENS: Final = 60
_NUMBER_FILLERS: Final = frozenset(
    {"option", "number", "choice", "pick", "choose", "select", "the", "please", "no"}
)
_ORDINALS: Final = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}
_NUMBER_WORDS: Final = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                        **_ORDINALS}  # fmt: skip


def tokens(text: str) -> tuple[str, ...]:
    """Lowercase words, numbers and comparison signs; only the start of a very long reply."""
    t = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold()
    t = t.replace("≥", ">=").replace("≤", "<=").replace("'", "")
    return tuple(_TOKEN.findall(t)[:MAX_TOKENS])


class Command(StrEnum):
    BACK = "back"
    RESTART = "restart"
    STATUS = "status"
    HELP = "help"
    UPLOAD = "upload"
    ANALYSES = "analyses"


COMMAND_PHRASES: Final[Mapping[Command, tuple[str, ...]]] = {
    Command.BACK: ("back", "go back", "previous step", "undo"),
    Command.RESTART: ("restart", "start over", "start again", "reset", "begin again"),
    Command.STATUS: ("status", "where am i", "what have i chosen"),
    Command.HELP: ("help", "what can i type", "what can i say", "how does this work"),
    Command.UPLOAD: (
        "upload",
        "new file",
        "another file",
        "different file",
        "upload a new file",
        "upload another file",
    ),
    Command.ANALYSES: (
        "analyses",
        "my analyses",
        "earlier analyses",
        "previous analyses",
        "list analyses",
        "history",
        "earlier results",
        "previous results",
    ),
}


@functools.cache
def _command_needles() -> tuple[tuple[Command, tuple[str, ...]], ...]:
    """Each command's phrases as ' '-joined tokens with a space each side, built once."""
    return tuple(
        (command, tuple(f" {' '.join(_phrase_tokens(p))} " for p in phrases))
        for command, phrases in COMMAND_PHRASES.items()
    )


@functools.lru_cache(maxsize=4096)
def _phrase_tokens(phrase: str) -> tuple[str, ...]:
    """`tokens` of a known phrase (options, synonyms, commands), tokenised once."""
    return tokens(phrase)


def match_command(text: str) -> Command | None:
    """A command named anywhere in the reply as a whole word or phrase."""
    # Tokens never hold a space, so a phrase's tokens occur contiguously in the reply exactly
    # when ' <phrase tokens> ' occurs in ' <reply tokens> '.
    hay = f" {' '.join(tokens(text))} "
    for command, needles in _command_needles():
        if any(needle in hay for needle in needles):
            return command
    return None


def _edits(a: str, b: str) -> tuple[int, bool]:
    """Optimal-string-alignment distance between a and b, and whether it used a substitution."""
    rows = [[(j, False) for j in range(len(b) + 1)]]
    for i in range(1, len(a) + 1):
        row = [(i, False)]
        for j in range(1, len(b) + 1):
            same = a[i - 1] == b[j - 1]
            options = [
                (rows[i - 1][j][0] + 1, rows[i - 1][j][1]),
                (row[j - 1][0] + 1, row[j - 1][1]),
                (rows[i - 1][j - 1][0] + (not same), rows[i - 1][j - 1][1] or not same),
            ]
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and not same:
                options.append((rows[i - 2][j - 2][0] + 1, rows[i - 2][j - 2][1]))
            row.append(min(options))
        rows.append(row)
    return rows[-1][-1]


def fuzzy_command(text: str) -> Command | None:
    """A one-word reply one typo away from a one-word command: "bakc", "restat", "hepl".
    Short words may not swap a letter for another ("bank" is not "back")."""
    toks = tokens(text)
    if len(toks) != 1 or len(toks[0]) < 4:
        return None
    word = toks[0]
    for command, phrases in COMMAND_PHRASES.items():
        for p in phrases:
            if " " in p or len(p) < 4 or p[0] != word[0]:
                continue
            distance, substituted = _edits(word, p)
            if distance == 1 and (not substituted or len(p) >= 6):
                return command
    return None


@dataclass(frozen=True)
class Candidate:
    """An answer this stage accepts: the value to report and the phrases that name it."""

    value: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Picked:
    value: str


@dataclass(frozen=True)
class Ambiguous:
    values: tuple[str, ...]


@dataclass(frozen=True)
class NoMatch:
    pass


Match = Picked | Ambiguous | NoMatch


def _number(toks: tuple[str, ...]) -> int | None:
    """The option number a reply is: "2", "option 2", "no. 2", "two", "the second one"."""
    ordinal = any(t in _ORDINALS for t in toks)
    rest = [t for t in toks if t not in _NUMBER_FILLERS and not (ordinal and t == "one")]
    if len(rest) != 1:
        return None
    if rest[0].isdigit():
        return int(rest[0]) if len(rest[0]) <= 4 else -1
    return _NUMBER_WORDS.get(rest[0])


def _best(scored: Iterable[tuple[float, str]]) -> Match:
    scores: dict[str, float] = {}
    for score, value in scored:
        scores[value] = max(score, scores.get(value, 0.0))
    if not scores:
        return NoMatch()
    top = max(scores.values())
    winners = tuple(v for v, s in scores.items() if s == top)
    return Picked(winners[0]) if len(winners) == 1 else Ambiguous(winners)


def _index(candidates: Sequence[Candidate]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each phrase's tokens -> the values it names."""
    index: dict[tuple[str, ...], tuple[str, ...]] = {}
    for c in candidates:
        for ptoks in map(_phrase_tokens, c.phrases):
            if ptoks and c.value not in index.get(ptoks, ()):
                index[ptoks] = (*index.get(ptoks, ()), c.value)
    return index


def _exact(toks: tuple[str, ...], index: Mapping[tuple[str, ...], tuple[str, ...]],
           order: Sequence[str]) -> Match:  # fmt: skip
    """Phrases found in the reply; one found inside another's words gives way to it
    ("all" inside "all facility levels"), while separate ones ("kids and pregnant women")
    are ambiguous."""
    lengths = {len(k) for k in index}
    hits = [
        ((i, i + n), value)
        for n in lengths
        for i in range(len(toks) - n + 1)
        for value in index.get(toks[i : i + n], ())
    ]
    kept = {
        value
        for (a, b), value in hits
        if not any(c <= a and b <= d and (c, d) != (a, b) for (c, d), _ in hits)
    }
    values = tuple(v for v in dict.fromkeys(order) if v in kept)
    if not values:
        return NoMatch()
    return Picked(values[0]) if len(values) == 1 else Ambiguous(values)


def _close(a: str, b: str) -> float:
    m = difflib.SequenceMatcher(None, a, b)
    if m.real_quick_ratio() < FUZZY_CUTOFF or m.quick_ratio() < FUZZY_CUTOFF:
        return 0.0
    return m.ratio()


def _fuzzy(toks: tuple[str, ...], index: Mapping[tuple[str, ...], tuple[str, ...]]) -> Match:
    """Close misspellings of a whole phrase, or of a one-word phrase inside a short reply
    ("the adamwa one"). Long replies are not misspelt choices."""
    if len(toks) > FUZZY_MAX_TOKENS:
        return NoMatch()
    whole = " ".join(toks)
    words = [t for t in toks if len(t) >= 4]
    scored: list[tuple[float, str]] = []
    for ptoks, values in index.items():
        phrase = " ".join(ptoks)
        if len(phrase) < 3:
            continue
        ratio = max(_close(t, phrase) for t in [whole, *(words if len(ptoks) == 1 else [])])
        if ratio >= FUZZY_CUTOFF:
            scored += [(round(ratio, 3), v) for v in values]
    return _best(scored)


def match_option(text: str, candidates: Sequence[Candidate], numbered: int | None = None) -> Match:
    """Which candidate the reply names. Numbers 1..`numbered` pick the first `numbered`
    candidates (the options on screen); a number out of range matches nothing."""
    toks = tokens(text)
    if not toks:
        return NoMatch()
    n = _number(toks)
    if n is not None:
        limit = len(candidates) if numbered is None else numbered
        return Picked(candidates[n - 1].value) if 1 <= n <= limit else NoMatch()
    index = _index(candidates)
    exact = _exact(toks, index, [c.value for c in candidates])
    return exact if not isinstance(exact, NoMatch) else _fuzzy(toks, index)


# Synonyms, by option value. "hospital" names both Secondary and Tertiary on purpose: on its
# own it is ambiguous and the user is asked which; "general hospital" / "teaching hospital" win
# by being longer phrases.
LEVEL_PHRASES: Final[Mapping[str, tuple[str, ...]]] = {
    "Primary": ("primary", "phc", "phcs", "primary health care", "primary health centre",
                "primary health center", "health centre", "health center", "clinic", "clinics"),
    "Secondary": ("secondary", "general hospital", "cottage hospital", "hospital", "hospitals",
                  "secondary hospital"),
    "Tertiary": ("tertiary", "teaching hospital", "university hospital", "federal medical centre",
                 "federal medical center", "fmc", "hospital", "hospitals"),
    "All": ("all", "all levels", "all facility levels", "all facilities", "every level",
            "all facility types", "any level", "combined"),
}  # fmt: skip

AGE_PHRASES: Final[Mapping[str, tuple[str, ...]]] = {
    "u5": ("under 5", "under five", "u5", "<5", "below 5", "below five", "less than 5",
           "kids", "children", "child", "under fives", "infants"),
    "o5": ("5 and over", "5 and above", "over 5", "over five", "above 5", "above five", "5+",
           ">=5", "adults", "adult", "older", "o5", "5 years and over", "excl pregnant women",
           "excluding pregnant women"),
    "pw": ("pregnant", "pregnant women", "pregnant woman", "pw", "pregnancy", "anc"),
    "all": ("all", "all ages", "all age groups", "everyone", "everybody", "all groups"),
}  # fmt: skip

STATE_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "FCT": ("abuja", "federal capital territory", "f c t"),
}

RECOMMENDED_PHRASES: Final = ("recommended", "the recommended one", "default", "suggested")

ACTION_PHRASES: Final[Mapping[str, tuple[str, ...]]] = {
    "sample": ("sample data", "demo", "example", "example data", "test data"),
    "continue": ("keep", "keep the file", "current file", "same file"),
    "change state": ("another state", "different state", "other state", "switch state",
                     "new state", "pick a state"),
    "change level": ("change facility level", "another level", "different level",
                     "facility level", "level"),
    "change age": ("change age group", "another age group", "different age group",
                   "age group", "another age"),
}  # fmt: skip


def _synonyms(stage: Stage, value: str) -> tuple[str, ...]:
    if stage is Stage.SELECT_STATE:
        return (f"{value} state", *STATE_ALIASES.get(value, ()))
    if stage is Stage.SELECT_FACILITY_LEVEL:
        return LEVEL_PHRASES.get(value, ())
    if stage is Stage.SELECT_AGE_GROUP:
        return AGE_PHRASES.get(value, ())
    return ACTION_PHRASES.get(value, ())


def stage_candidates(
    stage: Stage, options: Sequence[Option], overview: Mapping[str, Any]
) -> list[Candidate]:
    """What a stage accepts: its options, by label, value and synonyms (the recommended one also
    as "recommended"); at results also every state, level and age group by name, with values
    "state:Kano", "level:All", "age:pw", so one change can be typed directly."""
    out = [
        Candidate(o.value, (o.label, o.value, *_synonyms(stage, o.value)) + (
            RECOMMENDED_PHRASES if o.recommended else ()))
        for o in options
    ]  # fmt: skip
    if stage is not Stage.RESULTS:
        return out
    states = [str(x) for x in overview.get("states") or []]
    if len(states) > 1:
        out += [
            Candidate(f"state:{x}", (x, f"{x} state", *STATE_ALIASES.get(x, ()))) for x in states
        ]
    out += [
        Candidate(f"level:{lv}", (msg.LEVEL_LABELS[lv], *LEVEL_PHRASES[lv]))
        for lv in msg.LEVELS  # all of them: one the file cannot serve gets an explanation
    ]
    out += [Candidate(f"age:{a}", (msg.age_label(a), *AGE_PHRASES[a])) for a in msg.AGES]
    return out


def candidate_label(value: str, options: Sequence[Option]) -> str:
    """How to name a candidate in a question: its option's label, or "all facility levels"."""
    for o in options:
        if o.value == value:
            return o.label
    kind, _, name = value.partition(":")
    if kind == "level":
        return msg.level_phrase(name)
    return msg.age_label(name) if kind == "age" else name
