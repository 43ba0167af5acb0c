"""The page runs under its Content-Security-Policy: the whole workflow, with nothing refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose, expect_no_pending, open_app, wait_stage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# Before any of the page's own scripts: remember every policy violation the page meets.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));
"""


def test_the_workflow_runs_under_the_policy_with_nothing_refused(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    page.add_init_script(WATCH_VIOLATIONS)
    response = page.goto(stack.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    open_app(page, stack.url)
    page.get_by_role("button", name="Use the sample data").first.click()
    wait_stage(page, "select_state")
    choose(page, "Adamawa")
    wait_stage(page, "select_facility_level")
    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    choose(page, "Under 5")
    wait_stage(page, "results")
    expect_no_pending(page)
    # A Markdown table aligns its numbers by a class (the policy refuses a style attribute).
    page.evaluate(
        """async (src) => {
          const { renderMarkdown } = await import('/static/js/markdown.js');
          document.querySelector('#log').append(renderMarkdown(src));
        }""",
        "| n | c |\n|---:|:-:|\n| 1 | x |",
    )
    expect(page.locator("#log .md-table td.md-right")).to_have_css("text-align", "right")
    expect(page.locator("#log .md-table td.md-center")).to_have_css("text-align", "center")
    screenshot(page, "10_results_under_the_policy")
    assert page.evaluate("window.__violations") == []
    assert not probe.errors, probe.errors


def test_a_policy_violation_is_seen(new_page: Any, stack: Any) -> None:
    """The watch above can fail: an inline style is refused and reported."""
    page, probe = new_page()
    page.add_init_script(WATCH_VIOLATIONS)
    open_app(page, stack.url)
    page.evaluate("document.body.append(Object.assign(document.createElement('style'), "
                  "{textContent: 'body { color: red }'}))")  # fmt: skip
    page.wait_for_function("window.__violations.length > 0")
    assert "style-src" in page.evaluate("window.__violations")[0]
    assert any("Content Security Policy" in e for e in probe.errors)
