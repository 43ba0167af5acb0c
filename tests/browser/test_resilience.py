"""Reloads, a killed worker and two pages on one session: nothing lost, nothing shown twice."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import (
    assert_clean_log,
    assert_no_page_errors,
    bubbles,
    choose,
    conn_states,
    expect_no_pending,
    open_app,
    record_conn_states,
    say,
    wait_stage,
    wait_synced,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
STORE_KEY = "tpr_ws.session.v1"


def open_sockets(worker: Any) -> float:
    """The worker's open WebSockets, from its /metrics."""
    with urllib.request.urlopen(worker.url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    return float(re.search(r"^tpr_ws_sockets (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    """Poll server-side state (not the page) until `predicate` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def start_sample(page: Any) -> None:
    wait_stage(page, "awaiting_upload")
    page.get_by_role("button", name="Use the sample data").first.click()
    wait_stage(page, "select_state")
    expect_no_pending(page)


def test_reload_mid_workflow_restores_the_conversation_once(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    start_sample(page)
    choose(page, "Adamawa")
    wait_stage(page, "select_facility_level")
    expect_no_pending(page)
    before = bubbles(page)
    session_before = page.evaluate(f"localStorage.getItem('{STORE_KEY}')")

    page.reload()
    wait_synced(page)
    wait_stage(page, "select_facility_level")
    assert bubbles(page) == before
    assert_clean_log(page)
    assert (
        json.loads(page.evaluate(f"localStorage.getItem('{STORE_KEY}')"))["session_id"]
        == json.loads(session_before)["session_id"]
    )
    expect(page.locator("#file-name")).to_have_text(re.compile(r"\.xlsx$"))
    screenshot(page, "06_after_reload")

    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    choose(page, "Under 5")
    wait_stage(page, "results")
    expect_no_pending(page)
    assert_clean_log(page)
    after = bubbles(page)
    assert after[: len(before)] == before
    assert [t for r, t in after if r == "user"] == [t for r, t in before if r == "user"] + [
        "Primary",
        "Under 5",  # a clicked choice shows its label; the server matched its value
    ]
    assert not probe.errors, probe.errors


def test_unacknowledged_message_survives_a_reload_and_is_sent_once(
    new_page: Any, stack: Any
) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    start_sample(page)
    # The next say is lost on the way (the frame never leaves the page).
    page.evaluate(
        """() => {
            const send = WebSocket.prototype.send;
            WebSocket.prototype.send = function (data) {
              if (String(data).includes('"say"')) { window.__lostId = JSON.parse(data).id; return; }
              return send.call(this, data);
            };
        }"""
    )
    say(page, "Kano")
    page.wait_for_function("window.__lostId")
    lost_id = page.evaluate("window.__lostId")
    stored = json.loads(page.evaluate(f"localStorage.getItem('{STORE_KEY}')"))
    assert stored["outbox"] == [{"id": lost_id, "text": "Kano", "label": None}]

    page.reload()  # a fresh page, with the message still in its outbox
    wait_synced(page)
    wait_stage(page, "select_facility_level")
    expect_no_pending(page)
    users = page.eval_on_selector_all(
        "#log article.msg.user", "els => els.map(e => [e.dataset.replyTo, e.innerText])"
    )
    assert [u for u in users if u[1] == "Kano"] == [[lost_id, "Kano"]]
    assert json.loads(page.evaluate(f"localStorage.getItem('{STORE_KEY}')"))["outbox"] == []
    assert_clean_log(page)
    assert not probe.errors, probe.errors


def test_killed_worker_page_reconnects_elsewhere_and_delivers_once(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    start_sample(page)
    first_worker = page.get_attribute("body", "data-worker")
    assert first_worker
    record_conn_states(page)
    before = bubbles(page)

    # Hold new connections at the proxy so the page is visibly disconnected while we type.
    stack.proxy.pause()
    stack.worker_by_id(first_worker).kill(signal.SIGKILL)
    expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    expect(page.locator("#conn")).to_contain_text("Reconnecting")
    say(page, "Adamawa")
    pending = page.locator("#outbox article.pending")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Waiting for the connection")
    screenshot(page, "07_reconnecting_with_pending_message")
    stack.proxy.resume()

    expect(page.locator("#conn")).to_have_attribute("data-state", "connected", timeout=30_000)
    wait_stage(page, "select_facility_level")
    expect_no_pending(page)
    second_worker = page.get_attribute("body", "data-worker")
    assert second_worker and second_worker != first_worker
    assert "reconnecting" in conn_states(page)
    after = bubbles(page)
    assert after[: len(before)] == before
    assert [t for r, t in after if r == "user"].count("Adamawa") == 1
    assert_clean_log(page)

    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    choose(page, "Under 5")
    wait_stage(page, "results")
    expect_no_pending(page)
    assert_clean_log(page)
    assert_no_page_errors(probe)


def test_worker_shutting_down_sends_the_page_elsewhere_at_once(new_page: Any, stack: Any) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    start_sample(page)
    leaving = stack.worker_by_id(page.get_attribute("body", "data-worker"))
    record_conn_states(page)
    leaving.kill(signal.SIGTERM)  # graceful: sockets are closed with 1001 (going away)
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    page.wait_for_function("window.__connStates.includes('reconnecting')")
    assert stack.worker_by_id(page.get_attribute("body", "data-worker")) is not leaving
    choose(page, "Kano")
    wait_stage(page, "select_facility_level")
    expect_no_pending(page)
    assert [t for r, t in bubbles(page) if r == "user"] == ["Use the sample data", "Kano"]
    assert_clean_log(page)
    assert_no_page_errors(probe)


def test_stalled_worker_is_detected_and_the_message_delivered_once(
    new_page: Any, stack: Any
) -> None:
    page, probe = new_page()
    # Short heartbeat so a silent socket is declared dead within seconds (defaults: 10 s / 25 s).
    page.context.add_init_script(
        "window.tprConfig = { pingEveryMs: 400, deadAfterMs: 2000, welcomeTimeoutMs: 2000 };"
    )
    open_app(page, stack.url)
    start_sample(page)
    stalled = stack.worker_by_id(page.get_attribute("body", "data-worker"))
    sockets_before = open_sockets(stalled)
    before = bubbles(page)
    record_conn_states(page)
    stalled.proc.send_signal(signal.SIGSTOP)
    try:
        say(page, "Adamawa")  # goes into the stalled worker's socket buffer
        wait_stage(page, "select_facility_level")
        expect_no_pending(page)
        assert "reconnecting" in conn_states(page)
        assert stack.worker_by_id(page.get_attribute("body", "data-worker")) is not stalled
    finally:
        stalled.proc.send_signal(signal.SIGCONT)
    # The resumed worker now reads the same message id from the abandoned socket: once it is
    # done with that socket, a new message (served after anything it did) shows it changed
    # nothing.
    wait_until(lambda: open_sockets(stalled) < sockets_before)
    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    expect_no_pending(page)
    after = bubbles(page)
    assert after[: len(before)] == before
    assert [t for r, t in after if r == "user"] == ["Use the sample data", "Adamawa", "Primary"]
    assert_clean_log(page)
    assert_no_page_errors(probe)


def test_offline_then_online_delivers_the_message_typed_offline(new_page: Any, stack: Any) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    start_sample(page)
    page.context.set_offline(True)
    expect(page.locator("#conn")).to_have_attribute("data-state", "offline")
    expect(page.locator("#conn")).to_contain_text("Offline")
    say(page, "Kano")
    expect(page.locator("#outbox article.pending")).to_contain_text("Waiting for the connection")
    page.context.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected")
    wait_stage(page, "select_facility_level")
    expect_no_pending(page)
    assert [t for r, t in bubbles(page) if r == "user"] == ["Use the sample data", "Kano"]
    assert_clean_log(page)
    assert_no_page_errors(probe)


def test_two_pages_on_one_session_stay_in_sync(
    new_page: Any, stack: Any, screenshot: Any, browser: Any
) -> None:
    page_a, probe_a = new_page()
    open_app(page_a, stack.url)
    wait_stage(page_a, "awaiting_upload")
    stored = page_a.evaluate(f"localStorage.getItem('{STORE_KEY}')")
    session = json.loads(stored)

    # A second person's browser (its own context) joins the same session.
    page_b, probe_b = new_page()
    shared = json.dumps({"session_id": session["session_id"], "token": session["token"]})
    page_b.context.add_init_script(
        f"localStorage.setItem({json.dumps(STORE_KEY)}, {json.dumps(shared)});"
    )
    open_app(page_b, stack.url)
    wait_stage(page_b, "awaiting_upload")
    assert bubbles(page_b) == bubbles(page_a)

    page_a.get_by_role("button", name="Use the sample data").first.click()
    wait_stage(page_b, "select_state")
    choose(page_b, "Kano")
    wait_stage(page_a, "select_facility_level")
    choose(page_a, re.compile("^.?All"))
    wait_stage(page_b, "select_age_group")
    choose(page_b, "All ages")
    wait_stage(page_a, "results")
    wait_stage(page_b, "results")
    for page in (page_a, page_b):
        expect_no_pending(page)
        assert_clean_log(page)
    assert bubbles(page_a) == bubbles(page_b)
    expect(page_b.locator(".results .big-value").last).to_have_text(
        page_a.locator(".results .big-value").last.inner_text()
    )
    screenshot(page_b, "08_second_page_in_sync")
    assert not probe_a.errors and not probe_b.errors, (probe_a.errors, probe_b.errors)


def test_burst_over_the_rate_limit_is_delivered_once_each(new_page: Any, stack: Any) -> None:
    page, probe = new_page()
    received: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: received.append(str(payload))),
    )
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    texts = [f"hello {n}" for n in range(26)]  # well over the stack's 10 per 5 s
    for text in texts:
        say(page, text)
    expect_no_pending(page, timeout=90_000)
    users = [t for r, t in bubbles(page) if r == "user"]
    assert users == texts  # each once, in the order typed, refused ones retried in place
    assert page.locator("#log .msg.failed, #outbox .msg").count() == 0
    assert any('"rate_limited"' in f for f in received), "the burst never met the rate limit"
    assert_clean_log(page)
    assert not probe.errors, probe.errors
