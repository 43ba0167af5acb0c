"""Upload safety: formats decided by bytes, and every refusal with its code."""

from __future__ import annotations

import pytest

from tests.domain.factories import (
    WORKBOOK_PARTS,
    csv_bytes,
    declare_size,
    mojibake,
    rewrite_zip,
    table,
    xlsx_bytes,
    zeros_zip,
)
from tests.domain.xls_writer import xls_bytes
from tpr_ws.domain.safety import ZipLimits, check_upload
from tpr_ws.errors import UploadRejected

MB = 1 << 20
LIMIT = 100 * MB


def refusal(data: bytes, name: str, **kwargs: object) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        check_upload(data, name, max_bytes=int(kwargs.pop("max_bytes", LIMIT)), **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_xlsx_is_recognised_by_its_bytes_whatever_its_name() -> None:
    data = xlsx_bytes({"data": table()})
    assert check_upload(data, "export.xlsx", max_bytes=LIMIT) == "xlsx"
    assert check_upload(data, "export.csv", max_bytes=LIMIT) == "xlsx"


def test_xls_workbook_is_xls() -> None:
    assert check_upload(xls_bytes({"data": table()}), "old.xls", max_bytes=LIMIT) == "xls"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_text_is_csv(encoding: str) -> None:
    rows = mojibake(table(rename={"HealthFacility": "Maternité"}))
    data = csv_bytes(rows, encoding=encoding)
    assert check_upload(data, "export.csv", max_bytes=LIMIT) == "csv"


def test_semicolon_csv_is_csv() -> None:
    assert check_upload(csv_bytes(table(), delimiter=";"), "x.csv", max_bytes=LIMIT) == "csv"


def test_csv_with_a_title_line_is_csv() -> None:
    data = b"Malaria export for Adamawa\n" + csv_bytes(table())
    assert check_upload(data, "x.csv", max_bytes=LIMIT) == "csv"


def test_empty_file_is_refused() -> None:
    assert refusal(b"", "export.xlsx").code == "empty_file"


def test_file_over_the_limit_is_refused() -> None:
    error = refusal(xlsx_bytes({"data": table()}), "big.xlsx", max_bytes=1000)
    assert error.code == "too_large"
    assert "limit" in error.message


def test_text_file_renamed_xlsx_is_refused() -> None:
    error = refusal(csv_bytes(table()), "export.xlsx")
    assert error.code == "not_a_workbook"
    assert ".csv" in error.message


def test_binary_junk_is_refused() -> None:
    assert refusal(b"\x00\x01\x02 not a workbook \xff" * 100, "x.csv").code == "not_a_workbook"


def test_prose_without_columns_is_not_a_csv() -> None:
    assert refusal(b"Dear team\nplease find the data attached\n", "x.csv").code == "not_a_workbook"


def test_zip_that_is_not_a_workbook_is_refused() -> None:
    data = zeros_zip("word/document.xml", 10, extra={"[Content_Types].xml": b"<Types/>"})
    assert refusal(data, "report.xlsx").code == "not_a_workbook"


def test_damaged_zip_is_refused() -> None:
    data = xlsx_bytes({"data": table()})
    assert refusal(data[: len(data) // 2], "cut.xlsx").code == "not_a_workbook"


def test_highly_compressed_entry_is_a_zip_bomb() -> None:
    # 16 MB of zeros deflate to ~16 KB: a 1000:1 ratio no real sheet reaches.
    data = zeros_zip("xl/worksheets/sheet1.xml", 16 * MB, extra=WORKBOOK_PARTS)
    assert len(data) < MB
    error = refusal(data, "bomb.xlsx")
    assert error.code == "zip_bomb"
    assert "compressed" in error.message


def test_entry_declaring_a_gigabyte_is_a_zip_bomb() -> None:
    small = zeros_zip("xl/worksheets/sheet1.xml", 1000, extra=WORKBOOK_PARTS)
    data = declare_size(small, "xl/worksheets/sheet1.xml", 1 << 30)
    limits = ZipLimits(max_total_uncompressed=512 * MB, max_entry_uncompressed=256 * MB)
    error = refusal(data, "bomb.xlsx", limits=limits)
    assert error.code == "zip_bomb"
    assert len(error.problems) >= 2  # total and per-entry caps both reported


def test_too_many_entries_is_a_zip_bomb() -> None:
    data = xlsx_bytes({"data": table()})
    assert refusal(data, "x.xlsx", limits=ZipLimits(max_entries=3)).code == "zip_bomb"


@pytest.mark.parametrize(
    "part", ["xl/workbook.xml", "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"]
)
def test_xml_with_entities_is_refused(part: str) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><root>&lol2;</root>'
    )
    data = rewrite_zip(xlsx_bytes({"data": table()}), {part: laughs})
    error = refusal(data, "laughs.xlsx")
    assert error.code == "unsafe_xml"
    assert part in error.message


def test_real_workbook_passes_every_check() -> None:
    data = xlsx_bytes({"raw": table(), "pivot": [["Row Labels"]]})
    assert check_upload(data, "ok.xlsx", max_bytes=LIMIT) == "xlsx"
