"""Fingerprints of what the product makes of the generated sample files: the parse (tidy frame,
per-ward sums, report and overview: what is stored under a dataset key) and the TPR rule
(`compute_tpr` for every state x level x age group, on the frames the files must parse to, so
a parser change leaves it alone). Deterministic across runs and machines: every table is
reduced to rows of plain values (sorted, but for the ward tables, whose order is an output),
floats rounded to 6 decimals, JSON with sorted keys; nothing depends on a timestamp, a hash
seed or the encoder's bytes (zstd, Arrow).

`python -m tests.domain.fingerprint` prints both, to record them in `test_versions.py`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd

from tpr_ws.domain.blob import decode_dataset
from tpr_ws.domain.pipeline import process_upload
from tpr_ws.domain.sample.generator import (
    DEFECT_NAMES,
    Defects,
    GeneratedFile,
    generate,
    sample_upload,
)
from tpr_ws.domain.sample.layout import LAYOUTS
from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.tpr import compute_tpr
from tpr_ws.domain.ward_sums import decode_ward_sums

DIGITS = 6


def sample_files(*, single_defects: bool = True) -> Iterator[GeneratedFile]:
    """Every layout clean, with every defect, and with every defect but the missing columns;
    (`single_defects`) each defect alone, in a layout of its own (rotating); half of them as
    CSV; tiny sizes; and the product's own sample file. Always the same files."""
    sets = [frozenset(), Defects.every().names, Defects.every(partial=False).names]
    cases = [(layout, d) for layout in LAYOUTS for d in sets]
    if single_defects:
        cases += [(LAYOUTS[i % len(LAYOUTS)], frozenset({n})) for i, n in enumerate(DEFECT_NAMES)]
    for i, (layout, defects) in enumerate(cases):
        yield generate(layout, "tiny", seed=i, fmt="csv" if i % 2 else "xlsx", defects=defects)
    yield sample_upload()


def canonical(value: Any) -> Any:
    """`value` as plain JSON data that prints the same everywhere."""
    if isinstance(value, pd.DataFrame):
        return table(value, ordered=True)
    if isinstance(value, np.ndarray):
        return canonical(value.tolist())
    if isinstance(value, np.generic):
        return canonical(value.item())
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return round(value, DIGITS) + 0.0  # + 0.0: no negative zero
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # enums and the like: their text


def table(frame: pd.DataFrame, *, ordered: bool) -> dict[str, Any]:
    """A table as its columns and rows of values (1 and 1.0 print apart; the library's dtype
    names are left out); rows sorted unless their order is part of the output (`ordered`)."""
    rows = [canonical(list(r)) for r in frame.itertuples(index=False, name=None)]
    if not ordered:
        rows.sort(key=orjson.dumps)
    return {"columns": [str(c) for c in frame.columns], "rows": rows}


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of `value`."""
    return hashlib.sha256(orjson.dumps(canonical(value), option=orjson.OPT_SORT_KEYS)).hexdigest()


def parse_output(made: GeneratedFile) -> dict[str, Any]:
    """What a dataset key stands for: the decoded rows and sums, the report and overview of
    the file as the upload pipeline makes them."""
    processed = process_upload(made.data, made.file_name, 10**8)
    sums = decode_ward_sums(processed.sums)
    # Rows in any order yield the same results: their order is not part of the parse.
    return {
        "frame": table(decode_dataset(processed.blob), ordered=False),
        "sums": table(pd.DataFrame(sums.columns), ordered=False),
        "report": processed.report,
        "overview": processed.overview,
    }


def rule_output(frame: pd.DataFrame) -> list[Any]:
    """`compute_tpr` for every state of the frame, every level and every age group."""
    out: list[Any] = []
    for state in sorted(set(frame["state"])):
        for level in FacilityLevel:
            for age in AgeGroup:
                result = compute_tpr(frame, state, level, age)
                out.append([state, str(level), str(age), result.wards, result.summary])
    return out


def parse_fingerprint() -> str:
    """The parse's fingerprint over every sample file (each defect alone too)."""
    return digest({made.file_name: parse_output(made) for made in sample_files()})


def rule_fingerprint() -> str:
    """The rule's fingerprint: every choice on the tidy frames the generator says every layout
    with all, none or all but the missing columns' defects must parse to (every case the rule
    meets, independent of the parser), and on the sample's."""
    files = sample_files(single_defects=False)
    return digest({made.file_name: rule_output(made.truth) for made in files})


if __name__ == "__main__":
    print(f"PARSE_FINGERPRINT = {parse_fingerprint()!r}")
    print(f"RULE_FINGERPRINT = {rule_fingerprint()!r}")
