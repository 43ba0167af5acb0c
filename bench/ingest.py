"""Bench: national-size upload from bytes to TPR, with an openpyxl baseline in the same run.

Usage: .venv/bin/python bench/ingest.py [--rows N] [--layout B] [--seed 0] [--no-openpyxl]

Generates the national xlsx (default preset, or about N rows) once and caches it under
$TMPDIR/tpr_ws_bench keyed by size, layout and seed; generation runs in a child process so the
peak memory printed is that of the measured work only. Then times: the fast parse
(parse_workbook) against pandas.read_excel(engine="openpyxl") of the same sheet, the dataset
blob (encode, decode, size), TPR for one state and for every state in turn, describe_dataset,
and peak memory. Prints a table with targets and ratios.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.blob import decode_dataset, encode_dataset
from tpr_ws.domain.overview import describe_dataset
from tpr_ws.domain.sample.generator import PRESETS, Preset, generate, preset_for_rows
from tpr_ws.domain.sample.layout import SHEET_NAMES
from tpr_ws.domain.tpr import compute_tpr
from tpr_ws.domain.ward_sums import (
    build_ward_sums,
    compute_tpr_from_sums,
    decode_ward_sums,
    encode_ward_sums,
)
from tpr_ws.domain.workbook import parse_workbook


def _preset(rows: int | None) -> Preset:
    return PRESETS["national"] if rows is None else preset_for_rows(rows)


def _generate_to(path: str, rows: int | None, layout: str, seed: int) -> None:
    made = generate(layout, _preset(rows), seed=seed, fmt="xlsx")
    Path(path).write_bytes(made.data)


def cached_file(rows: int | None, layout: str, seed: int) -> Path:
    """The generated workbook's path, generating it (in a child process) on first use."""
    cache = Path(os.environ.get("TPR_WS_BENCH_CACHE", Path(tempfile.gettempdir()) / "tpr_ws_bench"))
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{_preset(rows).name}_layout{layout}_seed{seed}.xlsx"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        started = time.perf_counter()
        partial = path.with_suffix(".part")
        child = multiprocessing.get_context("spawn").Process(
            target=_generate_to, args=(str(partial), rows, layout, seed)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"generation failed (exit {child.exitcode})")
        partial.rename(path)
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return path


class Timings:
    """Collects (label, wall seconds, cpu seconds) and prints them as a table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, str]] = []

    def run(self, label: str, func: Callable[[], Any], note: str = "") -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        self.add(label, time.perf_counter() - wall, time.process_time() - cpu, note)
        return result

    def add(self, label: str, wall: float, cpu: float, note: str = "") -> None:
        self.rows.append((label, wall, cpu, note))
        print(f"  {label:<42} {wall:9.3f} s  cpu {cpu:8.3f} s  {note}", flush=True)


def _choice_changes(
    compute: Callable[[str, str, str], Any], states: list[str]
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per choice change: each state x level x age group in turn (CPU
    time is what a busy machine does not inflate)."""
    walls, cpus = [], []
    for state in states:
        for level in ("Primary", "Secondary", "Tertiary", "All"):
            for age in ("u5", "o5", "pw", "all"):
                wall, cpu = time.perf_counter(), time.thread_time()
                compute(state, level, age)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.thread_time() - cpu)
    return walls, cpus


