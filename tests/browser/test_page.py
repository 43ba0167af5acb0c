"""The page as analysts found it: results headline in view (desktop and phone), wards named in
the data-quality notes, wards without a TPR shown and explained, a phone table that says it
scrolls, the progress card under its upload line, "Start over" that asks first and speaks for
nobody, no worker id, no empty choice group, and reconnecting at once when the network returns."""

from __future__ import annotations

import re
import signal
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.pages import (
    assert_clean_log,
    assert_no_page_errors,
    bubbles,
    choose,
    expect_no_pending,
    open_app,
    wait_stage,
    wait_synced,
)
from tests.domain.factories import csv_bytes, facility_row, table

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
PHONE = {"width": 390, "height": 844}


def crafted_csv() -> bytes:
    """Four wards of one LGA: A is plain; B has only a secondary facility; C's facility reported
    no tests; D has one good month and one with positives over tested (excluded)."""
    a = facility_row(0)
    b = facility_row(1)
    b[3], b[4] = "General Hospital Bako", "Secondary"
    c = facility_row(2)
    c[7:19] = [None] * 12
    d_good = facility_row(3)
    d_bad = facility_row(3, period=("February 2024", 202402))
    d_bad[13] = 999  # RDT positives under 5 > tested
    return csv_bytes(table(rows=[a, b, c, d_good, d_bad]))


def upload_and_choose(page: Any) -> None:
    wait_stage(page, "awaiting_upload")
    page.set_input_files(
        "#file-input",
        files=[{"name": "four wards.csv", "mimeType": "text/csv", "buffer": crafted_csv()}],
    )
    wait_stage(page, "select_facility_level")  # one state: chosen for the user
    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    choose(page, "Under 5")
    wait_stage(page, "results")
    expect_no_pending(page)


def headline_in_view(page: Any) -> None:
    head = page.locator(".results .headline").last
    expect(head).to_be_visible()
    page.wait_for_function(
        """() => {
          const all = document.querySelectorAll('.results .headline');
          const h = all[all.length - 1].getBoundingClientRect();
          const top = document.querySelector('.masthead').getBoundingClientRect().bottom;
          const bottom = document.querySelector('.composer-bar').getBoundingClientRect().top;
          return h.top >= top - 1 && h.bottom <= bottom + 1;
        }"""
    )


def test_results_on_a_desktop(new_page: Any, stack: Any, screenshot: Any) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    upload_and_choose(page)
    headline_in_view(page)
    page.screenshot(path=str(SCREENSHOTS / "30_results_desktop_headline_in_view.png"))
    card = page.locator(".results").last
    rows = card.locator(".ward-table tbody tr")
    expect(rows).to_have_count(4)  # every ward of the state, with or without a TPR
    expect(card.locator("tr.no_facility")).to_contain_text("no facility at this level")
    expect(card.locator("tr.no_facility")).to_contain_text("Ward B")
    expect(card.locator("tr.no_tests")).to_contain_text("no usable tests")
    expect(card.locator("tr.no_tests")).to_contain_text("Ward C")
    expect(card.locator(".ward-why")).to_contain_text("1 ward has no primary facility")
    expect(card.locator(".ward-why")).to_contain_text("reported no usable tests")

    notes = card.locator(".quality")
    excluded = notes.locator("li.has-wards", has_text="rows excluded")
    expect(excluded.locator("details")).not_to_have_attribute("open", "")
    excluded.locator("summary").click()
    expect(excluded.locator(".ward-list")).to_contain_text("Yola North · Ward D: 1 row")
    none = notes.locator("li.has-wards", has_text="no facility at this level")
    none.locator("summary").click()
    expect(none.locator(".ward-list")).to_have_text("Yola North · Ward B")
    screenshot(page, "30_results_desktop_wards_explained_full")

    # The upload's progress card sits right under its "Uploaded ..." line.
    order = page.eval_on_selector_all(
        "#log > article",
        "els => els.map(e => e.classList.contains('progress') ? 'P' : e.dataset.role)",
    )
    k = order.index("P")
    assert (
        order[k - 1] == "user"
        and "Uploaded" in page.locator("#log > article").nth(k - 1).inner_text()
    )
    assert_clean_log(page)

    # No internal worker id anywhere a person can see it.
    worker = page.get_attribute("body", "data-worker")
    assert worker
    shown = page.evaluate(
        "() => document.body.innerText + [...document.querySelectorAll('[title],[aria-label]')]"
        ".map(e => (e.title || '') + (e.getAttribute('aria-label') || '')).join(' ')"
    )
    assert worker not in shown and str(worker.rsplit(":", 1)[-1]) not in shown

    # The results' own "Start over" choice asks first too, and says nothing when kept.
    before = bubbles(page)
    choose(page, "Start over")
    dialog = page.get_by_role("dialog", name="Start over?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep working").click()
    expect(dialog).to_be_hidden()
    expect_no_pending(page)
    assert bubbles(page) == before
    assert_no_page_errors(probe)


