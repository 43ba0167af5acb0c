"""The DHIS2 state prefix is learnt per state from the file and stripped exactly."""

from __future__ import annotations

import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.domain.factories import facility_row, parse_xlsx, table
from tpr_ws.domain import tidy
from tpr_ws.domain.prefixes import learn_prefixes


def geo(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["state", "lga", "ward", "facility"], dtype=object)


def test_each_state_has_its_own_code() -> None:
    frame = geo([
        ("kn Kano State", "kn Dala Local Government Area", "kn 'Yan Kaba Ward", "kn PHC Dala"),
        ("kn Kano State", "kn Dala Local Government Area", "Unknown", "kn #1 Clinic"),
        ("ad Adamawa State", "ad Demsa Local Government Area", "ad mbamba Ward", "ad PHC"),
        ("Kwara", "Ilorin East", "de Gaulle", "PHC Ilorin"),
    ])  # fmt: skip
    assert learn_prefixes(frame).tolist() == ["kn", "kn", "ad", ""]


def test_a_lower_case_word_on_a_few_names_is_not_a_code() -> None:
    frame = geo([
        ("Kwara", "Ilorin East", "de Gaulle", "PHC Ilorin"),
        ("Kwara", "Ilorin East", "Oke Oyi", "PHC Oke"),
        ("Kwara", "Ilorin East", "Gambari", "PHC Gambari"),
    ])  # fmt: skip
    assert learn_prefixes(frame).tolist() == ["", "", ""]


def test_the_code_is_learnt_from_the_names_even_when_the_state_cell_is_clean() -> None:
    frame = geo([("Kano", "kn Dala", "kn mbamba Ward", "kn PHC"), ("Kano", "kn Dala", "kn Gwale",
                 "kn GH")])  # fmt: skip
    assert learn_prefixes(frame).tolist() == ["kn", "kn"]


def test_parsed_names_lose_exactly_the_learnt_code() -> None:
    raw = [
        ("kn 'Yan Kaba Ward", "kn Primary Health Centre 0"), ("kn mbamba Ward", "kn #2 Clinic"),
        ("kn #1 Gwale Ward", "kn dispensary Gwale"), ("kn Igbon0 Ward", "kn Health Post 3"),
    ]  # fmt: skip
    rows = []
    for i, (ward, facility) in enumerate(raw):
        row = facility_row(i)
        row[:4] = ["kn Kano State", "kn Dala Local Government Area", ward, facility]
        rows.append(row)
    frame = parse_xlsx(table(rows=rows)).frame
    assert frame["state"].unique().tolist() == ["Kano"]
    assert frame["lga"].unique().tolist() == ["Dala"]
    assert frame["ward"].tolist() == ["'Yan Kaba", "mbamba", "#1 Gwale", "Igbonna"]
    assert frame["facility"].tolist() == [
        "Primary Health Centre 0", "#2 Clinic", "dispensary Gwale", "Health Post 3",
    ]  # fmt: skip


_first = st.sampled_from(["'", "#", "(", "-", "m", "M", "1", "é", "k"])
_rest = st.text(alphabet=st.sampled_from("abcdeXYZ '"), min_size=1, max_size=8)


@settings(deadline=None)  # first call: pandas compiles its string code
@given(code=st.sampled_from(["ad", "kn", "fc", "na"]), first=_first, rest=_rest)
def test_whatever_follows_the_code_one_ward_has_one_name(code: str, first: str, rest: str) -> None:
    name = (first + rest).strip()
    frame = geo([
        (f"{code} Some State", f"{code} Lga Local Government Area", f"{code} {name} Ward",
         f"{code} PHC One"),
        (f"{code} Some State", f"{code} Lga Local Government Area", f"{code} Other Ward",
         f"{code} PHC Two"),
    ])  # fmt: skip
    prefix = learn_prefixes(frame)
    assert prefix.tolist() == [code, code]
    wards = tidy.clean_names(frame["ward"], "ward", prefix).tolist()
    assume(not name.startswith(f"{code} "))
    assert wards == [" ".join(name.split()), "Other"]
