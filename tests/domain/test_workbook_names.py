"""Header recognition and name cleaning, including properties checked with hypothesis."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tpr_ws.domain import schema
from tpr_ws.domain.headers import find_header_row, indicator_of, normalise_header, role_of
from tpr_ws.domain.names import (
    clean_name,
    is_total,
    level_from_name,
    normalise_level,
    normalise_period,
)
from tpr_ws.domain.tidy import to_counts

ROLES = ("state", "lga", "ward", "facility")


@pytest.mark.parametrize("column", schema.INDICATOR_COLUMNS)
def test_every_dhis2_name_and_its_mojibake_is_recognised(column: str) -> None:
    name = schema.DHIS2_NAMES[column]
    for variant in (name, name.replace("≥", "â‰¥"), name.replace(" ≥", "  ≥"), name.upper()):
        assert indicator_of(normalise_header(variant)) == column


@pytest.mark.parametrize(
    "header", ["PW who received LLIN", "Children <5 yrs who received LLIN", "ownership", ""]
)
def test_other_columns_are_not_indicators(header: str) -> None:
    assert indicator_of(normalise_header(header)) is None


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("organisationunit0me", "facility"), ("period0me", "period_name"),
        ("Health Faccility", "facility"), ("WardName", "ward"), ("HealthFacility", "facility"),
        ("FacilityLevel", "level"), ("Facility level", "level"), ("orgunitlevel2", "state"),
        ("orgunitlevel3", "lga"), ("orgunitlevel4", "ward"), ("orgunitlevel5", "facility"),
        (" periodcode ", "period_code"), ("LGA", "lga"),
    ],
)  # fmt: skip
def test_identity_header_aliases(header: str, role: str) -> None:
    found = role_of(normalise_header(header))
    assert found is not None and found[0] == role


def test_header_row_is_the_one_with_the_indicator_names() -> None:
    rows: list[list[object]] = [
        [None, None],
        ["Report", "Malaria"],
        ["State", "Ward", *schema.DHIS2_NAMES.values()],
    ]
    row, header_map = find_header_row(rows)
    assert row == 2
    assert len(header_map.indicators) == 12


@pytest.mark.parametrize(
    ("raw", "role", "prefix", "clean"),
    [
        ("ad Adamawa State", "state", "ad", "Adamawa"),
        ("ad Yola North Local Government Area", "lga", "ad", "Yola North"),
        ("ad Karewa Ward", "ward", "ad", "Karewa"),
        ("ad Gwa0be Ward", "ward", "ad", "Gwanabe"),
        ("kw Igbon0 Ward", "ward", "kw", "Igbonna"),
        ("kw Igbon0", "lga", "kw", "Igbonna"),
        ("ad Primary Health Centre Bako", "facility", "ad", "Primary Health Centre Bako"),
        ("fc Federal Capital Territory", "state", "fc", "FCT"),
        ("F.C.T", "state", "", "FCT"),
        ("  Mubi   South  ", "lga", "", "Mubi South"),
        ("Ward 10", "ward", "", "Ward 10"),
        ("Ward", "ward", "", "Ward"),
        # The learnt code goes whatever follows it; nothing else is taken for a code.
        ("kn 'Yan Kaba Ward", "ward", "kn", "'Yan Kaba"),
        ("ad mbamba Ward", "ward", "ad", "mbamba"),
        ("ad #1 Karewa Ward", "ward", "ad", "#1 Karewa"),
        ("ad  (Old) Garki Ward", "ward", "ad", "(Old) Garki"),
        ("de Gaulle Ward", "ward", "", "de Gaulle"),
        ("de Gaulle Ward", "ward", "ad", "de Gaulle"),
        ("Lamurde Ward (Lamurde)", "ward", "ad", "Lamurde Ward (Lamurde)"),
    ],
)
def test_names_are_cleaned(raw: str, role: str, prefix: str, clean: str) -> None:
    assert clean_name(raw, role, prefix) == clean


names = st.text(alphabet=st.sampled_from("adkoGWn0 .-'#StateLgWrd"), max_size=30)


@given(names, st.sampled_from(ROLES), st.sampled_from(["", "ad", "kn"]))
def test_name_cleaning_is_idempotent(raw: str, role: str, prefix: str) -> None:
    once = clean_name(raw, role, prefix)
    assert clean_name(once, role, prefix) == once


@given(st.integers(min_value=-(10**6), max_value=10**9), st.sampled_from(["{}", " {} ", "{:,}"]))
def test_numbers_stored_as_text_are_read_as_numbers(number: int, template: str) -> None:
    cells = pd.Series([template.format(number), number, None, ""], dtype=object)
    counts = to_counts(cells)
    assert counts.values.tolist()[:2] == [float(number), float(number)]
    assert counts.values.isna().tolist()[2:] == [True, True]
    assert counts.not_numbers == 0


def test_junk_in_a_count_cell_is_blank_and_counted() -> None:
    counts = to_counts(pd.Series(["7", "n/a", "-"], dtype=object))
    assert counts.values.tolist()[0] == 7.0
    assert counts.not_numbers == 2


@pytest.mark.parametrize(
    ("value", "period"),
    [
        (202401, "2024-01"), ("202412", "2024-12"), (202401.0, "2024-01"),
        ("January 2024", "2024-01"), ("Sep 2023", "2023-09"), (2024, "2024"),
        ("2024", "2024"), ("2024-03-01 00:00:00", "2024-03"), ("202413", None), ("", None),
    ],
)  # fmt: skip
def test_periods(value: object, period: str | None) -> None:
    assert normalise_period(value) == period


def test_level_rules() -> None:
    assert normalise_level("Primary Health Facility") == "Primary"
    assert normalise_level("PHC") == "Primary"
    assert normalise_level("private") is None
    assert level_from_name("Federal Specialist Hospital Irrua") == "Tertiary"
    assert level_from_name("University Hospital Jos") == "Tertiary"
    assert level_from_name("Medical Centre Bako") == "Secondary"
    assert level_from_name("Maternity Clinic Bako") == "Primary"


def test_totals_labels() -> None:
    assert is_total("Total") and is_total(" grand total ") and not is_total("Totalgana")
