"""Figures are computed unrounded and rounded once, the same way wherever they are shown:
the chat, the report, the files (and the page: tests/browser/test_numbers.py)."""

from __future__ import annotations

import csv
import io

import openpyxl

from tests.domain.tidy_rows import tidy
from tpr_ws.actors.messages import results_text
from tpr_ws.domain.figures import fixed, percent
from tpr_ws.domain.outputs import ward_table_csv, ward_table_xlsx
from tpr_ws.domain.report import Audit, report_facts, report_markdown
from tpr_ws.domain.report_html import report_html
from tpr_ws.domain.tpr import TprResult, compute_tpr


def result() -> TprResult:
    # Karewa: 141/1048 = 13.454...% (13.45 after a first rounding, then 13.4 by half-even);
    # Bako: 49/400 = 12.25% exactly, a tie; Gwanabe: 60/100.
    frame = tidy([
        {"ward": "Karewa", "rdt_tested_u5": 1048, "rdt_positive_u5": 141},
        {"ward": "Bako", "rdt_tested_u5": 400, "rdt_positive_u5": 49},
        {"ward": "Gwanabe", "rdt_tested_u5": 100, "rdt_positive_u5": 60},
    ])  # fmt: skip
    return compute_tpr(frame, "Adamawa", "Primary", "u5")


def test_the_summary_keeps_unrounded_figures() -> None:
    summary = result().summary
    assert summary["stats"]["max"] == 60.0
    assert summary["stats"]["median"] == 100 * 141 / 1048
    assert summary["state_tpr"] == 100 * 250 / 1548
    assert [w["tpr"] for w in summary["top_wards"]] == [60.0, 100 * 141 / 1048, 12.25]


def test_chat_and_report_show_the_same_once_rounded_figures() -> None:
    res = result()
    chat = results_text(res.summary, "Adamawa", "Primary", "u5")
    facts = report_facts(res, Audit("f.xlsx", "0" * 64, 3, 1, "0", 0.0))
    report, page = report_markdown(facts), report_html(facts)
    assert "median 13.5%" in chat and "min 12.3%" in chat
    assert "| Karewa | Yola North | 13.5% | 1,048 |" in chat
    assert "- Median ward TPR: 13.5%" in report and "- Lowest ward TPR: 12.3%" in report
    assert "- Highest ward TPR: 60.0%" in report
    assert "| Yola North | Karewa | 13.5% | 1,048 | 141 |" in report
    assert "| Yola North | Bako | 12.3% | 400 | 49 |" in report
    assert f"**State TPR: {percent(100 * 250 / 1548)}**" in report and "16.1%" in report
    assert ">13.5%<" in page and ">12.3%<" in page


def test_files_keep_two_decimals_rounded_once_or_the_unrounded_value() -> None:
    res = result()
    rows = {r["Ward"]: r for r in csv.DictReader(io.StringIO(ward_table_csv(res).decode()))}
    assert (rows["Karewa"]["TPR"], rows["Bako"]["TPR"], rows["Gwanabe"]["TPR"]) == (
        "13.45", "12.25", "60.00",
    )  # fmt: skip
    sheet = openpyxl.load_workbook(io.BytesIO(ward_table_xlsx(res))).active
    assert sheet is not None
    values = {r[2]: r[3] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert fixed(values["Karewa"], 1) == "13.5" and fixed(values["Bako"], 1) == "12.3"


def test_rounding_is_half_away_from_zero_on_the_shortest_decimal_form() -> None:
    values = (12.25, 0.05, 13.449999999, 100 * 141 / 1048, 100 * 269 / 2000)
    assert [fixed(v) for v in values] == ["12.3", "0.1", "13.4", "13.5", "13.5"]
    assert percent(None) == "n/a" and percent(float("nan")) == "n/a" and fixed(7, 2) == "7.00"
