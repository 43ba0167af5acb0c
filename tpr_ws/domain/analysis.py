"""One analysis as an immutable object: its key (what it was computed from) and its bytes.

An analysis is a pure function of (dataset, state, level, age, rule version), so its key is a
hash of exactly those (the dataset key names the file and its parse version,
`blob.dataset_key`; the rule version is `versions.RULE_VERSION`), and the bytes stored under a
key never change: an old link keeps returning the same table. The object holds the ward table
(one row of per-ward sums per ward, `schema.WARD_TABLE_COLUMNS`) and the summary, so it can be
built from any source of per-ward sums (the rows, or the sums precomputed at upload). Format:
JSON, gzip-compressed (deterministically: no timestamp), served as is to the page.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import orjson
import pandas as pd

from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.tpr import TprResult
from tpr_ws.domain.versions import RULE_VERSION
from tpr_ws.errors import StateVersionError

OBJECT_VERSION: Final = 1
_KEY_PREFIX: Final = b"tpr_ws.result\x00"


def result_key(
    dataset_key: str, state: str, level: str, age: str, rule_version: int = RULE_VERSION
) -> str:
    """The address of one analysis: SHA-256 (hex) of its inputs and the rule version."""
    inputs = orjson.dumps([rule_version, dataset_key, state, str(level), str(age)])
    return hashlib.sha256(_KEY_PREFIX + inputs).hexdigest()


@dataclass(frozen=True)
class StoredResult:
    """A decoded result object: the analysis and the facts of how it was made."""

    key: str
    dataset_key: str
    rule_version: int
    product_version: str
    result: TprResult


def encode_result(result: TprResult, *, dataset_key: str, product_version: str) -> bytes:
    """The result object's bytes (gzip of JSON: summary, column types, rows)."""
    wards = result.wards
    columns = [str(c) for c in wards.columns]
    doc = {
        "v": OBJECT_VERSION,
        "key": result_key(dataset_key, result.state, result.level.value, result.age.value),
        "rule_version": RULE_VERSION,
        "product_version": product_version,
        "dataset": dataset_key,
        "state": result.state,
        "level": result.level.value,
        "age": result.age.value,
        "summary": result.summary,
        "columns": columns,
        "dtypes": [str(wards[c].dtype) for c in columns],
        "rows": [[_cell(v) for v in row] for row in wards.itertuples(index=False, name=None)],
    }
    body = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    return gzip.compress(body, compresslevel=6, mtime=0)


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN: no data
        return None
    return value


def result_document(data: bytes) -> dict[str, Any]:
    """The JSON document of a result object (checked version)."""
    doc: dict[str, Any] = orjson.loads(gzip.decompress(data))
    if doc.get("v") != OBJECT_VERSION:
        raise StateVersionError(f"result object version {doc.get('v')!r}, expected 1")
    return doc


def decode_result(data: bytes) -> StoredResult:
    """The analysis back from `encode_result`'s bytes, with the ward table's own dtypes."""
    doc = result_document(data)
    columns, dtypes = list(doc["columns"]), list(doc["dtypes"])
    raw = pd.DataFrame(doc["rows"] or None, columns=columns, dtype=object)
    wards = pd.DataFrame(
        {name: raw[name].astype(dtype) for name, dtype in zip(columns, dtypes, strict=True)},
        columns=columns,
    )
    result = TprResult(
        state=str(doc["state"]),
        level=FacilityLevel(doc["level"]),
        age=AgeGroup(doc["age"]),
        wards=wards,
        summary=dict(doc["summary"]),
    )
    return StoredResult(
        key=str(doc["key"]),
        dataset_key=str(doc["dataset"]),
        rule_version=int(doc["rule_version"]),
        product_version=str(doc["product_version"]),
        result=result,
    )
