"""Names from a file are data, never markup: a hostile ward name shows as text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import (
    assert_clean_log,
    choose,
    expect_no_pending,
    open_app,
    settle,
    wait_stage,
)
from tests.domain.factories import csv_bytes, facility_row, table

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

HOSTILE_WARD = "<img src=x onerror=alert(1)>"
LINK_WARD = "[click](javascript:alert(2))"


def hostile_csv() -> bytes:
    """A small layout-C export (one state) with two wards named to attack the page."""
    rows = []
    for i in range(8):
        row = facility_row(i)
        if i % 4 == 0:
            row[2] = HOSTILE_WARD
        elif i % 4 == 1:
            row[2] = LINK_WARD
        rows.append(row)
    return csv_bytes(table(rows=rows))


def test_hostile_ward_name_is_shown_as_text(new_page: Any, stack: Any, screenshot: Any) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    page.set_input_files(
        "#file-input",
        files=[
            {
                "name": "hostile <img src=y onerror=alert(3)>.csv",
                "mimeType": "text/csv",
                "buffer": hostile_csv(),
            }
        ],
    )
    # One state in the file: it is selected for us and the level question comes next.
    wait_stage(page, "select_facility_level")
    expect(page.locator("#file-name")).to_have_text("hostile <img src=y onerror=alert(3)>.csv")
    expect(page.locator("#log article.msg.user").last).to_contain_text(
        "hostile <img src=y onerror=alert(3)>.csv"
    )
    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    choose(page, "Under 5")
    wait_stage(page, "results")
    expect_no_pending(page)

    table_cells = page.locator(".results .ward-table tbody th")
    expect(table_cells.filter(has_text=HOSTILE_WARD).first).to_be_visible()
    expect(table_cells.filter(has_text=LINK_WARD).first).to_be_visible()
    assert (
        page.locator(".results .md, .ward-table").get_by_text(HOSTILE_WARD, exact=True).count() >= 1
    )
    # Nothing the file said became an element or a live link.
    assert page.locator("#log img").count() == 0
    assert page.locator("#log b").count() == 0
    hrefs = page.eval_on_selector_all("#log a", "els => els.map(a => a.getAttribute('href'))")
    assert all(h.startswith("/api/sessions/") for h in hrefs), hrefs
    screenshot(page, "09_hostile_names_as_text")
    settle(page)  # any injected handler has had its chance to fire
    assert probe.dialogs == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert_clean_log(page)
    assert not probe.errors, probe.errors
