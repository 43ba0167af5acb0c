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


def test_an_upload_frozen_by_a_sleep_goes_on_by_itself(
    new_page: Any, stack: Any, screenshot: Any, tmp_path: Path
) -> None:
    made = generate("A", "state", seed=12, fmt="csv")
    wire = len(gzip.compress(made.data))
    page, probe = new_page()
    # A short stall limit and heartbeat, so the test need not wait out the defaults (20 s, 25 s).
    page.context.add_init_script(
        f"window.tprConfig = {{ chunkBytes: {CHUNK}, stallMs: 1500, pingEveryMs: 500,"
        " deadAfterMs: 2000 };"
    )
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    stack.proxy.throttle(UPLINK_BITS)
    before = stack.proxy.uplink.sent
    try:
        page.set_input_files(
            "#file-input",
            files=[{"name": made.file_name, "mimeType": "text/csv", "buffer": made.data}],
        )
        wait_sent(page, wire // 4)
        # The laptop sleeps: every open connection is silently dead when it wakes up.
        stack.proxy.freeze()
        at = sent(page)
        expect(page.locator(CARD)).to_have_attribute("data-waiting", "true")
        screenshot(page, "23_resumable_upload_after_a_sleep")
        wait_sent(page, at + 1)
        wait_stage(page, "select_facility_level", timeout=120_000)
    finally:
        stack.proxy.throttle(0)
        stack.proxy.cut()  # the frozen connections
    assert stack.proxy.uplink.sent - before < wire * 1.5
    expect(page.locator("#log .msg.user").last).to_contain_text(f"Uploaded {made.file_name}")
    wait_synced(page)
    assert_clean_log(page)
    assert_no_page_errors(probe)


def test_after_a_reload_an_upload_the_server_holds_whole_is_finished_without_the_file(
    new_page: Any, stack: Any
) -> None:
    import json
    import urllib.request

    import redis

    from tpr_ws.registry.keys import KeySpace

    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    session = json.loads(page.evaluate("localStorage.getItem('tpr_ws.session.v1')"))
    data = generate("A", "tiny", seed=3, fmt="csv").data
    auth = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {session['token']}"}

    def call(method: str, url: str, body: bytes = b"", **headers: str) -> Any:
        request = urllib.request.Request(
            stack.url + url, data=body or None, method=method, headers={**auth, **headers}
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            return r

    made = call(
        "POST", f"/api/sessions/{session['session_id']}/files",
        **{"Upload-Length": str(len(data)), "Idempotency-Key": "sent-whole-1"},
    )  # fmt: skip
    location = made.headers["Location"]
    call("PATCH", location, data[:-1], **{"Upload-Offset": "0",
         "Content-Type": "application/offset+octet-stream"})  # fmt: skip
    # The last byte arrived but the worker finishing it died before it could (set up through
    # the key space: the page's own HTTP requests would finish the upload).
    keys = KeySpace().session(session["session_id"]).upload("sent-whole-1")
    client = redis.Redis.from_url(stack.redis_url)
    try:
        client.append(keys.data, data[-1:])
    finally:
        client.close()
    record = {
        "session_id": session["session_id"], "key": "sent-whole-1", "url": location,
        "name": "whole.csv", "size": len(data), "last_modified": 1, "length": len(data),
        "sha256": "", "encoding": "identity",
    }  # fmt: skip
    page.evaluate(f"localStorage.setItem('tpr_ws.upload.v1', {json.dumps(json.dumps(record))})")
    page.reload()
    wait_stage(page, "select_state")  # finished without asking for the file again
    assert page.locator("#outbox .upload-card.resume").count() == 0
    expect(page.locator("#log .msg.user").last).to_contain_text("Uploaded upload")
    assert page.evaluate("localStorage.getItem('tpr_ws.upload.v1')") is None
    assert_no_page_errors(probe)