def test_results_on_a_phone(new_page: Any, stack: Any, screenshot: Any) -> None:
    page, probe = new_page(**PHONE)
    open_app(page, stack.url)
    upload_and_choose(page)
    headline_in_view(page)
    page.screenshot(path=str(SCREENSHOTS / "31_results_phone_headline_in_view.png"))
    wrap = page.locator(".results .ward-wrap").last
    expect(wrap).to_have_class(re.compile(r"\bscrolls-x\b"))
    expect(wrap).to_have_class(re.compile(r"\bmore-right\b"))
    expect(page.locator(".results .scroll-hint").last).to_be_visible()
    wrap.scroll_into_view_if_needed()
    wrap.evaluate(
        "el => { el.scrollLeft = el.scrollWidth; el.dispatchEvent(new Event('scroll')); }"
    )
    expect(wrap).to_have_class(re.compile(r"\bmore-left\b"))
    expect(wrap).not_to_have_class(re.compile(r"\bmore-right\b"))
    screenshot(page, "32_phone_table_scrolls_sideways")
    assert_no_page_errors(probe)


def test_start_over_asks_first_and_says_nothing_for_the_user(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    # At the upload step the only choice (the sample) is the panel's button: no empty group.
    expect(page.get_by_role("group", name="Choices")).to_have_count(0)
    page.get_by_role("button", name="Use the sample data").first.click()
    wait_stage(page, "select_state")
    expect(page.get_by_role("group", name="Choices")).to_have_count(1)
    before = bubbles(page)
    session = page.get_attribute("body", "data-session-id")

    page.get_by_role("button", name="Start over").click()
    dialog = page.get_by_role("dialog", name="Start over?")
    expect(dialog).to_be_visible()
    screenshot(page, "33_start_over_asks")
    dialog.get_by_role("button", name="Keep working").click()
    expect(dialog).to_be_hidden()
    assert bubbles(page) == before and page.get_attribute("body", "data-session-id") == session

    page.get_by_role("button", name="Start over").click()
    dialog.get_by_role("button", name="Start over").click()
    wait_synced(page)
    wait_stage(page, "awaiting_upload")
    assert page.get_attribute("body", "data-session-id") != session
    assert [r for r, _ in bubbles(page)] == ["bot"]  # the welcome; nothing said for the user
    expect(page.locator("#file-info")).to_be_hidden()
    page.reload()
    wait_synced(page)
    assert [r for r, _ in bubbles(page)] == ["bot"]
    assert not probe.dialogs
    assert_no_page_errors(probe)


def test_reconnects_at_once_when_the_network_or_the_tab_comes_back(
    new_page: Any, stack: Any
) -> None:
    page, probe = new_page()
    # A backoff so long that only the online/visible signals can bring the page back in time,
    # and no heartbeat: only the wake-up probe can find a silent socket.
    page.context.add_init_script(
        "window.tprConfig = { baseDelayMs: 600000, maxDelayMs: 600000,"
        " pingEveryMs: 600000, deadAfterMs: 600000, probeMs: 1500 };"
    )
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    conn = page.locator("#conn")
    for signal_name in ("online", "visibilitychange"):
        stack.proxy.pause()
        stack.proxy.cut()
        expect(conn).to_have_attribute("data-state", "reconnecting")
        page.wait_for_function("() => !window.tpr.conn.ready && window.tpr.conn.attempt >= 1")
        stack.proxy.resume()
        target = "window" if signal_name == "online" else "document"
        page.evaluate(f"{target}.dispatchEvent(new Event('{signal_name}'))")
        expect(conn).to_have_attribute("data-state", "connected", timeout=15_000)
        wait_synced(page)

    # A socket that went silent while the laptop slept: the wake-up pings it, then moves on.
    silent = stack.worker_by_id(page.get_attribute("body", "data-worker"))
    silent.proc.send_signal(signal.SIGSTOP)
    try:
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_function(
            f"() => !document.body.dataset.worker.endsWith(':{silent.proc.pid}')"
            " && window.tpr.conn.ready",
            timeout=20_000,
        )
    finally:
        silent.proc.send_signal(signal.SIGCONT)
    say_text = "status"
    page.fill("#message", say_text)
    page.press("#message", "Enter")
    expect_no_pending(page)
    assert_no_page_errors(probe)
