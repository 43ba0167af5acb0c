"""Upload pipeline functions run in a worker's process pool: bytes in, plain data out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tpr_ws.domain.blob import encode_dataset, file_sha256
from tpr_ws.domain.overview import describe_dataset
from tpr_ws.domain.safety import check_upload
from tpr_ws.domain.ward_sums import build_ward_sums, encode_ward_sums
from tpr_ws.domain.workbook import parse_workbook


@dataclass(frozen=True)
class ProcessedUpload:
    """What the server keeps of an upload: the blob (stored once, under the file's SHA-256 and
    the parse version: `blob.dataset_key`), the per-ward sums that results are computed from,
    and its summary."""

    sha256: str  # of the file's bytes
    blob: bytes
    sums: bytes
    file_name: str
    report: dict[str, Any]
    overview: dict[str, Any]


def process_upload(data: bytes, file_name: str, max_bytes: int) -> ProcessedUpload:
    """Check, parse, summarise and encode one upload. Raises errors.UploadRejected."""
    check_upload(data, file_name, max_bytes=max_bytes)
    ingested = parse_workbook(data, file_name)
    report = ingested.report.to_dict()
    overview = describe_dataset(ingested.frame, report)
    return ProcessedUpload(
        sha256=file_sha256(data),
        blob=encode_dataset(ingested.frame),
        sums=encode_ward_sums(build_ward_sums(ingested.frame)),
        file_name=file_name,
        report=report,
        overview=overview,
    )
