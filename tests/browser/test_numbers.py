"""The page on partial files and figures: an unavailable choice is a visible, disabled button
with its reason, and the page rounds figures exactly as the chat and the files do."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose, expect_no_pending, open_app, say, wait_stage
from tests.domain.factories import INDICATOR_HEADERS, csv_bytes, table
from tpr_ws.domain.figures import percent

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NO_PW = csv_bytes(table(6, drop=[h for h in INDICATOR_HEADERS if "Preg Women" in h]))


def test_an_unavailable_choice_is_shown_disabled_with_its_reason(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    page.set_input_files(
        "#file-input", files=[{"name": "no_pw.csv", "mimeType": "text/csv", "buffer": NO_PW}]
    )
    wait_stage(page, "select_facility_level")
    summary = page.locator("#log article.msg.bot:not(.progress)").last
    expect(summary).to_contain_text("What this file lacks")
    expect(summary).to_contain_text("No pregnant-women columns")
    choose(page, "Primary")
    wait_stage(page, "select_age_group")
    buttons = page.locator(".options:not(.stale) button.option")
    pregnant = page.locator('.options:not(.stale) button.option[data-value="pw"]')
    expect(pregnant).to_be_visible()
    expect(pregnant).to_be_disabled()
    expect(pregnant).to_contain_text("unavailable: this file has no pregnant-women columns")
    expect(buttons).to_have_count(4)
    expect(page.locator('.options:not(.stale) button.option[data-value="u5"]')).to_be_enabled()
    screenshot(page, "20_unavailable_choice")
    pregnant.click(force=True)  # a click on a disabled button sends nothing
    say(page, "pregnant women")
    expect_no_pending(page)
    last = page.locator("#log article.msg.bot:not(.progress)").last
    expect(last).to_contain_text("Pregnant women is not available")
    assert page.get_attribute("body", "data-stage") == "select_age_group"
    assert not probe.errors, probe.errors


ROUND = """async (values) => {
  const { fmtPct } = await import('/static/js/dom.js');
  return values.map((v) => fmtPct(v));
}"""


def test_the_page_rounds_as_the_chat_and_the_files(new_page: Any, stack: Any) -> None:
    page, _ = new_page()
    open_app(page, stack.url)
    values = [100 * 141 / 1048, 12.25, 100 * 49 / 400, 0.05, 13.449999999, 100 * 1 / 3, 99.95,
              100 * 2 / 2000, 100 * 269 / 2000, 100.0, 0.0]  # fmt: skip
    assert page.evaluate(ROUND, values) == [percent(v) for v in values]
