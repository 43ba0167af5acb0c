"""Uploads by drag and drop: a broken file is explained, a good one moves the workflow on."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_clean_log, bubbles, expect_no_pending, open_app, wait_stage
from tests.domain.factories import csv_bytes, table

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

DROP = """async ([name, b64, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  const target = document.querySelector('.dropzone');
  const fire = (kind) => target.dispatchEvent(
    new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true }));
  fire('dragenter');
  const overlayShown = !document.getElementById('drop-overlay').hidden;
  fire('dragover');
  fire('drop');
  return overlayShown;
}"""


def drop_file(page: Any, name: str, data: bytes, mime: str) -> bool:
    return bool(page.evaluate(DROP, [name, base64.b64encode(data).decode(), mime]))


def test_drag_and_drop_broken_then_good_file(new_page: Any, stack: Any, screenshot: Any) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")

    assert drop_file(
        page, "broken.xlsx", b"this is not a workbook at all\n" * 40, "application/octet-stream"
    )
    expect(page.locator("#drop-overlay")).to_be_hidden()
    bot = page.locator("#log article.msg.bot:not(.progress)").last
    expect(bot).to_contain_text("broken.xlsx", timeout=30_000)
    expect_no_pending(page)
    assert page.get_attribute("body", "data-stage") == "awaiting_upload"
    assert page.locator("#log .msg.progress").count() == 1
    screenshot(page, "13_broken_upload_explained")

    good = csv_bytes(table(6))
    drop_file(page, "clean export.csv", good, "text/csv")
    wait_stage(page, "select_facility_level")
    expect(page.locator("#file-name")).to_have_text("clean export.csv")
    expect_no_pending(page)
    users = [t for r, t in bubbles(page) if r == "user"]
    assert len(users) == 2 and all(re.match(r"Uploaded ", t) for t in users), users
    assert page.locator("#log .msg.progress.done").count() == 2
    assert (
        page.locator("#outbox .upload-card").count() == 0
    )  # the chat explained it; no second copy
    assert_clean_log(page)
    # The browser logs the refused upload's HTTP 422 itself; nothing else may go wrong.
    assert not [e for e in probe.errors if "status of 422" not in e], probe.errors


def test_not_a_spreadsheet_is_refused_before_sending(new_page: Any, stack: Any) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    drop_file(page, "notes.txt", b"hello", "text/plain")
    card = page.locator("#outbox .upload-card.failed")
    expect(card).to_contain_text("not an Excel or CSV file")
    card.get_by_role("button", name="Dismiss").click()
    expect(card).to_have_count(0)
    assert [r for r, _ in bubbles(page)] == ["bot"]
    assert not probe.errors, probe.errors


def test_a_slow_upload_shows_bytes_sent_then_the_server_progress(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    from tpr_ws.domain.sample.generator import generate

    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    big = generate("A", "state", fmt="csv")  # one state, about 1.5 MB
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 40_000},
    )
    page.set_input_files(
        "#file-input", files=[{"name": big.file_name, "mimeType": "text/csv", "buffer": big.data}]
    )
    card = page.locator("#outbox .upload-card")
    # A CSV is sent gzip-compressed: the bytes counted are the compressed ones.
    expect(card).to_contain_text(
        re.compile(r"Sending… [\d.]+ (KB|MB) of [\d.]+ (KB|MB) \(\d+%\) · compressed from 1\.\d MB")
    )
    bar = card.locator('[role="progressbar"]')
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^([1-9]|[1-9]\d)$"))
    screenshot(page, "14_upload_in_progress")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    wait_stage(page, "select_facility_level", timeout=120_000)
    expect(page.locator("#outbox .upload-card")).to_have_count(0)
    expect(page.locator("#log .msg.progress.done")).to_have_count(1)
    expect(page.locator("#file-name")).to_have_text(big.file_name)
    assert_clean_log(page)
    assert not probe.errors, probe.errors
