"""Minimal BIFF8 (.xls) writer for tests: a compound file holding one Workbook stream."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

_SECTOR = 512
_END, _FREE, _FATSECT, _NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def _record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _bof(kind: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))


def _cell(row: int, col: int, value: object) -> bytes:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _record(0x0203, struct.pack("<HHHd", row, col, 0, float(value)))
    text = str(value).encode("utf-16-le")
    return _record(0x0204, struct.pack("<HHHHB", row, col, 0, len(text) // 2, 1) + text)


def _sheet_stream(rows: Sequence[Sequence[object]]) -> bytes:
    width = max((len(r) for r in rows), default=0)
    out = [_bof(0x0010), _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))]
    for r, row in enumerate(rows):
        out += [_cell(r, c, v) for c, v in enumerate(row) if v is not None and v != ""]
    return b"".join([*out, _record(0x000A, b"")])


def _workbook_stream(sheets: Mapping[str, Sequence[Sequence[object]]]) -> bytes:
    bodies = [_sheet_stream(rows) for rows in sheets.values()]
    names = [n.encode("utf-16-le") for n in sheets]
    bound_size = sum(4 + 8 + len(n) for n in names)
    offset = len(_bof(0x0005)) + bound_size + 4  # globals: BOF, BOUNDSHEETs, EOF
    globals_ = [_bof(0x0005)]
    for name, body in zip(names, bodies, strict=True):
        globals_.append(
            _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(name) // 2, 1) + name)
        )
        offset += len(body)
    stream = b"".join([*globals_, _record(0x000A, b""), *bodies])
    return stream + bytes(max(0, 4096 - len(stream)))  # >= 4096: stored in normal sectors


def _dir_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBBIII", len(encoded), kind, 1 if name else 0, _NOSTREAM, _NOSTREAM, child)
        + bytes(16 + 4 + 16)
        + struct.pack("<IQ", start, size)
    )


def xls_bytes(sheets: Mapping[str, Sequence[Sequence[object]]]) -> bytes:
    """An .xls (BIFF8) workbook with the given sheets of numbers and text (up to ~7 MB)."""
    stream = _workbook_stream(sheets)
    n_data = -(-len(stream) // _SECTOR)
    n_fat = -(-(n_data + 1 + 1) // 127) if n_data else 1  # FAT sectors also map themselves
    while n_fat * 128 < n_fat + 1 + n_data:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("test workbook too large for the header's FAT list")
    first_data = n_fat + 1
    fat = [_FATSECT] * n_fat + [_END]
    fat += [first_data + i + 1 for i in range(n_data - 1)] + [_END]
    fat += [_FREE] * (n_fat * 128 - len(fat))
    directory = (
        _dir_entry("Root Entry", 5, 1, _END, 0)
        + _dir_entry("Workbook", 2, _NOSTREAM, first_data, len(stream))
        + _dir_entry("", 0, _NOSTREAM, 0, 0) * 2
    )
    difat = list(range(n_fat)) + [_FREE] * (109 - n_fat)
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
        + struct.pack("<IIIIIIIII", 0, n_fat, n_fat, 0, 4096, _END, 0, _END, 0)
        + struct.pack("<109I", *difat)
    )  # fmt: skip
    body = struct.pack(f"<{len(fat)}I", *fat) + directory + stream.ljust(n_data * _SECTOR, b"\0")
    return header + body