def _p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="about N rows (default national)")
    parser.add_argument("--layout", default="B", choices=tuple(SHEET_NAMES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-openpyxl", action="store_true", help="skip the slow baseline")
    args = parser.parse_args(argv)

    path = cached_file(args.rows, args.layout, args.seed)
    data = path.read_bytes()
    print(f"file {path.name}: {len(data) / 1e6:.1f} MB", flush=True)
    t = Timings()
    ingested = t.run("parse_workbook (fast path)", lambda: parse_workbook(data, path.name))
    frame = ingested.frame
    parse_wall, parse_cpu = t.rows[-1][1], t.rows[-1][2]
    if not args.no_openpyxl:
        header = 1 if args.layout == "D" else 0
        sheet = SHEET_NAMES[args.layout]
        t.run(
            "pandas.read_excel(engine='openpyxl')",
            lambda: pd.read_excel(io.BytesIO(data), sheet_name=sheet, header=header,
                                  engine="openpyxl"),
        )  # fmt: skip
        baseline, baseline_cpu = t.rows[-1][1], t.rows[-1][2]
    blob = t.run("encode_dataset", lambda: encode_dataset(frame))
    decoded = t.run("decode_dataset (blob load)", lambda: decode_dataset(blob))
    states = sorted(decoded[schema.STATE].unique())
    biggest = str(decoded[schema.STATE].value_counts().idxmax())
    one, one_cpu = [], []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        compute_tpr(decoded, biggest, "Primary", "u5")
        one.append(time.perf_counter() - wall)
        one_cpu.append(time.process_time() - cpu)
    label = f"compute_tpr one state ({biggest}, median of 5)"
    t.add(label, statistics.median(one), statistics.median(one_cpu))
    t.run(
        f"compute_tpr all {len(states)} states in turn",
        lambda: [compute_tpr(decoded, s, "All", "all") for s in states],
    )
    t.run("describe_dataset", lambda: describe_dataset(decoded, ingested.report.to_dict()))
    sums_blob = t.run(
        "build + encode ward sums (at upload)", lambda: encode_ward_sums(build_ward_sums(frame))
    )
    sums = t.run("decode ward sums (cold worker)", lambda: decode_ward_sums(sums_blob))
    cold = t.rows[-1][1]
    fast, fast_cpu = _choice_changes(lambda s, lv, a: compute_tpr_from_sums(sums, s, lv, a), states)
    rows, rows_cpu = _choice_changes(lambda s, lv, a: compute_tpr(decoded, s, lv, a), states[:8])
    for label, walls, cpus in (("sums", fast, fast_cpu), ("rows", rows, rows_cpu)):
        note = f"p99 {_p99(walls) * 1000:.1f} ms over {len(walls)}"
        t.add(f"choice change from {label} (median)", statistics.median(walls),
              statistics.median(cpus), note)  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print()
    print(
        f"rows {len(frame):,}  states {len(states)}  blob {len(blob) / 1e6:.2f} MB  "
        f"ward sums {len(sums_blob) / 1e6:.2f} MB ({sums.nbytes / 1e6:.1f} MB decoded)"
    )
    print(f"{'measure':<44} {'value':>12}  {'target':>12}  verdict")

    def line(measure: str, value: str, target: str, ok: bool) -> None:
        print(f"{measure:<44} {value:>12}  {target:>12}  {_verdict(ok)}")

    if not args.no_openpyxl:
        ratio, ratio_cpu = baseline / parse_wall, baseline_cpu / parse_cpu
        line("openpyxl / fast parse (wall)", f"{ratio:.1f}x", ">= 5x", ratio >= 5)
        line("openpyxl / fast parse (cpu)", f"{ratio_cpu:.1f}x", ">= 5x", ratio_cpu >= 5)
    load = t.rows[3 if not args.no_openpyxl else 2][1]
    line("blob load (s)", f"{load:.3f}", "< 1 s", load < 1)
    tpr_one = statistics.median(one) * 1000
    line("TPR one state (ms, wall)", f"{tpr_one:.1f}", "< 200 ms", tpr_one < 200)
    fast_p99, rows_p99 = _p99(fast) * 1000, _p99(rows) * 1000
    line("choice change p99, sums (ms, warm)", f"{fast_p99:.1f}", "<= 50 ms", fast_p99 <= 50)
    line("  same, from the rows (ms)", f"{rows_p99:.1f}", "baseline", True)
    line("  rows p99 / sums p99", f"{rows_p99 / fast_p99:.1f}x", "", True)
    fast_cpu_p99, rows_cpu_p99 = _p99(fast_cpu) * 1000, _p99(rows_cpu) * 1000
    line("choice change p99, sums (ms, cpu)", f"{fast_cpu_p99:.1f}", "<= 50 ms", fast_cpu_p99 <= 50)
    line("  same, from the rows (ms, cpu)", f"{rows_cpu_p99:.1f}", "baseline", True)
    cold_ms = (cold + statistics.median(fast)) * 1000
    line("choice change, cold worker (ms)", f"{cold_ms:.1f}", "<= 200 ms", cold_ms <= 200)
    line("peak RSS (MB)", f"{peak_mb:.0f}", "< 2048 MB", peak_mb < 2048)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
