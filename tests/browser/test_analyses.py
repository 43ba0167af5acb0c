"""Every analysis kept, in the browser: each results card downloads its own analysis (also after
a reload), an older analysis opens again from the list, and the HTML report is a page that
needs nothing from anywhere, draws its chart and prints to an A4 PDF."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.pages import (
    assert_no_page_errors,
    choose,
    expect_no_pending,
    open_app,
    say,
    wait_stage,
    wait_synced,
)
from tests.browser.test_workflow import assert_matches_oracle, download_bytes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
CARDS = ".results"
A4_POINTS = (595.3, 841.9)


def first_results(page: Any, url: str) -> None:
    open_app(page, url)
    wait_stage(page, "awaiting_upload")
    page.get_by_role("button", name="Use the sample data").first.click()
    wait_stage(page, "select_state")
    choose(page, "Adamawa")
    wait_stage(page, "select_facility_level")
    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    choose(page, "Under 5")
    wait_stage(page, "results")
    expect(page.locator(CARDS)).to_have_count(1)


def card_download(page: Any, card: Any, fmt: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        card.locator(f'a[data-download="{fmt}"]').click()
    return info.value.suggested_filename, download_bytes(info.value)


def expect_full_tables(page: Any, count: int) -> None:
    """Every card shows its whole ward table (fetched from its result object)."""
    counts = page.locator(f"{CARDS} .ward-count")
    expect(counts).to_have_count(count)
    for k in range(count):
        expect(counts.nth(k)).to_have_text(re.compile(r"^\d+ of \d+ wards$"))


def test_each_card_downloads_its_own_analysis_and_an_older_one_reopens_after_a_reload(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    first_results(page, stack.url)
    say(page, "pregnant women")
    expect(page.locator(CARDS)).to_have_count(2)
    expect_no_pending(page)
    cards = page.locator(CARDS)
    expect(cards.nth(0).locator(".analysis-label")).to_contain_text("Adamawa · Primary · Under 5")
    expect(cards.nth(1).locator(".analysis-label")).to_contain_text("Pregnant women")
    expect_full_tables(page, 2)
    screenshot(page, "20_two_analyses")

    name_u5, csv_u5 = card_download(page, cards.nth(0), "csv")
    name_pw, csv_pw = card_download(page, cards.nth(1), "csv")
    assert (name_u5, name_pw) == ("Adamawa_TPR_Primary_u5.csv", "Adamawa_TPR_Primary_pw.csv")
    assert csv_u5 != csv_pw
    assert_matches_oracle(pd.read_csv(io.BytesIO(csv_u5)), "Adamawa", "Primary", "u5")
    assert_matches_oracle(pd.read_csv(io.BytesIO(csv_pw)), "Adamawa", "Primary", "pw")

    page.reload()
    wait_synced(page)
    expect(page.locator(CARDS)).to_have_count(2)
    expect_full_tables(page, 2)
    assert card_download(page, page.locator(CARDS).nth(0), "csv")[1] == csv_u5  # same bytes

    say(page, "analyses")
    older = page.locator(".options:not(.stale) button.option").filter(has_text="Under 5")
    expect(older).to_have_count(1)
    screenshot(page, "21_analyses_list")
    older.click()
    expect(page.locator(CARDS)).to_have_count(3)
    wait_stage(page, "results")
    reopened = page.locator(CARDS).nth(2)
    expect(reopened.locator(".analysis-label")).to_contain_text("Adamawa · Primary · Under 5")
    expect_full_tables(page, 3)
    assert card_download(page, reopened, "csv") == ("Adamawa_TPR_Primary_u5.csv", csv_u5)
    screenshot(page, "22_analysis_reopened")
    assert_no_page_errors(probe)


def test_the_html_report_needs_nothing_from_anywhere_draws_its_chart_and_prints_to_a4(
    new_page: Any, stack: Any, screenshot: Any, tmp_path: Path
) -> None:
    page, probe = new_page()
    first_results(page, stack.url)
    name, html = card_download(page, page.locator(CARDS).first, "html")
    assert name == "Adamawa_TPR_Primary_u5.html"
    report_file = tmp_path / name
    report_file.write_bytes(html)

    report, report_probe = new_page()
    requests: list[str] = []
    report.on("request", lambda r: requests.append(r.url))
    report.goto(report_file.as_uri())
    expect(report.locator("h1")).to_contain_text("Adamawa")
    bars = report.locator("svg rect.bar")
    expect(bars).to_have_count(11)  # ten bands of 10 points, and 100 and over
    box = report.locator("svg").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert report.locator("table").count() >= 3
    expect(report.get_by_text("SHA-256 of the file")).to_be_visible()
    assert requests == [report_file.as_uri()]  # the page itself, nothing else
    assert not report_probe.errors, report_probe.errors  # no blocked load, no script error
    screenshot(report, "23_report_html")

    pdf = report.pdf(prefer_css_page_size=True, print_background=True)
    (SCREENSHOTS / "24_report_print.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert boxes and all(
        abs(float(w) - A4_POINTS[0]) < 2 and abs(float(h) - A4_POINTS[1]) < 2 for w, h in boxes
    )
    assert 1 <= len(boxes) <= 3  # a short report: a few pages at most
    report.emulate_media(media="print")
    screenshot(report, "25_report_print_media")
    assert_no_page_errors(probe)
