"""The parsed-dataset blob: its key (file and parse version), Arrow round trip, and the
process-pool entry point."""

from __future__ import annotations

import hashlib
import pickle

import pandas as pd
import pyarrow as pa
import pytest

from tpr_ws.domain import schema
from tpr_ws.domain.blob import (
    dataset_key,
    decode_dataset,
    encode_dataset,
    file_sha256,
    parse_version_of,
    upload_sha256,
)
from tpr_ws.domain.pipeline import ProcessedUpload, process_upload
from tpr_ws.domain.sample.generator import Defects, generate
from tpr_ws.domain.versions import PARSE_VERSION
from tpr_ws.domain.workbook import parse_workbook
from tpr_ws.errors import StateVersionError, UploadRejected


def test_a_dataset_is_the_file_and_the_parse_version() -> None:
    sha = file_sha256(b"abc")
    assert sha == hashlib.sha256(b"abc").hexdigest() != file_sha256(b"abd")
    assert dataset_key(sha) == dataset_key(sha, PARSE_VERSION)
    assert dataset_key(sha, 1) != dataset_key(sha, 2) != dataset_key(file_sha256(b"abd"), 2)
    for version in (1, 2, 17):
        key = dataset_key(sha, version)
        assert (upload_sha256(key), parse_version_of(key)) == (sha, version)


def test_a_key_stored_before_parse_versions_is_the_files_sha256() -> None:
    sha = file_sha256(b"abc")
    assert (upload_sha256(sha), parse_version_of(sha)) == (sha, 0)


@pytest.mark.parametrize("layout", ["A", "B", "C", "D"])
def test_parsed_frame_round_trips(layout: str) -> None:
    made = generate(layout, "tiny", seed=5, defects=Defects.every())
    frame = parse_workbook(made.data, made.file_name).frame
    pd.testing.assert_frame_equal(decode_dataset(encode_dataset(frame)), frame)


def test_empty_frame_round_trips() -> None:
    made = generate("C", "tiny", seed=5)
    frame = parse_workbook(made.data, made.file_name).frame.iloc[:0].reset_index(drop=True)
    pd.testing.assert_frame_equal(decode_dataset(encode_dataset(frame)), frame)


def test_blob_is_compressed_and_dictionary_encoded() -> None:
    made = generate("B", "tiny", seed=5)
    frame = parse_workbook(made.data, made.file_name).frame
    blob = encode_dataset(frame)
    table = pa.ipc.open_stream(pa.py_buffer(blob)).read_all()
    assert pa.types.is_dictionary(table.schema.field("facility").type)
    assert len(blob) < frame.memory_usage(deep=True).sum() / 4


def test_blob_of_an_unknown_format_version_is_refused() -> None:
    table = pa.table({"state": ["x"]}, metadata={b"tpr_ws.dataset": b"99"})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(StateVersionError):
        decode_dataset(sink.getvalue().to_pybytes())


def test_process_upload_returns_picklable_plain_data() -> None:
    made = generate("A", "tiny", seed=5, defects=Defects.of(["totals_row"]))
    parsed = process_upload(made.data, made.file_name, 10 << 20)
    assert parsed.sha256 == hashlib.sha256(made.data).hexdigest()
    assert parsed.report["totals_row_dropped"] is True
    assert parsed.report["rows_kept"] == len(made.truth)
    assert parsed.overview["rows"] == len(made.truth)
    copy = pickle.loads(pickle.dumps(parsed))
    assert copy == parsed and isinstance(copy, ProcessedUpload)
    assert pickle.loads(pickle.dumps(process_upload)) is process_upload
    assert tuple(decode_dataset(parsed.blob).columns) == schema.TIDY_COLUMNS


def test_process_upload_checks_safety_first() -> None:
    with pytest.raises(UploadRejected) as caught:
        process_upload(b"", "empty.xlsx", 100)
    assert caught.value.code == "empty_file"
