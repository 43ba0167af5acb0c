"""The parsed dataset as bytes: its key (the file's SHA-256 and the parse version) and its
Arrow IPC encoding.

The blob is an Arrow IPC stream, zstd-compressed, with the repeated name columns
dictionary-encoded (a national file has 337k rows but only ~28k distinct facilities), so it is
small to store and decodes without building Python strings.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import pandas as pd
import pyarrow as pa

from tpr_ws.domain import schema
from tpr_ws.domain.versions import PARSE_VERSION
from tpr_ws.errors import StateVersionError

FORMAT_VERSION: Final = b"1"
_VERSION_KEY: Final = b"tpr_ws.dataset"
_DICTIONARY_TYPE: Final = pa.dictionary(pa.int32(), pa.string())
_SCHEMA: Final = pa.schema(
    [pa.field(c, _DICTIONARY_TYPE) for c in schema.ID_COLUMNS]
    + [pa.field(c, pa.float64()) for c in schema.INDICATOR_COLUMNS],
    metadata={_VERSION_KEY: FORMAT_VERSION},
)


def file_hasher() -> Any:
    """A hash object whose hex digest, after every byte of an upload, is its `file_sha256`
    (for uploads read piece by piece)."""
    return hashlib.sha256()


def file_sha256(upload: bytes) -> str:
    """The SHA-256 of an upload's bytes, in hex: what the audit block shows and what a client
    may send to have its upload checked."""
    hasher = file_hasher()
    hasher.update(upload)
    return str(hasher.hexdigest())


_PARSE_MARK: Final = ".p"


def dataset_key(sha256: str, parse_version: int = PARSE_VERSION) -> str:
    """The identity of a parsed dataset, ``<file SHA-256>.p<parse version>``: the same bytes
    parsed by a release with another `PARSE_VERSION` are another dataset (stored apart, with
    their own result keys), and the file's SHA-256 can always be read back (`upload_sha256`)."""
    return f"{sha256}{_PARSE_MARK}{parse_version}"


def upload_sha256(key: str) -> str:
    """The SHA-256 of the file a dataset was parsed from. A key stored before parse versions
    (the bare SHA-256, parse version 0) is that SHA-256 itself."""
    return key.partition(_PARSE_MARK)[0]


def parse_version_of(key: str) -> int:
    """The parse version a dataset key names (0: stored before parse versions)."""
    _, mark, version = key.partition(_PARSE_MARK)
    return int(version) if mark and version.isdigit() else 0


def encode_dataset(frame: pd.DataFrame) -> bytes:
    """A tidy frame (exactly `schema.TIDY_COLUMNS`) as a compressed Arrow IPC stream."""
    names = [pa.array(frame[c], pa.string()).dictionary_encode() for c in schema.ID_COLUMNS]
    counts = [pa.array(frame[c], pa.float64()) for c in schema.INDICATOR_COLUMNS]
    table = pa.Table.from_arrays([*names, *counts], schema=_SCHEMA)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=1 << 20)
    return bytes(sink.getvalue().to_pybytes())


def decode_dataset(data: bytes) -> pd.DataFrame:
    """The tidy frame back from `encode_dataset`'s bytes (same columns and dtypes as parsing)."""
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        table = reader.read_all()
    version = (table.schema.metadata or {}).get(_VERSION_KEY)
    if version != FORMAT_VERSION:
        raise StateVersionError(f"dataset blob format {version!r}, expected {FORMAT_VERSION!r}")
    columns: dict[str, Any] = {}
    for name in schema.ID_COLUMNS:
        decoded = table.column(name).cast(pa.string())
        columns[name] = pd.Series(decoded.to_pandas(), dtype="str", copy=False)
    for name in schema.INDICATOR_COLUMNS:
        columns[name] = table.column(name).to_numpy()
    return pd.DataFrame(columns)
