"""An independent reader of the generated files, row by row: DOMAIN.md's input rules in plain
Python, for the oracle.

Written from the specification and the generator's layouts, not from tpr_ws.domain's parser:
it reads the CSV (csv module) or the workbook (openpyxl) cell by cell, takes the sheet and
header row that hold the indicator names, merges split columns with `oracle.merge_cells`,
strips each state's code (the first word of its own state cell), cleans names, reads periods
and levels, skips the totals row and removes exact duplicates. `read_file` gives the tidy
records `oracle.oracle_tpr` walks, and what the file can answer.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

import openpyxl
import pandas as pd

from tests.domain.oracle import merge_cells

# The twelve DHIS2 data-element names, as DOMAIN.md lists them.
INDICATORS = {
    "Persons presenting with fever & tested by RDT <5yrs": "rdt_tested_u5",
    "Persons presenting with fever & tested by RDT ≥5yrs (excl PW)": "rdt_tested_o5",
    "Persons presenting with fever & tested by RDT Preg Women (PW)": "rdt_tested_pw",
    "Persons presenting with fever and tested by Microscopy <5yrs": "mic_tested_u5",
    "Persons presenting with fever and tested by Microscopy ≥5yrs (excl PW)": "mic_tested_o5",
    "Persons presenting with fever and tested by Microscopy Preg Women (PW)": "mic_tested_pw",
    "Persons tested positive for malaria by RDT <5yrs": "rdt_positive_u5",
    "Persons tested positive for malaria by RDT ≥5yrs (excl PW)": "rdt_positive_o5",
    "Persons tested positive for malaria by RDT Preg Women (PW)": "rdt_positive_pw",
    "Persons tested positive for malaria by Microscopy <5yrs": "mic_positive_u5",
    "Persons tested positive for malaria by Microscopy ≥5yrs (excl PW)": "mic_positive_o5",
    "Persons tested positive for malaria by Microscopy Preg Women (PW)": "mic_positive_pw",
}
# The four layouts' identity headers (DOMAIN.md's table).
ROLES = {
    "State": "state", "orgunitlevel2": "state", "LGA": "lga", "orgunitlevel3": "lga",
    "Ward": "ward", "WardName": "ward", "orgunitlevel4": "ward", "Health Faccility": "facility",
    "HealthFacility": "facility", "organisationunit0me": "facility", "orgunitlevel5": "facility",
    "level": "level", "FacilityLevel": "level", "Facility level": "level",
    "periodcode": "period_code", "period0me": "year",
}  # fmt: skip
SUFFIXES = {"state": " State", "lga": " Local Government Area", "ward": " Ward"}
AGES = ("u5", "o5", "pw")


@dataclass
class FileAnswers:
    """The file's tidy records and what it can answer."""

    frame: pd.DataFrame
    ages: list[str]  # single age groups with a tested/positive pair (in some method)
    levels_known: bool  # a level column or facility names


def read_file(data: bytes, file_name: str) -> FileAnswers:
    """Tidy records of a generated file, read row by row."""
    rows = _rows(data, file_name)
    at = next(i for i, row in enumerate(rows) if any(_header(c) in INDICATORS for c in row))
    header = [_header(c) for c in rows[at]]
    roles = {ROLES[h]: j for j, h in enumerate(header) if h in ROLES}
    positions: dict[str, list[int]] = {}
    for j, h in enumerate(header):
        if h in INDICATORS:
            positions.setdefault(INDICATORS[h], []).append(j)
    paired = {
        f"{m}_{k}_{a}"
        for m in ("rdt", "mic")
        for a in AGES
        for k in ("tested", "positive")
        if f"{m}_tested_{a}" in positions and f"{m}_positive_{a}" in positions
    }
    records = []
    for row in rows[at + 1 :]:
        record = _record(row, roles, positions, paired)
        if record is not None and record not in records:  # exact duplicates go
            records.append(record)
    ages = [a for a in AGES if any(f"{m}_tested_{a}" in paired for m in ("rdt", "mic"))]
    levels_known = "level" in roles or "facility" in roles
    return FileAnswers(pd.DataFrame(records), ages, levels_known)


def _rows(data: bytes, file_name: str) -> list[list[Any]]:
    if file_name.endswith(".csv"):
        return [list(r) for r in csv.reader(io.StringIO(data.decode("utf-8")))]
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    sheets = [[list(r) for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames]
    book.close()
    # The data sheet holds the indicator names as headers; decoys say "Sum of ...".
    return max(sheets, key=lambda rows: sum(_header(c) in INDICATORS for r in rows[:3] for c in r))


def _header(cell: Any) -> str:
    return " ".join(str(cell or "").replace("â‰¥", "≥").split())


def _text(cell: Any) -> str:
    return " ".join(str(cell).split()) if cell is not None else ""


def _number(cell: Any) -> float | None:
    text = _text(cell).replace(",", "")
    return None if text == "" else float(text)


def _record(
    row: list[Any], roles: dict[str, int], positions: dict[str, list[int]], paired: set[str]
) -> dict[str, Any] | None:
    """One facility-month's tidy record, or None for the totals row and blank rows."""
    raw = {role: _text(row[j]) if j < len(row) else "" for role, j in roles.items()}
    if any(raw.get(r, "") in ("", "Total") for r in ("state", "lga", "ward")):
        return None
    code = raw["state"][:2] if re.match(r"[a-z]{2} ", raw["state"]) else ""
    record: dict[str, Any] = {r: _clean(raw.get(r, ""), r, code) for r in SUFFIXES}
    record["facility"] = _clean(raw.get("facility", ""), "facility", code)
    record["facility_level"] = _level(raw.get("level"), record["facility"], "facility" in raw)
    record["period"] = _period(raw)
    for column in INDICATORS.values():
        cells = [_number(row[j] if j < len(row) else None) for j in positions.get(column, [])]
        record[column] = merge_cells(cells) if column in paired else None
    return record


def _clean(value: str, role: str, code: str) -> str:
    text = value
    while code and text.startswith(code + " "):
        text = text[len(code) + 1 :]
    text = re.sub(r"(?<=[A-Za-z])0", "na", text)  # DHIS2 wrote "na" as "0"
    suffix = SUFFIXES.get(role)
    if suffix and text.endswith(suffix):
        text = text[: -len(suffix)]
    return "FCT" if role == "state" and text == "Federal Capital Territory" else text


def _level(cell: str | None, facility: str, named: bool) -> str:
    if cell is not None:
        for level, words in (("Primary", ("primary", "phc")), ("Secondary", ("secondary",)),
                             ("Tertiary", ("tertiary",))):  # fmt: skip
            if any(w in cell.lower() for w in words):
                return level
    if not named:
        return ""
    name = facility.lower()
    tertiary = ("teaching hospital", "university hospital", "federal medical cent",
                "federal specialist")  # fmt: skip
    if any(w in name for w in tertiary):
        return "Tertiary"
    return "Secondary" if "hospital" in name or "medical cent" in name else "Primary"


def _period(raw: dict[str, str]) -> str:
    if raw.get("period_code"):
        code = int(float(raw["period_code"]))
        return f"{code // 100}-{code % 100:02d}"
    if raw.get("year"):
        return str(int(float(raw["year"])))
    return ""
