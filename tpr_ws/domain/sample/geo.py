"""Synthetic Nigerian geography for the sample generator: states, LGAs, wards and facilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from tpr_ws.domain import schema

# (DHIS2 prefix, clean name, raw name without prefix) for the 36 states and the FCT.
STATES: Final = (
    ("ad", "Adamawa", "Adamawa State"), ("kn", "Kano", "Kano State"),
    ("fc", "FCT", "Federal Capital Territory"), ("ab", "Abia", "Abia State"),
    ("ak", "Akwa Ibom", "Akwa Ibom State"), ("an", "Anambra", "Anambra State"),
    ("ba", "Bauchi", "Bauchi State"), ("by", "Bayelsa", "Bayelsa State"),
    ("be", "Benue", "Benue State"), ("bo", "Borno", "Borno State"),
    ("cr", "Cross River", "Cross River State"), ("de", "Delta", "Delta State"),
    ("eb", "Ebonyi", "Ebonyi State"), ("ed", "Edo", "Edo State"), ("ek", "Ekiti", "Ekiti State"),
    ("en", "Enugu", "Enugu State"), ("go", "Gombe", "Gombe State"), ("im", "Imo", "Imo State"),
    ("ji", "Jigawa", "Jigawa State"), ("kd", "Kaduna", "Kaduna State"),
    ("kt", "Katsina", "Katsina State"), ("ke", "Kebbi", "Kebbi State"),
    ("ko", "Kogi", "Kogi State"), ("kw", "Kwara", "Kwara State"), ("la", "Lagos", "Lagos State"),
    ("na", "Nasarawa", "Nasarawa State"), ("ni", "Niger", "Niger State"),
    ("og", "Ogun", "Ogun State"), ("on", "Ondo", "Ondo State"), ("os", "Osun", "Osun State"),
    ("oy", "Oyo", "Oyo State"), ("pl", "Plateau", "Plateau State"),
    ("ri", "Rivers", "Rivers State"), ("so", "Sokoto", "Sokoto State"),
    ("ta", "Taraba", "Taraba State"), ("yo", "Yobe", "Yobe State"),
    ("za", "Zamfara", "Zamfara State"),
)  # fmt: skip

ADAMAWA_LGAS: Final = (
    "Demsa", "Fufore", "Ganye", "Girei", "Gombi", "Guyuk", "Hong", "Jada", "Lamurde", "Madagali",
    "Maiha", "Mayo-Belwa", "Michika", "Mubi North", "Mubi South", "Numan", "Shelleng", "Song",
    "Toungo", "Yola North", "Yola South",
)  # fmt: skip

_SYLLABLES: Final = (
    "ba", "ko", "ri", "ma", "da", "gu", "ye", "la", "ta", "su", "mi", "wa", "zu", "ka", "ni",
    "bo", "ra", "fu", "ji", "de", "ga", "ho", "lu", "sa", "to", "yi", "ngu", "dum", "kar", "bir",
    "gad", "mal", "wu", "re", "bi", "tsa", "nde", "gom", "yel", "shi",
)  # fmt: skip
_COMPASS: Final = ("North", "South", "East", "West", "Central")

# Facility name patterns per level, chosen so that the layout-B name rule derives the same level.
PRIMARY_TYPES: Final = (
    "Primary Health Centre", "Primary Health Centre", "Primary Health Centre", "Health Post",
    "Basic Health Centre", "Maternity Clinic", "Dispensary", "Comprehensive Health Centre",
)  # fmt: skip
SECONDARY_TYPES: Final = ("General Hospital", "Cottage Hospital", "Specialist Hospital")
TERTIARY_TYPES: Final = ("Federal Medical Centre", "Teaching Hospital")


@dataclass(frozen=True)
class Sizes:
    """How big a synthetic country is."""

    states: int
    lgas: int
    wards: int
    facilities: int


def split(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """Split `total` into `parts` positive integers that vary around the mean."""
    if total < parts:
        raise ValueError(f"cannot split {total} into {parts} positive parts")
    weights = rng.dirichlet(np.full(parts, 8.0))
    extra = rng.multinomial(total - parts, weights)
    return np.asarray(extra + 1, dtype=np.int64)


def _word(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 4))
    return "".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), n)).capitalize()


def unique_names(n: int, rng: np.random.Generator, taken: set[str] | None = None) -> list[str]:
    """`n` distinct made-up place names, none of them in `taken`."""
    seen = set() if taken is None else set(taken)
    out: list[str] = []
    while len(out) < n:
        name = _word(rng)
        if rng.random() < 0.08:
            name = f"{name} {_COMPASS[int(rng.integers(0, len(_COMPASS)))]}"
        if name not in seen and name != "Unknown":
            seen.add(name)
            out.append(name)
    return out


def _levels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Levels of one state's facilities: mostly Primary, always one Secondary and Tertiary."""
    draw = rng.random(n)
    levels = np.where(draw < 0.006, "Tertiary", np.where(draw < 0.09, "Secondary", "Primary"))
    if n >= 3:
        picks = rng.choice(n, size=2, replace=False)
        levels[picks[0]], levels[picks[1]] = "Tertiary", "Secondary"
    return levels.astype(object)


