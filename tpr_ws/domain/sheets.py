"""Reading an upload's bytes into sheets of raw cell rows (xlsx/xls through calamine, CSV text).

Nothing here interprets the cells; `workbook` decides which sheet and rows hold the data.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import numpy as np
import pandas as pd
import python_calamine

from tpr_ws.errors import ErrorCode, UploadRejected

HEAD_ROWS: Final = 30  # how far down a sheet the header row may sit
_DELIMITERS: Final = ",;\t|"
_SNIFF_BYTES: Final = 64 * 1024

Rows = list[list[object]]


class Book(Protocol):
    """The sheets of one upload."""

    @property
    def sheet_names(self) -> list[str]: ...

    def head(self, name: str) -> Rows:
        """The first HEAD_ROWS rows of a sheet."""
        ...

    def grid(self, name: str, start: int) -> pd.DataFrame:
        """The sheet's rows from index `start` on, as a DataFrame with positional columns."""
        ...


@dataclass(frozen=True)
class _CalamineBook:
    workbook: python_calamine.CalamineWorkbook
    # Getting a sheet parses all of it, so each sheet is fetched once and kept.
    loaded: dict[str, python_calamine.CalamineSheet] = field(default_factory=dict)

    @property
    def sheet_names(self) -> list[str]:
        return list(self.workbook.sheet_names)

    def _sheet(self, name: str) -> python_calamine.CalamineSheet:
        if name not in self.loaded:
            try:
                self.loaded[name] = self.workbook.get_sheet_by_name(name)
            except Exception as exc:  # calamine raises several unrelated types
                raise _unreadable(exc, f"sheet '{name}'") from exc
        return self.loaded[name]

    def head(self, name: str) -> Rows:
        rows = self._sheet(name).to_python(skip_empty_area=False, nrows=HEAD_ROWS)
        return [list(row) for row in rows]

    def grid(self, name: str, start: int) -> pd.DataFrame:
        rows: Rows = self._sheet(name).to_python(skip_empty_area=False)  # type: ignore[assignment]
        return to_grid(rows[start:])


@dataclass(frozen=True)
class _CsvBook:
    name: str
    text: str
    delimiter: str

    @property
    def sheet_names(self) -> list[str]:
        return [self.name]

    def head(self, name: str) -> Rows:
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        return [list(row) for row in itertools.islice(reader, HEAD_ROWS)]

    def grid(self, name: str, start: int) -> pd.DataFrame:
        width = max((len(row) for row in self.head(name)), default=0)
        try:  # pandas' C parser: fast, and numbers arrive as numbers
            return pd.read_csv(
                io.StringIO(self.text),
                sep=self.delimiter,
                header=None,
                names=list(range(width)),
                skiprows=start,
                keep_default_na=False,
                na_values=[""],
                skip_blank_lines=False,
                low_memory=False,
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
            # Rows wider than the header: let the csv module take them as they come.
            reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
            return to_grid([list(row) for row in itertools.islice(reader, start, None)])


def open_book(data: bytes, file_format: str) -> Book:
    """The sheets of an upload whose format `safety.check_upload` has already established."""
    if file_format == "csv":
        text = decode_text(data)
        # Leading blank lines would make the sniffer see no structure.
        delimiter = sniff_delimiter(text.lstrip("\r\n")[:_SNIFF_BYTES])
        return _CsvBook("csv", text, delimiter)
    try:
        return _CalamineBook(python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)))
    except Exception as exc:  # calamine raises several unrelated types for a damaged file
        raise _unreadable(exc, "the file") from exc


def _unreadable(exc: Exception, what: str) -> UploadRejected:
    return UploadRejected(
        [f"{what[0].upper()}{what[1:]} could not be read as Excel data ({exc}). "
         "Open the file in Excel, save it again as .xlsx and upload that copy."],
        code=ErrorCode.UNREADABLE,
    )  # fmt: skip


def decode_text(data: bytes) -> str:
    """CSV text: UTF-8 (with or without BOM), else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample; a comma when the sample is ambiguous."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in _DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def to_grid(rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """Rows of cells as an object DataFrame with positional column labels (ragged rows padded)."""
    if not rows:
        return pd.DataFrame(dtype=object)
    try:
        array = np.array(rows, dtype=object)
    except ValueError:  # ragged rows (CSV lines of different lengths)
        return pd.DataFrame(list(rows), dtype=object)
    if array.ndim != 2:
        return pd.DataFrame(list(rows), dtype=object)
    return pd.DataFrame(array, dtype=object, copy=False)
