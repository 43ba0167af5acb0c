"""What the browser tests do on the page, in the user's terms (clicks, typing, reading)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

BOT = "#log article.msg.bot:not(.progress)"


def open_app(page: Any, url: str) -> None:
    """Load the page and wait until it is connected and has replayed the conversation."""
    page.goto(url + "/")
    wait_synced(page)


def wait_synced(page: Any, timeout: float = 30_000) -> None:
    page.wait_for_selector('#conn[data-state="connected"]', timeout=timeout)
    page.wait_for_selector('body[data-synced="true"]', timeout=timeout)


def wait_stage(page: Any, stage: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(f'body[data-stage="{stage}"]', state="attached", timeout=timeout)


def choose(page: Any, label: str | re.Pattern[str]) -> None:
    """Click a choice button of the current question."""
    options = page.locator(".options:not(.stale) button.option")
    options.filter(has_text=label).first.click()


def say(page: Any, text: str) -> None:
    page.fill("#message", text)
    page.press("#message", "Enter")


def seqs(page: Any) -> list[int]:
    """The seq of every committed event shown, in page order (a progress bar shows several)."""
    found = page.eval_on_selector_all(
        "#log [data-seq]", "els => els.map(e => e.dataset.seqs || e.dataset.seq)"
    )
    return sorted(int(s) for group in found for s in group.split())


def bubbles(page: Any) -> list[tuple[str, str]]:
    """(role, text) of every committed message shown, progress bars excluded."""
    return [
        (r, t)
        for r, t in page.eval_on_selector_all(
            "#log article.msg:not(.progress)",
            "els => els.map(e => [e.dataset.role, e.querySelector('.bubble').innerText])",
        )
    ]


def expect_no_pending(page: Any, timeout: float = 30_000) -> None:
    expect(page.locator("#outbox article.pending")).to_have_count(0, timeout=timeout)


def assert_clean_log(page: Any) -> None:
    """Every seq from 1 to the last appears exactly once."""
    shown = seqs(page)
    assert shown == list(range(1, len(shown) + 1)), f"seqs shown: {shown}"
    # (An upload's progress card sits under its "Uploaded ..." line, after it by design.)
    firsts = [
        int(s)
        for s in page.eval_on_selector_all(
            "#log [data-seq]:not(.progress)", "els => els.map(e => e.dataset.seq)"
        )
    ]
    assert firsts == sorted(firsts), f"out of order: {firsts}"


def record_conn_states(page: Any) -> None:
    """From now on, remember every connection state the page shows (some last milliseconds)."""
    page.evaluate(
        """() => {
            const conn = document.getElementById('conn');
            window.__connStates = [];
            new MutationObserver(() => window.__connStates.push(conn.dataset.state))
              .observe(conn, { attributes: true, attributeFilter: ['data-state'] });
        }"""
    )


def conn_states(page: Any) -> list[str]:
    return list(page.evaluate("window.__connStates"))


def assert_no_page_errors(probe: Any) -> None:
    """No script errors on the page (a refused connection to a killed worker is expected)."""
    assert not [e for e in probe.errors if "Failed to load resource" not in e], probe.errors


def settle(page: Any, timeout: float = 10_000) -> None:
    """Wait until a failing image load made now has fired its error event (and two frames have
    been drawn): an injected `<img src=x onerror=...>` made earlier has had its chance too."""
    page.evaluate(
        """() => {
          window.__settled = false;
          const img = new Image();
          img.onerror = img.onload = () => requestAnimationFrame(() =>
            requestAnimationFrame(() => { window.__settled = true; }));
          img.src = '/healthz?settle=' + Math.random();  // 200, not an image: an error event
        }"""
    )
    page.wait_for_function("() => window.__settled === true", timeout=timeout)  # no eval: CSP
