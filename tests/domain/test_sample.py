"""The sample generator: layouts as DOMAIN.md describes them, sizes, defects, determinism."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tpr_ws.domain import schema
from tpr_ws.domain.sample.cli import main as sample_main
from tpr_ws.domain.sample.generator import (
    DEFECT_NAMES,
    PRESETS,
    Defects,
    Preset,
    generate,
    sample_upload,
)
from tpr_ws.domain.sample.geo import Sizes
from tpr_ws.domain.sample.layout import SPLIT_COLUMN, ZERO_FILLED_COLUMN

LAYOUT_HEADERS = {
    "A": ["State", "LGA", "Ward", "Health Faccility", "level", "ownership", "periodname",
          "periodcode"],
    "B": ["orgunitlevel1", "orgunitlevel2", "orgunitlevel3", "orgunitlevel4", "orgunitlevel5",
          "periodname", "periodcode"],
    "C": ["State", "LGA", "WardName", "HealthFacility", "FacilityLevel", "periodname",
          "periodcode"],
    "D": ["orgunitlevel2", "orgunitlevel3", "Ward", "organisationunit0me", "Facility level",
          "period0me"],
}  # fmt: skip
SHEETS = {"A": ["pivot", "raw", "tpr"], "B": ["Sheet1"], "C": ["data"], "D": ["Sheet 1"]}
DATA_SHEET = {"A": "raw", "B": "Sheet1", "C": "data", "D": "Sheet 1"}


def xlsx_rows(data: bytes, sheet: str) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = [tuple(r) for r in book[sheet].iter_rows(values_only=True)]
    book.close()
    width = max(len(r) for r in rows)
    return [r + (None,) * (width - len(r)) for r in rows]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def header_of(rows: list[tuple[object, ...]], layout: str) -> list[object]:
    return list(rows[1] if layout == "D" else rows[0])


@pytest.mark.parametrize("layout", "ABCD")
def test_layout_sheets_headers_and_blank_first_row(layout: str) -> None:
    made = generate(layout, "tiny", seed=3)
    book = openpyxl.load_workbook(io.BytesIO(made.data), read_only=True)
    assert book.sheetnames == SHEETS[layout]
    book.close()
    rows = xlsx_rows(made.data, DATA_SHEET[layout])
    if layout == "D":
        assert all(cell is None for cell in rows[0])
    header = header_of(rows, layout)
    assert header[: len(LAYOUT_HEADERS[layout])] == LAYOUT_HEADERS[layout]
    indicators = [schema.DHIS2_NAMES[c] for c in schema.INDICATOR_COLUMNS]
    assert header[len(LAYOUT_HEADERS[layout]) :][:12] == indicators
    assert len(rows) - (2 if layout == "D" else 1) == len(made.truth)


def test_values_carry_dhis2_prefixes_and_suffixes() -> None:
    rows = xlsx_rows(generate("B", "tiny", seed=1).data, "Sheet1")
    first = rows[1]
    assert first[1] == "ad Adamawa State"
    assert str(first[2]).startswith("ad ") and str(first[2]).endswith(" Local Government Area")
    assert str(first[3]).startswith("ad ") and str(first[3]).endswith(" Ward")
    assert str(first[4]).startswith("ad ")
    three = Preset("three", Sizes(states=3, lgas=9, wards=18, facilities=40), months=1)
    made = generate("B", three, seed=0, fmt="csv")
    assert "fc Federal Capital Territory" in {r[1] for r in csv_rows(made.data)[1:]}
    assert "FCT" in set(made.truth[schema.STATE])


def test_truth_is_tidy_and_sized_by_preset() -> None:
    tiny = generate("A", "tiny").truth
    assert list(tiny.columns) == list(schema.TIDY_COLUMNS)
    assert len(tiny) == PRESETS["tiny"].sizes.facilities * PRESETS["tiny"].months
    assert tiny[schema.STATE].nunique() == 2
    assert set(tiny[schema.FACILITY_LEVEL]) == {"Primary", "Secondary", "Tertiary"}
    assert not tiny.duplicated().any()
    assert all(tiny[c].dtype == np.float64 for c in schema.INDICATOR_COLUMNS)
    yearly = generate("D", "tiny").truth
    assert set(yearly[schema.PERIOD]) == {"2023", "2024"}


def test_state_preset_matches_adamawa() -> None:
    truth = generate("C", "state", seed=0, fmt="csv").truth
    assert truth[schema.STATE].unique().tolist() == ["Adamawa"]
    assert truth[schema.LGA].nunique() == 21
    assert truth.groupby([schema.LGA, schema.WARD]).ngroups == 226
    assert len(truth) == 868 * 12
    rdt_blank = truth[[f"rdt_tested_{a}" for a in ("u5", "o5", "pw")]].isna().mean().mean()
    mic_blank = truth[[f"mic_tested_{a}" for a in ("u5", "o5", "pw")]].isna().mean().mean()
    assert 0.40 < rdt_blank < 0.55 and mic_blank > 0.95


def test_determinism_by_seed() -> None:
    a, b = generate("A", "tiny", seed=7), generate("A", "tiny", seed=7)
    assert a.data == b.data
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert generate("A", "tiny", seed=8).data != a.data
    assert sample_upload().data == sample_upload().data


def test_sample_upload_has_two_states() -> None:
    made = sample_upload()
    assert made.file_name.endswith(".xlsx")
    assert made.truth[schema.STATE].nunique() == 2


def _data_rows(layout: str, defects: frozenset[str], fmt: str = "csv") -> list[list[str]]:
    return csv_rows(generate(layout, "tiny", seed=5, fmt=fmt, defects=defects).data)


def test_defect_totals_row() -> None:
    rows = _data_rows("A", frozenset({"totals_row"}))
    assert rows[-1][0] == "Total" and rows[-1][1:8] == [""] * 7
    body = rows[1:-1]
    j = 8  # the first indicator column
    assert float(rows[-1][j]) == sum(float(r[j]) for r in body if r[j])


def test_defect_duplicate_rows() -> None:
    made = generate("A", "tiny", seed=5, fmt="csv", defects=frozenset({"duplicate_rows"}))
    body = [tuple(r) for r in csv_rows(made.data)[1:]]
    assert len(body) > len(set(body)) and len(set(body)) == len(made.truth)


def test_defect_text_numbers_and_headers() -> None:
    defects = frozenset({"text_numbers", "mojibake_headers", "double_space_headers"})
    made = generate("B", "tiny", seed=5, fmt="xlsx", defects=defects)
    rows = xlsx_rows(made.data, "Sheet1")
    assert any(isinstance(v, str) and v.strip().isdigit() for r in rows[1:] for v in r[7:])
    assert any(" " in v for r in rows[1:] for v in r[7:] if isinstance(v, str))
    header = [str(h) for h in rows[0]]
    assert any("â‰¥" in h for h in header) and not any("≥" in h for h in header)
    assert any("  â‰¥" in h for h in header)


def test_defect_duplicate_header_pair_is_complementary() -> None:
    made = generate("C", "tiny", seed=5, fmt="xlsx", defects=frozenset({"duplicate_header_pair"}))
    rows = xlsx_rows(made.data, "data")
    name = schema.DHIS2_NAMES[SPLIT_COLUMN]
    at = [i for i, h in enumerate(rows[0]) if h == name]
    assert len(at) == 2
    assert not any(r[at[0]] is not None and r[at[1]] is not None for r in rows[1:])
    assert any(r[at[0]] is not None for r in rows[1:]) and any(
        r[at[1]] is not None for r in rows[1:]
    )


def test_defects_in_the_data() -> None:
    every = generate("A", "tiny", seed=5, defects=Defects.every()).truth
    counts = every[list(schema.INDICATOR_COLUMNS)]
    assert (counts < 0).any().any()
    assert (every["rdt_positive_u5"] > every["rdt_tested_u5"]).any()
    assert (every[schema.WARD] == "Unknown").any()
    per_name = every.groupby([schema.STATE, schema.WARD])[schema.LGA].nunique()
    assert (per_name.drop(index="Unknown", level=1, errors="ignore") > 1).any()


def test_defect_level_spellings() -> None:
    rows = _data_rows("A", frozenset({"level_spellings"}))
    levels = {r[4] for r in rows[1:]}
    assert {"Primary", "Primary Health Facility", "primary", "PHC"} <= levels


def test_unknown_defect_name_is_refused() -> None:
    with pytest.raises(ValueError, match="known"):
        generate("A", "tiny", defects=frozenset({"gremlins"}))
    assert set(Defects.every().names) == set(DEFECT_NAMES)


def test_sample_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.csv"
    args = ["--layout", "C", "--format", "csv", "--defects", "totals_row,text_numbers"]
    assert sample_main([*args, "-o", str(target)]) == 0
    assert (
        target.read_bytes()
        == generate("C", "tiny", fmt="csv", defects=frozenset({"totals_row", "text_numbers"})).data
    )
    assert "rows" in capsys.readouterr().out
    assert sample_main(["--defects", "gremlins", "-o", str(target)]) == 2


def test_defect_odd_name_starts() -> None:
    made = generate("B", "tiny", seed=5, fmt="csv", defects=frozenset({"odd_name_starts"}))
    wards = {r[3] for r in csv_rows(made.data)[1:]}
    lgas = {r[2] for r in csv_rows(made.data)[1:]}
    for code in ("ad", "kn"):
        assert any(w.startswith(f"{code} 'Yan ") for w in wards)
        assert any(w.startswith(f"{code} #1 ") for w in wards)
        assert any(w[3].islower() for w in wards if w.startswith(f"{code} "))
        assert any(w[3].islower() for w in lgas if w.startswith(f"{code} "))
    assert any(w.endswith("0 Ward") for w in wards)  # "...na" written "...0", as DHIS2 does
    truth_wards = set(made.truth[schema.WARD])
    assert any(w.startswith("'Yan ") for w in truth_wards)
    assert any(w.endswith("na") for w in truth_wards)


def test_defect_zero_filled_split_pair() -> None:
    made = generate("C", "tiny", seed=5, fmt="xlsx", defects=frozenset({"zero_filled_split_pair"}))
    rows = xlsx_rows(made.data, "data")
    name = schema.DHIS2_NAMES[ZERO_FILLED_COLUMN]
    first, second = (i for i, h in enumerate(rows[0]) if h == name)
    pairs = [(r[first], r[second]) for r in rows[1:]]
    assert all(a is not None and b is not None for a, b in pairs)  # filled on every row
    assert any(a == 0 and b > 0 for a, b in pairs) and any(a > 0 and b == 0 for a, b in pairs)
    assert any(a == b != 0 for a, b in pairs)
    assert any(a != b and a > 0 and b > 0 for a, b in pairs)
    assert not made.truth[ZERO_FILLED_COLUMN].isna().any()


@pytest.mark.parametrize("layout", "ABCD")
def test_partial_file_defects_remove_columns(layout: str) -> None:
    partial = frozenset({"rdt_only", "no_pregnant_women", "no_period_column", "no_facility_column"})
    made = generate(layout, "tiny", seed=5, fmt="csv", defects=partial)
    rows = csv_rows(made.data)
    header = rows[1] if layout == "D" else rows[0]
    indicators = [h for h in header if h.startswith("Persons")]
    assert indicators == [
        schema.DHIS2_NAMES[c] for c in ("rdt_tested_u5", "rdt_tested_o5", "rdt_positive_u5",
                                        "rdt_positive_o5")
    ]  # fmt: skip
    assert not {"periodname", "periodcode", "period0me"} & set(header)
    assert not {"Health Faccility", "orgunitlevel5", "HealthFacility", "organisationunit0me"} & set(
        header
    )
    truth = made.truth
    assert truth["period"].eq("").all() and truth["facility"].eq("").all()
    assert (
        truth[[c for c in schema.INDICATOR_COLUMNS if "mic" in c or "pw" in c]].isna().all().all()
    )
    assert not truth.duplicated().any()
    assert truth["facility_level"].eq("").all() == (layout == "B")
