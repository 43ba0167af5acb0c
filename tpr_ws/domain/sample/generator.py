"""Realistic synthetic DHIS2 malaria exports (any layout, size and defects) with their truth.

`generate` returns the file's bytes and the tidy frame a correct parser must produce from them
(totals row dropped, exact duplicates removed); `sample_upload` is the product's sample file.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields
from typing import Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema
from tpr_ws.domain.sample.files import write_csv, write_xlsx
from tpr_ws.domain.sample.geo import Sizes, build_facilities
from tpr_ws.domain.sample.layout import LAYOUTS, ZERO_FILLED_COLUMN, render
from tpr_ws.domain.sample.truth import (
    add_count_defects,
    build_truth,
    monthly_periods,
    yearly_periods,
)

FORMATS: Final = ("xlsx", "csv")


@dataclass(frozen=True)
class Preset:
    """A synthetic country's size; `months` is the number of monthly periods."""

    name: str
    sizes: Sizes
    months: int


PRESETS: Final = {
    "tiny": Preset("tiny", Sizes(states=2, lgas=6, wards=24, facilities=72), months=4),
    "state": Preset("state", Sizes(states=1, lgas=21, wards=226, facilities=868), months=12),
    "national": Preset(
        "national", Sizes(states=37, lgas=773, wards=8433, facilities=27929), months=12
    ),
}


