"""Reply matching on its own: tokens, numbers, phrases, misspellings, ambiguity, commands."""

from __future__ import annotations

import pytest

from tpr_ws.actors.matching import (
    AGE_PHRASES,
    LEVEL_PHRASES,
    Ambiguous,
    Candidate,
    Command,
    Match,
    NoMatch,
    Picked,
    fuzzy_command,
    match_command,
    match_option,
    tokens,
)

STATES = [Candidate(s, (s, f"{s} state")) for s in
          ("Adamawa", "Kano", "Kaduna", "Cross River", "Niger", "FCT")]  # fmt: skip
LEVELS = [Candidate(v, (v, *p)) for v, p in LEVEL_PHRASES.items()]
AGES = [Candidate(v, p) for v, p in AGE_PHRASES.items()]


def test_tokens() -> None:
    assert tokens("  Adamawa   STATE ") == ("adamawa", "state")
    assert tokens("u5") == ("u", "5")
    assert tokens("≥5yrs (excl PW)") == (">=", "5", "yrs", "excl", "pw")
    assert tokens("5+") == ("5", "+")
    assert tokens("") == ()


CASES: list[tuple[list[Candidate], str, Match]] = [
    (STATES, "2", Picked("Kano")),
    (STATES, "option 3", Picked("Kaduna")),
    (STATES, " 1 ", Picked("Adamawa")),
    (STATES, "7", NoMatch()),
    (STATES, "no. 2", Picked("Kano")),
    (STATES, "two", Picked("Kano")),
    (STATES, "the third one", Picked("Kaduna")),
    (STATES, "2 please", Picked("Kano")),
    (STATES, "the kano one", Picked("Kano")),
    (STATES, "0", NoMatch()),
    (STATES, "99999999999", NoMatch()),
    (STATES, "adamawa", Picked("Adamawa")),
    (STATES, "Adamawa State", Picked("Adamawa")),
    (STATES, "cross river", Picked("Cross River")),
    (STATES, "CROSS-RIVER", Picked("Cross River")),
    (STATES, "Adamwa", Picked("Adamawa")),
    (STATES, "Kadna", Picked("Kaduna")),
    (STATES, "no", NoMatch()),  # not Kano
    (STATES, "nigeria", NoMatch()),  # whole words: not Niger
    (STATES, "kano and kaduna", Ambiguous(("Kano", "Kaduna"))),
    (STATES, "", NoMatch()),
    (STATES, "!!!", NoMatch()),
    (LEVELS, "PHC", Picked("Primary")),
    (LEVELS, "all facility levels", Picked("All")),
    (LEVELS, "hospital", Ambiguous(("Secondary", "Tertiary"))),
    (LEVELS, "general hospital", Picked("Secondary")),
    (LEVELS, "teaching hospital", Picked("Tertiary")),
    (LEVELS, "tertairy", Picked("Tertiary")),
    (AGES, "under five", Picked("u5")),
    (AGES, "U5", Picked("u5")),
    (AGES, "<5", Picked("u5")),
    (AGES, ">=5", Picked("o5")),
    (AGES, "≥5", Picked("o5")),
    (AGES, "5 and over excl pregnant women", Picked("o5")),
    (AGES, "pregnant women", Picked("pw")),
    (AGES, "kids and pregnant women", Ambiguous(("u5", "pw"))),
    (AGES, "everyone", Picked("all")),
    (AGES, "5", NoMatch()),
]


@pytest.mark.parametrize(("candidates", "text", "expected"), CASES)
def test_match_option(candidates: list[Candidate], text: str, expected: Match) -> None:
    assert match_option(text, candidates) == expected


def test_numbers_only_count_the_options_on_screen() -> None:
    assert match_option("2", STATES, numbered=1) == NoMatch()
    assert match_option("1", STATES, numbered=1) == Picked("Adamawa")


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("back", Command.BACK), ("go back", Command.BACK), ("Back.", Command.BACK),
        ("feedback", None), ("backwards", None),
        ("restart", Command.RESTART), ("start over", Command.RESTART), ("restarting", None),
        ("status", Command.STATUS), ("where am I?", Command.STATUS),
        ("help", Command.HELP), ("helpful", None),
        ("upload a new file", Command.UPLOAD), ("new file", Command.UPLOAD),
        ("recommended", None), ("end", None), ("the end", None),
    ],
)  # fmt: skip
def test_match_command(text: str, command: Command | None) -> None:
    assert match_command(text) == command


@pytest.mark.parametrize(
    ("text", "command"),
    [("bakc", Command.BACK), ("restat", Command.RESTART), ("hepl", Command.HELP),
     ("stauts", Command.STATUS), ("bank", None), ("hack", None), ("go bakc", None),
     ("kano", None)],
)  # fmt: skip
def test_fuzzy_command(text: str, command: Command | None) -> None:
    assert fuzzy_command(text) == command


def test_a_very_long_reply_is_read_from_its_start() -> None:
    assert len(tokens("word " * 10_000)) == 60
    assert match_option("kano " + "blah " * 10_000, STATES) == Picked("Kano")
    assert match_option("blah " * 10_000 + "kano", STATES) == NoMatch()
    assert match_command("x" * 5_000 + " back") is None
