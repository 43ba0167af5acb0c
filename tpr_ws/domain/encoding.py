"""Uploads sent compressed or checksummed: gzip decoding with a bound on what it may expand
to (a gzip bomb is refused like a zip bomb), and the whole-file SHA-256 check before parsing."""

from __future__ import annotations

import hashlib
import zlib
from typing import Final

from tpr_ws.errors import ErrorCode, UploadRejected

ENCODINGS: Final = ("identity", "gzip")
_STEP: Final = 1024 * 1024
_MIB: Final = 1024 * 1024


def decode_upload(data: bytes, encoding: str, *, max_bytes: int, file_name: str) -> bytes:
    """The file's own bytes from what was sent (``identity`` or ``gzip``), never more than
    ``max_bytes``; refuses an unknown encoding, a damaged stream and a bomb."""
    if encoding in ("", "identity"):
        return data
    if encoding != "gzip":
        raise UploadRejected([f"'{file_name}' was sent as {encoding!r}, which is not supported."])
    return _gunzip(data, max_bytes=max_bytes, file_name=file_name)


def _gunzip(data: bytes, *, max_bytes: int, file_name: str) -> bytes:
    out = bytearray()
    rest = data
    try:
        while rest:  # one gzip member after another, as gzip(1) reads them
            stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = rest
            while pending and not stream.eof:
                out += stream.decompress(pending, min(_STEP, max_bytes + 1 - len(out)))
                if len(out) > max_bytes:
                    raise UploadRejected(
                        [f"'{file_name}' expands to more than the {max_bytes / _MIB:.0f} MB "
                         "limit once uncompressed."],
                        code=ErrorCode.TOO_LARGE,
                    )  # fmt: skip
                pending = stream.unconsumed_tail
            if not stream.eof:
                raise zlib.error("the compressed data ends early")
            rest = stream.unused_data
    except zlib.error as exc:
        raise UploadRejected(
            [f"'{file_name}' arrived as damaged compressed data ({exc}); send it again."],
            code=ErrorCode.BAD_ENCODING,
        ) from exc
    return bytes(out)


def check_sha256(data: bytes, expected: str, *, file_name: str) -> None:
    """Refuse the bytes unless their SHA-256 is ``expected`` (hex; empty: nothing to check)."""
    if expected and hashlib.sha256(data).hexdigest() != expected.lower():
        raise UploadRejected(
            [f"'{file_name}' did not arrive intact (its SHA-256 differs from the one the "
             "browser computed); send it again."],
            code=ErrorCode.CHECKSUM_MISMATCH,
        )  # fmt: skip