def preset_for_rows(rows: int) -> Preset:
    """A national-shaped preset scaled to about `rows` facility-month rows (12 months)."""
    national = PRESETS["national"].sizes
    facilities = max(72, rows // 12)
    ratio = facilities / national.facilities
    wards = max(24, min(facilities, round(national.wards * ratio)))
    lgas = max(6, min(wards, round(national.lgas * ratio)))
    states = max(2, min(37, lgas // 3, round(37 * min(1.0, ratio * 4))))
    return Preset(f"rows{rows}", Sizes(states, lgas, wards, facilities), months=12)


@dataclass(frozen=True)
class Defects:
    """Which field defects to put in a generated file (all off by default)."""

    totals_row: bool = False
    duplicate_rows: bool = False
    text_numbers: bool = False
    negative_values: bool = False
    positives_gt_tested: bool = False
    mojibake_headers: bool = False
    double_space_headers: bool = False
    duplicate_header_pair: bool = False
    unknown_wards: bool = False
    repeated_ward_names: bool = False
    level_spellings: bool = False
    odd_name_starts: bool = False
    zero_filled_split_pair: bool = False
    # Partial files: columns the file lacks.
    rdt_only: bool = False
    no_pregnant_women: bool = False
    no_period_column: bool = False
    no_facility_column: bool = False

    @classmethod
    def of(
        cls, names: Defects | frozenset[str] | set[str] | list[str] | tuple[str, ...]
    ) -> Defects:
        """Defects from their names; unknown names are an error that lists the valid ones."""
        if isinstance(names, Defects):
            return names
        unknown = sorted(set(names) - set(DEFECT_NAMES))
        if unknown:
            raise ValueError(f"unknown defects {unknown}; known: {', '.join(DEFECT_NAMES)}")
        return cls(**{name: True for name in names})

    @classmethod
    def every(cls, *, partial: bool = True) -> Defects:
        """Every defect; with `partial=False` the file keeps all its columns."""
        return cls(**{n: True for n in DEFECT_NAMES if partial or n not in PARTIAL_FILE_DEFECTS})

    @property
    def names(self) -> frozenset[str]:
        return frozenset(f.name for f in fields(self) if getattr(self, f.name))


DEFECT_NAMES: Final = tuple(f.name for f in fields(Defects))
# The defects that remove columns (partial files).
PARTIAL_FILE_DEFECTS: Final = frozenset(
    {"rdt_only", "no_pregnant_women", "no_period_column", "no_facility_column"}
)


@dataclass(frozen=True)
class GeneratedFile:
    """A generated upload: its bytes, a file name, and the tidy frame it must parse to."""

    data: bytes
    file_name: str
    truth: pd.DataFrame


def _rng(layout: str, preset: str, seed: int) -> np.random.Generator:
    # Each (layout, preset, seed) has its own stream, stable across runs and processes.
    return np.random.default_rng([seed, zlib.crc32(f"{layout}/{preset}".encode())])


def _geography_defects(
    facilities: pd.DataFrame, rng: np.random.Generator, defects: Defects
) -> pd.DataFrame:
    """Rename wards for the `Unknown` and repeated-ward-name defects (before rows exist)."""
    out = facilities.copy()
    wards = out[["state", "lga", "ward"]].drop_duplicates()
    if defects.repeated_ward_names:
        # The first ward's name reappears in up to three other LGAs of the same state.
        for _state, group in wards.groupby("state", sort=False):
            donor = group.iloc[0]
            others = group[group["lga"] != donor["lga"]].drop_duplicates("lga").head(3)
            for _i, target in others.iterrows():
                hit = (out["state"] == target["state"]) & (out["lga"] == target["lga"])
                out.loc[hit & (out["ward"] == target["ward"]), "ward"] = donor["ward"]
    if defects.unknown_wards:
        picks = wards.sample(n=max(1, len(wards) // 50), random_state=int(rng.integers(2**31)))
        for _i, target in picks.iterrows():
            hit = (out["state"] == target["state"]) & (out["lga"] == target["lga"])
            out.loc[hit & (out["ward"] == target["ward"]), "ward"] = "Unknown"
    if defects.odd_name_starts:
        out = _odd_name_starts(out)
    return out


def _odd_ward(name: str, k: int) -> str:
    """The k-th odd form of a ward name: `'Yan Kaba`, `mbamba`, `#1 Gwale`, or a name ending
    in "na" (which DHIS2 writes `...0`)."""
    return (f"'Yan {name}", name[0].lower() + name[1:], f"#1 {name}", f"{name}na")[k]


def _odd_name_starts(facilities: pd.DataFrame) -> pd.DataFrame:
    """Per state: wards starting with an apostrophe, a lower-case letter or a symbol, a ward
    ending in "na", an LGA and a facility starting lower-case (DHIS2 prefixes them all)."""
    out = facilities.copy()
    for state, group in out.groupby("state", sort=False):
        wards = group[group["ward"] != "Unknown"][["lga", "ward"]].drop_duplicates()
        for k, (lga, ward) in enumerate(wards.iloc[1:5].to_numpy().tolist()):
            hit = (out["state"] == state) & (out["lga"] == lga) & (out["ward"] == ward)
            out.loc[hit, "ward"] = _odd_ward(str(ward), k)
        lga = str(group["lga"].iloc[-1])
        out.loc[(out["state"] == state) & (out["lga"] == lga), "lga"] = lga[0].lower() + lga[1:]
        first = group.index[0]
        name = str(out.loc[first, schema.FACILITY])
        out.loc[first, schema.FACILITY] = name[0].lower() + name[1:]
    return out


def generate(
    layout: str = "A",
    preset: str | Preset = "tiny",
    seed: int = 0,
    fmt: str = "xlsx",
    defects: Defects | frozenset[str] = frozenset(),
) -> GeneratedFile:
    """A synthetic export in `layout` (A-D) of `preset` size as `fmt` (xlsx or csv)."""
    spec = preset if isinstance(preset, Preset) else PRESETS.get(preset)
    if spec is None:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if layout not in LAYOUTS or fmt not in FORMATS:
        raise ValueError(f"layout must be one of {LAYOUTS} and format one of {FORMATS}")
    chosen = Defects.of(defects)
    rng = _rng(layout, spec.name, seed)
    facilities = _geography_defects(build_facilities(spec.sizes, rng), rng, chosen)
    if layout == "D":
        # Layout D is a yearly export: integer years in `period0me`, yearly-sized counts.
        periods, scale = yearly_periods(2 if spec.months < 12 else 3), 12.0
    else:
        periods, scale = monthly_periods(spec.months), 1.0
    truth = build_truth(facilities, periods, rng, scale)
    truth = add_count_defects(
        truth, rng, negatives=chosen.negative_values, over=chosen.positives_gt_tested
    )
    if chosen.zero_filled_split_pair:  # both columns filled on every row: no blanks there
        truth[ZERO_FILLED_COLUMN] = truth[ZERO_FILLED_COLUMN].fillna(0.0)
    sheets = render(layout, truth, rng, chosen.names)
    truth = _partial_truth(truth, layout, chosen)
    main = next(s for s in sheets if s.name != "pivot" and s.name != "tpr")
    data = write_xlsx(sheets) if fmt == "xlsx" else write_csv(main)
    suffix = f"_{'-'.join(sorted(chosen.names))}" if chosen.names and len(chosen.names) < 3 else ""
    file_name = f"layout{layout}_{spec.name}_seed{seed}{suffix}.{fmt}"
    return GeneratedFile(data=data, file_name=file_name, truth=truth)


def _partial_truth(truth: pd.DataFrame, layout: str, defects: Defects) -> pd.DataFrame:
    """What a correct parser makes of a file lacking columns: the missing counts blank, no
    facility (and, in layout B, no level either), no period; then exact duplicates go."""
    out = truth.copy()
    lacking = [c for c in schema.INDICATOR_COLUMNS if defects.rdt_only and c.startswith("mic_")]
    lacking += [c for c in schema.INDICATOR_COLUMNS if defects.no_pregnant_women and "_pw" in c]
    out[lacking] = np.nan
    if defects.no_period_column:
        out[schema.PERIOD] = ""
    if defects.no_facility_column:
        out[schema.FACILITY] = ""
        if layout == "B":  # no level column either: the level cannot be told
            out[schema.FACILITY_LEVEL] = ""
    return out.drop_duplicates(ignore_index=True)


def sample_upload() -> GeneratedFile:
    """The product's "use the sample data" file: two states, layout A, a totals row and a few
    duplicate rows for the upload summary to report. Deterministic."""
    made = generate(
        "A", "tiny", seed=2024, fmt="xlsx", defects=frozenset({"totals_row", "duplicate_rows"})
    )
    return GeneratedFile(made.data, "sample_malaria_tpr_two_states.xlsx", made.truth)