def _facility_names(levels: np.ndarray, rng: np.random.Generator) -> list[str]:
    names: list[str] = []
    places = unique_names(len(levels), rng)
    for level, place in zip(levels, places, strict=True):
        if level == "Tertiary":
            kind = TERTIARY_TYPES[int(rng.integers(0, len(TERTIARY_TYPES)))]
            names.append(f"{place} {kind}" if kind == "Teaching Hospital" else f"{kind} {place}")
        else:
            types = SECONDARY_TYPES if level == "Secondary" else PRIMARY_TYPES
            names.append(f"{types[int(rng.integers(0, len(types)))]} {place}")
    return names


def build_facilities(sizes: Sizes, rng: np.random.Generator) -> pd.DataFrame:
    """One row per facility: clean names, DHIS2 prefix, level and microscopy capability."""
    if sizes.states > len(STATES):
        raise ValueError(f"at most {len(STATES)} states")
    lgas_per_state = split(sizes.lgas, sizes.states, rng)
    wards_per_lga = split(sizes.wards, sizes.lgas, rng)
    facs_per_ward = split(sizes.facilities, sizes.wards, rng)
    rows: dict[str, list[str]] = {k: [] for k in ("prefix", "state", "lga", "ward")}
    lga_at = 0
    for (prefix, state, _raw), n_lgas in zip(STATES, lgas_per_state, strict=False):
        if state == "Adamawa" and n_lgas <= len(ADAMAWA_LGAS):
            lgas = list(ADAMAWA_LGAS[: int(n_lgas)])
        else:
            lgas = unique_names(int(n_lgas), rng)
        ward_taken: set[str] = set()
        for lga in lgas:
            n_wards = int(wards_per_lga[lga_at])
            lga_at += 1
            wards = unique_names(n_wards, rng, ward_taken)
            ward_taken.update(wards)
            for ward in wards:
                rows["prefix"].append(prefix)
                rows["state"].append(state)
                rows["lga"].append(lga)
                rows["ward"].append(ward)
    wards_frame = pd.DataFrame(rows)
    fac = wards_frame.loc[wards_frame.index.repeat(facs_per_ward)].reset_index(drop=True)
    levels = np.empty(len(fac), dtype=object)
    for _state, idx in fac.groupby("state", sort=False).indices.items():
        levels[idx] = _levels(len(idx), rng)
    fac[schema.FACILITY_LEVEL] = levels
    fac[schema.FACILITY] = _facility_names(levels, rng)
    mic_share = np.select([levels == "Tertiary", levels == "Secondary"], [0.8, 0.25], 0.005)
    fac["has_mic"] = rng.random(len(fac)) < mic_share
    fac["size"] = rng.gamma(2.0, 0.5, len(fac)) * np.select(
        [levels == "Tertiary", levels == "Secondary"], [5.0, 3.0], 1.0
    )
    return fac
