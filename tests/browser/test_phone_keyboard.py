"""At phone width, by keyboard alone: typed replies, Enter to send, a sortable table."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_clean_log, expect_no_pending, open_app, wait_stage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def type_reply(page: Any, text: str) -> None:
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def tab_to(page: Any, selector: str, key: str = "Tab", most: int = 80) -> None:
    """Press Tab (or Shift+Tab) until `selector` has the focus."""
    for _ in range(most):
        if page.evaluate(
            "s => document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{selector} never got the focus")


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_phone_width_keyboard_only_workflow(new_page: Any, stack: Any, screenshot: Any) -> None:
    page, probe = new_page(width=360, height=740)
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    assert no_sideways_scroll(page)
    screenshot(page, "10_phone_welcome")

    # The first Tab reaches the skip link; Enter puts the cursor in the message box.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "message"

    type_reply(page, "sample")
    wait_stage(page, "select_state")
    type_reply(page, "1")
    wait_stage(page, "select_facility_level")
    type_reply(page, "primary")
    wait_stage(page, "select_age_group")
    type_reply(page, "under five")
    wait_stage(page, "results")
    expect_no_pending(page)
    assert page.evaluate("document.activeElement.id") == "message"
    expect(page.locator("#announcer")).to_contain_text("Results")
    assert no_sideways_scroll(page)
    screenshot(page, "11_phone_results")

    # Back from the message box to the table's TPR heading, by keyboard only; Enter sorts.
    tpr_heading = page.locator(".results").last.locator('th:has(button[data-sort="TPR"])')
    expect(tpr_heading).to_have_attribute("aria-sort", "descending")
    tab_to(page, '.results button.sort[data-sort="TPR"]', key="Shift+Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline
    page.keyboard.press("Enter")
    expect(tpr_heading).to_have_attribute("aria-sort", "ascending")
    first_row_tpr = (
        page.locator(".results").last.locator(".ward-table tbody tr").first.locator("td.n").first
    )
    last_row_tpr = (
        page.locator(".results").last.locator(".ward-table tbody tr").last.locator("td.n").first
    )
    assert float(first_row_tpr.inner_text().rstrip("%")) <= float(
        last_row_tpr.inner_text().rstrip("%")
    )

    # The options are buttons in the tab order: reach "Start over" and press Enter; it asks
    # first (the focus starts on "Keep working"), Tab then Enter confirms.
    tab_to(page, '.options:not(.stale) button.option[data-value="restart"]', key="Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Start over?")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    wait_stage(page, "awaiting_upload")
    expect_no_pending(page)
    expect(page.locator("#file-info")).to_be_hidden()

    # Choices by Enter alone: the focus moves on to each new question's first choice.
    # (The body's text holds every label: a focus lost to the body must not count.)
    focused = (
        "document.activeElement && document.activeElement !== document.body"
        " && document.activeElement.textContent"
    )
    page.wait_for_function(f"() => ({focused} || '').includes('Choose a file')")
    page.keyboard.press("Tab")  # from "Choose a file…" to "Use the sample data"
    page.keyboard.press("Enter")
    wait_stage(page, "select_state")
    page.wait_for_function(f"() => ({focused} || '').includes('Adamawa')")
    page.keyboard.press("Enter")
    wait_stage(page, "select_facility_level")
    page.wait_for_function(f"() => ({focused} || '').includes('Primary')")
    page.keyboard.press("Enter")
    wait_stage(page, "select_age_group")
    page.wait_for_function(f"() => ({focused} || '').includes('Under 5')")
    page.keyboard.press("Enter")
    wait_stage(page, "results")
    expect_no_pending(page)
    assert_clean_log(page)
    assert not probe.errors, probe.errors
