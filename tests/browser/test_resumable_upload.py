"""A CSV sent over a ~250 kbit/s uplink while the connection drops twice and the page reloads
once: the upload goes on from where it was (never from zero) and the results are right."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import (
    assert_clean_log,
    assert_no_page_errors,
    choose,
    conn_states,
    expect_no_pending,
    open_app,
    record_conn_states,
    wait_stage,
    wait_synced,
)
from tpr_ws.domain.sample.generator import generate, preset_for_rows
from tpr_ws.domain.schema import AgeGroup, FacilityLevel
from tpr_ws.domain.tpr import compute_tpr
from tpr_ws.domain.workbook import parse_workbook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

UPLINK_BITS = 250_000
CHUNK = 16 * 1024  # small chunks so a short test has many (the page's default is 256 KiB)
CARD = "#outbox .upload-card:not(.resume)"


def sent(page: Any) -> int:
    return int(page.get_attribute(CARD, "data-sent") or 0)


def wait_sent(page: Any, at_least: int) -> None:
    page.wait_for_function(
        f"() => Number(document.querySelector('{CARD}')?.dataset.sent || 0) >= {at_least}",
        timeout=120_000,
    )


def state_tpr(data: bytes, name: str, state: str) -> str:
    frame = parse_workbook(data, name).frame
    summary = compute_tpr(frame, state, FacilityLevel("Primary"), AgeGroup("u5")).summary
    return f"{summary['state_tpr']:.1f}%"


def test_throttled_upload_survives_two_cuts_and_a_reload(
    new_page: Any, stack: Any, screenshot: Any, tmp_path: Path
) -> None:
    made = generate("A", preset_for_rows(30_000), seed=11, fmt="csv")  # 13 states, ~4.5 MB
    path = tmp_path / made.file_name
    path.write_bytes(made.data)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    wire = len(gzip.compress(made.data))  # about what the browser's gzip sends
    other = tmp_path / "other.csv"
    other.write_bytes(made.data[: len(made.data) // 2])

    page, probe = new_page()
    page.context.add_init_script(f"window.tprConfig = {{ chunkBytes: {CHUNK} }};")
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    stack.proxy.throttle(UPLINK_BITS)
    before = stack.proxy.uplink.sent
    page.set_input_files("#file-input", str(path))
    card = page.locator(CARD)
    expect(card).to_contain_text("compressed from")
    wait_sent(page, wire // 5)
    screenshot(page, "20_resumable_upload_sending")

    record_conn_states(page)
    for share in (2, 3):  # two drops of every connection: socket and HTTP alike
        at = sent(page)
        stack.proxy.cut()
        wait_sent(page, max(at + 1, wire * share // 5))
    wait_synced(page)
    assert conn_states(page).count("connected") >= 2  # the socket was dropped and came back
    screenshot(page, "21_resumable_upload_after_two_drops")

    at = sent(page)
    page.reload()
    wait_synced(page)
    resume = page.locator("#outbox .upload-card.resume")
    expect(resume).to_contain_text(made.file_name)
    expect(resume).to_contain_text("Choose the same file again")
    page.set_input_files("#file-input", str(other))  # the wrong file is caught
    expect(resume).to_contain_text('That is "other.csv"')
    screenshot(page, "22_resumable_upload_after_reload")
    page.set_input_files("#file-input", str(path))
    expect(card).to_be_visible()
    page.wait_for_function(
        f"() => Number(document.querySelector('{CARD}')?.dataset.sent || 0) >= {at}"
    )

    wait_stage(page, "select_state", timeout=180_000)
    stack.proxy.throttle(0)
    uplink = stack.proxy.uplink.sent - before
    # Nothing was sent twice but what the drops cut short: far less than two whole files.
    assert uplink < wire * 1.5, (uplink, wire)
    expect(page.locator("#log .msg.user").last).to_contain_text(f"Uploaded {made.file_name}")
    choose(page, "Kano")
    wait_stage(page, "select_facility_level")
    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    choose(page, "Under 5")
    wait_stage(page, "results")
    expect(page.locator(".results .big-value").last).to_have_text(
        state_tpr(made.data, made.file_name, "Kano")
    )
    expect_no_pending(page)
    expect(page.locator("#outbox .upload-card")).to_have_count(0)
    assert_clean_log(page)
    assert page.evaluate("localStorage.getItem('tpr_ws.upload.v1')") is None
    assert_no_page_errors(probe)
