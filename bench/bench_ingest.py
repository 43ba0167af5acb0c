"""Ingestion timings on a generated national-shaped file: calamine vs openpyxl, parse, blob.

Usage: .venv/bin/python bench/bench_ingest.py [rows] [--openpyxl]
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable

import pandas as pd
import python_calamine

from tpr_ws.domain.blob import decode_dataset, encode_dataset
from tpr_ws.domain.safety import check_upload
from tpr_ws.domain.sample import generate, preset_for_rows
from tpr_ws.domain.workbook import parse_workbook


def timed(label: str, func: Callable[[], object]) -> object:
    """Run `func`, print its wall and CPU seconds (CPU time is steadier on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<44} wall {wall:7.2f} s   cpu {cpu:7.2f} s", flush=True)
    return result


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 337_773
    made = generate("B", preset_for_rows(rows), seed=1, fmt="xlsx")
    data, name = made.data, made.file_name
    print(f"{len(made.truth)} rows, {len(data) / 1e6:.1f} MB xlsx")
    sheet = "Sheet1"
    timed("check_upload", lambda: check_upload(data, name, max_bytes=200 << 20))
    timed(
        "calamine to_python (raw rows)",
        lambda: (
            python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            .get_sheet_by_name(sheet)
            .to_python(skip_empty_area=False)
        ),
    )
    timed(
        "pd.read_excel engine=calamine",
        lambda: pd.read_excel(io.BytesIO(data), sheet_name=sheet, engine="calamine"),
    )
    if "--openpyxl" in sys.argv:
        timed(
            "pd.read_excel engine=openpyxl",
            lambda: pd.read_excel(io.BytesIO(data), sheet_name=sheet, engine="openpyxl"),
        )
    ingested = timed(
        "parse_workbook (calamine, whole pipeline)", lambda: parse_workbook(data, name)
    )
    frame = ingested.frame  # type: ignore[attr-defined]
    blob = timed("encode_dataset", lambda: encode_dataset(frame))
    print(f"blob {len(blob) / 1e6:.2f} MB")  # type: ignore[arg-type]
    timed("decode_dataset", lambda: decode_dataset(blob))  # type: ignore[arg-type]
    csv_made = generate("B", preset_for_rows(rows), seed=1, fmt="csv")
    timed("parse_workbook (csv)", lambda: parse_workbook(csv_made.data, csv_made.file_name))


if __name__ == "__main__":
    main()
