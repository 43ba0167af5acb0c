"""A session the server no longer accepts: the page says so and starts a new one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_no_page_errors, bubbles, open_app, wait_stage, wait_synced

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
STORE_KEY = "tpr_ws.session.v1"


def test_bad_token_starts_a_new_session_and_says_so(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    old = json.loads(page.evaluate(f"localStorage.getItem('{STORE_KEY}')"))
    forged = {**old, "token": "not-the-token"}
    page.evaluate(f"localStorage.setItem('{STORE_KEY}', {json.dumps(json.dumps(forged))})")

    page.reload()
    expect(page.locator(".notice.warning")).to_contain_text("new one has started")
    wait_synced(page)
    wait_stage(page, "awaiting_upload")
    new = json.loads(page.evaluate(f"localStorage.getItem('{STORE_KEY}')"))
    assert new["session_id"] != old["session_id"]
    assert [r for r, _ in bubbles(page)] == ["bot"]
    screenshot(page, "12_session_replaced")
    assert_no_page_errors(probe)
