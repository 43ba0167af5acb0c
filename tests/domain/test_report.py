"""Result objects (key, round trip) and the report in its three forms: self-contained HTML with
an SVG chart and print rules, Markdown, and the workbook's Summary sheet; names from the file
are escaped everywhere, and one analysis always renders to the same bytes."""

from __future__ import annotations

import csv
import gzip
import io
import re
from html.parser import HTMLParser

import openpyxl
import orjson
import pandas as pd
import pytest

from tests.domain.tidy_rows import tidy
from tpr_ws.domain import outputs
from tpr_ws.domain.analysis import decode_result, encode_result, result_key
from tpr_ws.domain.markdown import md_escape
from tpr_ws.domain.report import Audit, report_facts, report_markdown, rows_used
from tpr_ws.domain.report_html import report_html
from tpr_ws.domain.report_xlsx import analysis_xlsx
from tpr_ws.domain.tpr import TprResult, compute_tpr
from tpr_ws.domain.versions import RULE_VERSION

HOSTILE = '<img src=x onerror="alert(1)">'
AT = 1_717_236_120.0  # 2024-06-01 10:02 UTC


def result(age: str = "u5") -> TprResult:
    frame = tidy([
        {"ward": "Karewa", "rdt_tested_u5": 3, "rdt_positive_u5": 1, "rdt_tested_pw": 5,
         "rdt_positive_pw": 1},
        {"ward": HOSTILE, "rdt_tested_u5": 10, "rdt_positive_u5": 9},
        {"ward": "=HYPERLINK(\"http://x\")", "lga": "Mubi | South", "rdt_tested_u5": 4,
         "rdt_positive_u5": 2},
        {"ward": "Quiet"},
    ])  # fmt: skip
    return compute_tpr(frame, "Adamawa", "Primary", age)


def audit(res: TprResult, file_name: str = "nmep <export>.xlsx") -> Audit:
    return Audit(file_name, "ab" * 32, rows_used(res), RULE_VERSION, "9.9.9", AT)


def test_result_key_names_the_inputs_and_the_rule_version() -> None:
    key = result_key("d" * 64, "Adamawa", "Primary", "u5")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == result_key("d" * 64, "Adamawa", "Primary", "u5")
    newer_rule = result_key("d" * 64, "Adamawa", "Primary", "u5", rule_version=RULE_VERSION + 1)
    others = {result_key("e" * 64, "Adamawa", "Primary", "u5"),
              result_key("d" * 64, "Kano", "Primary", "u5"),
              result_key("d" * 64, "Adamawa", "All", "u5"),
              result_key("d" * 64, "Adamawa", "Primary", "pw"), newer_rule}  # fmt: skip
    assert key not in others and len(others) == 5


@pytest.mark.parametrize("age", ["u5", "pw", "all"])
def test_result_object_round_trips_to_the_same_table_and_downloads(age: str) -> None:
    res = result(age)
    data = encode_result(res, dataset_key="d" * 64, product_version="9.9.9")
    assert data == encode_result(res, dataset_key="d" * 64, product_version="9.9.9")
    doc = orjson.loads(gzip.decompress(data))
    assert doc["columns"][:4] == ["State", "LGA", "Ward", "TPR"] and len(doc["rows"]) == 4
    back = decode_result(data)
    assert back.key == result_key("d" * 64, "Adamawa", "Primary", age)
    assert (back.rule_version, back.product_version) == (RULE_VERSION, "9.9.9")
    pd.testing.assert_frame_equal(back.result.wards, res.wards)
    assert back.result.summary == res.summary
    assert outputs.ward_table_csv(back.result) == outputs.ward_table_csv(res)


class Tags(HTMLParser):
    """The element and attribute names of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[str] = set()
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.add(tag)
        self.attrs += [name for name, _ in attrs]


def test_html_report_is_self_contained_escaped_and_printable() -> None:
    res = result()
    page = report_html(report_facts(res, audit(res)))
    assert page.startswith("<!doctype html>")
    # nothing is fetched: no element refers to anything, and the page's own policy forbids it
    tags = Tags()
    tags.feed(page)
    assert not tags.found & {"script", "link", "img", "iframe", "object", "embed", "a"}
    assert not [a for a in tags.attrs if a in ("src", "href", "srcset", "action", "data")]
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page
    assert "<svg" in page and "<rect" in page and "@page" in page and "A4" in page
    assert "@media print" in page
    # file-derived text is escaped: the hostile ward name and the file name are text
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "nmep &lt;export&gt;.xlsx" in page
    for needle in ("SHA-256 of the file", "ab" * 32, "Rule version", "tpr_ws 9.9.9",
                   "2024-06-01 10:02 UTC", "Rows used", "pooled"):  # fmt: skip
        assert needle in page, needle


def test_markdown_report_says_the_same_with_names_made_inert() -> None:
    res = result()
    facts = report_facts(res, audit(res))
    text = report_markdown(facts)
    assert not re.search(r"(?<!\\)<[a-z/]", text, re.I)  # no tag can open
    assert '\\<img src=x onerror="alert(1)"\\>' in text
    assert "Mubi \\| South" in text
    lines = text.splitlines()
    top = lines[lines.index("| # | LGA | Ward | TPR | Tested | Positive |") :][:5]
    assert [len(re.findall(r"(?<!\\)\|", line)) for line in top] == [7] * 5  # cells stay put
    for label, value in facts.audit:
        assert f"- {label}: {md_escape(value)}" in text
    assert md_escape("Lamurde  Ward (Lamurde)") == "Lamurde Ward (Lamurde)"  # names read unchanged


def test_workbook_has_the_ward_table_and_a_summary_sheet_and_stable_bytes() -> None:
    res = result()
    facts = report_facts(res, audit(res))
    data = analysis_xlsx(res, facts, AT)
    assert data == analysis_xlsx(res, facts, AT)  # same analysis, same bytes
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Ward TPR", "Summary"]
    cells = [c for row in book["Summary"].iter_rows() for c in row if c.value is not None]
    values = [c.value for c in cells]
    assert "Audit" in values and "ab" * 32 in values and facts.headline in values[3]
    formula = next(c for c in cells if str(c.value).startswith("=HYPERLINK"))
    assert formula.data_type == "s"  # a ward named like a formula stays text
    table = list(book["Ward TPR"].iter_rows(values_only=True))
    rows = list(csv.reader(io.StringIO(outputs.ward_table_csv(res).decode())))
    assert len(table) == len(rows)
