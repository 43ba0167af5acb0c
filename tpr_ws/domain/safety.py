"""Upload safety: decide what a file is from its bytes and refuse anything dangerous or useless
before a parser touches it.

Refusal codes: "empty_file", "too_large", "not_a_workbook", "zip_bomb", "unsafe_xml".
Zip checks read only the central directory (declared sizes); nothing is decompressed except
the opening bytes of XML parts, to look for a DOCTYPE (entity-expansion attacks).
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Final

from tpr_ws.errors import ErrorCode, UploadRejected

_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TEXT_SAMPLE: Final = 64 * 1024
_PROLOG_LIMIT: Final = 64 * 1024  # bytes of an XML part read to find its root element
_ROOT_START: Final = re.compile(rb"<[A-Za-z_]")
_DANGEROUS: Final = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    """Caps on what a workbook's zip may declare. A national export (337k rows, ~60 MB) holds
    a sheet of roughly 400 MB of XML compressing about 10:1, well inside these."""

    max_total_uncompressed: int = 2048 * _MIB
    max_entry_uncompressed: int = 1536 * _MIB
    max_ratio: float = 200.0  # applied to entries over 1 MiB; zeros compress ~1000:1
    max_entries: int = 10_000


def check_upload(
    data: bytes, file_name: str, *, max_bytes: int, limits: ZipLimits | None = None
) -> str:
    """The upload's format ("xlsx", "xls" or "csv"), or `UploadRejected` with a refusal code."""
    if not data:
        raise UploadRejected([f"'{file_name}' is empty (0 bytes)."], code=ErrorCode.EMPTY_FILE)
    if len(data) > max_bytes:
        raise UploadRejected(
            [f"'{file_name}' is {_mb(len(data))}; the limit is {_mb(max_bytes)}."],
            code=ErrorCode.TOO_LARGE,
        )
    file_format = detect_format(data, file_name)
    if file_format == "xlsx":
        _check_zip(data, file_name, limits or ZipLimits())
    return file_format


def detect_format(data: bytes, file_name: str) -> str:
    """The format ("xlsx", "xls" or "csv") by the file's bytes; the name only words refusals."""
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE2_MAGIC):
        return "xls"
    if looks_like_csv(data):
        if file_name.lower().endswith((".xlsx", ".xls", ".xlsm")):
            raise UploadRejected(
                [f"'{file_name}' is named like an Excel workbook but holds plain text. "
                 "If it is a CSV export, rename it to .csv; otherwise export it from Excel."],
                code=ErrorCode.NOT_A_WORKBOOK,
            )  # fmt: skip
        return "csv"
    raise UploadRejected(
        [f"'{file_name}' is not an Excel workbook (.xlsx, .xls) or a CSV file."],
        code=ErrorCode.NOT_A_WORKBOOK,
    )


def looks_like_csv(data: bytes) -> bool:
    """Text (UTF-8 or cp1252, no NUL bytes) whose first lines split on a common delimiter."""
    if b"\x00" in data:
        return False
    sample = data[:_TEXT_SAMPLE]
    try:  # incremental, so a character cut by the sample's end is not an error
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
    except UnicodeDecodeError:
        try:
            text = sample.decode("cp1252")
        except UnicodeDecodeError:
            return False
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return False
    # Most (not all) of the first lines split: a title line above the header is common.
    head = lines[:5]
    return any(sum(d in line for line in head) * 5 >= len(head) * 3 for d in ",;\t|")


def _check_zip(data: bytes, file_name: str, limits: ZipLimits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UploadRejected(
            [f"'{file_name}' looks like a workbook but is damaged ({exc})."],
            code=ErrorCode.NOT_A_WORKBOOK,
        ) from exc
    with archive:
        entries = archive.infolist()
        names = {e.filename for e in entries}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            hint = " (it is an .xlsb binary workbook)" if "xl/workbook.bin" in names else ""
            raise UploadRejected(
                [f"'{file_name}' is a zip file but not an Excel workbook{hint}. "
                 "Save it from Excel as .xlsx."],
                code=ErrorCode.NOT_A_WORKBOOK,
            )  # fmt: skip
        problems = zip_bomb_problems(entries, limits)
        if problems:
            raise UploadRejected(problems, code=ErrorCode.ZIP_BOMB)
        _check_xml(archive, entries, file_name)


def zip_bomb_problems(entries: list[zipfile.ZipInfo], limits: ZipLimits) -> list[str]:
    """Why the declared sizes look like a decompression bomb (empty when they do not)."""
    problems: list[str] = []
    if len(entries) > limits.max_entries:
        problems.append(f"The workbook has {len(entries)} parts (limit {limits.max_entries}).")
    total = sum(e.file_size for e in entries)
    if total > limits.max_total_uncompressed:
        problems.append(
            f"The workbook would expand to {_mb(total)} "
            f"(limit {_mb(limits.max_total_uncompressed)})."
        )
    for entry in entries:
        if entry.file_size > limits.max_entry_uncompressed:
            problems.append(f"Part '{entry.filename}' would expand to {_mb(entry.file_size)}.")
        elif entry.file_size > _MIB:
            ratio = entry.file_size / max(entry.compress_size, 1)
            if ratio > limits.max_ratio:
                problems.append(
                    f"Part '{entry.filename}' is compressed {ratio:.0f}:1, "
                    "far beyond what a real workbook compresses."
                )
    return problems


def _check_xml(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], file_name: str) -> None:
    """Refuse XML parts with a DOCTYPE or ENTITY in their prolog (billion laughs, XXE).

    Only the prolog can hold a DOCTYPE, so each part is read just up to its root element.
    """
    for entry in entries:
        if not entry.filename.endswith((".xml", ".rels", ".vml")):
            continue
        try:
            with archive.open(entry) as stream:
                head = stream.read(_PROLOG_LIMIT)
        except (zipfile.BadZipFile, RuntimeError, zlib.error, OSError, EOFError) as exc:
            raise UploadRejected(
                [f"'{file_name}' is damaged: part '{entry.filename}' cannot be read ({exc})."],
                code=ErrorCode.NOT_A_WORKBOOK,
            ) from exc
        root = _ROOT_START.search(head)
        prolog = head if root is None else head[: root.start()]
        if _DANGEROUS.search(prolog) or (root is None and len(head) == _PROLOG_LIMIT):
            raise UploadRejected(
                [f"'{file_name}' contains XML that declares a DOCTYPE or entities "
                 f"(in '{entry.filename}'), which workbooks never need; it was refused."],
                code=ErrorCode.UNSAFE_XML,
            )  # fmt: skip


def _mb(size: int) -> str:
    return f"{size / _MIB:.1f} MB"
