"""Browser-test harness: real workers behind a round-robin proxy, and a real Chromium.

The stack is the product as deployed, shrunk onto loopback: the suite's Redis-protocol server,
three `python -m tpr_ws worker` processes sharing one secret, and `proxy.RoundRobinProxy` in
front, so the page's origin is the proxy and each new connection may reach another worker.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.proxy import RoundRobinProxy
from tests.harness import WorkerProcess
from tpr_ws.embedded import EmbeddedRedis

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WORKER_LOGS = Path(__file__).resolve().parents[2] / "artifacts" / "browser-logs"
WORKERS = 3
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    """The running product: a proxy URL and the workers behind it."""

    proxy: RoundRobinProxy
    redis_url: str
    secret: str
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.proxy.url

    def _env(self) -> dict[str, str]:
        return {
            "TPR_WS_ALLOWED_ORIGINS": self.proxy.url,
            # A tight rate limit (2 messages/s, bursts of 10) so a typing burst meets it.
            "TPR_WS_RATE_LIMIT_MESSAGES": "10", "TPR_WS_RATE_LIMIT_WINDOW_S": "5",
            # Every page of the run is one client address (127.0.0.1) on one Redis for longer
            # than an hour: per-client windows would count the whole suite as one user.
            "TPR_WS_NEW_SESSIONS_PER_CLIENT": "100000",
            "TPR_WS_RATE_LIMIT_CLIENT_MESSAGES": "100000",
            "TPR_WS_UPLOAD_QUOTA_BYTES": str(1 << 40),
        }  # fmt: skip

    def start_workers(self) -> None:
        """Start workers until WORKERS are alive (replacing any a test killed)."""
        self.workers = [w for w in self.workers if w.alive]
        fresh = [
            WorkerProcess(self.redis_url, self.secret, self.log_dir, **self._env()).launch()
            for _ in range(WORKERS - len(self.workers))
        ]
        for w in fresh:
            w.wait_ready()
        self.workers += fresh
        self.proxy.set_backends([("127.0.0.1", w.port) for w in self.workers])

    def worker_by_id(self, worker_id: str) -> WorkerProcess:
        """The process behind a welcome frame's `worker` ("<host>:<pid>")."""
        pid = int(worker_id.rsplit(":", 1)[-1])
        for w in self.workers:
            if w.proc.pid == pid:
                return w
        raise LookupError(f"no worker with pid {pid} among {[w.proc.pid for w in self.workers]}")

    def stop(self) -> None:
        for w in self.workers:
            w.kill(signal.SIGTERM)
        self.proxy.stop()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("TPR_WS_REQUIRE_BROWSER"):  # CI installs it: a missing one is a failure
            pytest.fail(f"TPR_WS_REQUIRE_BROWSER is set but there is no browser at {CHROMIUM}")
        pytest.skip(f"no browser at {CHROMIUM}")
    return CHROMIUM


# Package scope: the stack and the browser stop when the browser tests end. (Sync Playwright keeps
# its asyncio loop marked as running in the main thread while it lives, which would break the
# async tests of later packages.)
@pytest.fixture(scope="package")
def _stack(chromium_path: Path, redis_server: EmbeddedRedis) -> Iterator[Stack]:
    if not redis_server.running:
        redis_server.start()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SCREENSHOTS.glob("FAILED_*.png"):  # left by an earlier run
        stale.unlink()
    proxy = RoundRobinProxy()
    proxy.start()
    # Worker logs go to artifacts/ (tmp dirs are pruned by other pytest runs on the machine).
    WORKER_LOGS.mkdir(parents=True, exist_ok=True)
    stack = Stack(proxy, redis_server.url, secrets.token_urlsafe(24), WORKER_LOGS)
    try:
        stack.start_workers()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(_stack: Stack) -> Stack:
    """The shared stack with all its workers alive and the proxy serving."""
    if not _stack.redis_url or not _stack.workers:
        pytest.fail("stack not started")
    _stack.proxy.resume()
    _stack.proxy.throttle(0)
    _stack.start_workers()
    return _stack


@pytest.fixture(scope="package")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageProbe:
    """What a page did that the user would notice: script errors and dialogs."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_page(
    browser: Any, stack: Stack, request: pytest.FixtureRequest
) -> Iterator[Callable[..., tuple[Any, PageProbe]]]:
    """Factory: a fresh browser context + page (phone or desktop size) on the stack's URL.
    A failed test leaves a screenshot of each of its pages in artifacts/screenshots/."""
    contexts: list[Any] = []
    pages: list[Any] = []

    def make(*, width: int = 1100, height: int = 850, context: Any = None) -> tuple[Any, PageProbe]:
        if context is None:
            context = browser.new_context(
                viewport={"width": width, "height": height}, accept_downloads=True
            )
            contexts.append(context)
        page = context.new_page()
        probe = PageProbe()
        page.on("pageerror", lambda exc: probe.errors.append(str(exc)))
        page.on(
            "console",
            lambda m: (
                probe.errors.append(m.text)
                if m.type == "error" and "WebSocket" not in m.text
                else None
            ),
        )

        def on_dialog(dialog: Any) -> None:
            probe.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.set_default_timeout(30_000)
        pages.append(page)
        return page, probe

    yield make
    if request.node.stash.get(_FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for n, page in enumerate(pages):
            with contextlib.suppress(Exception):
                page.screenshot(
                    path=str(SCREENSHOTS / f"FAILED_{request.node.name}_{n}.png"), full_page=True
                )
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot to artifacts/screenshots/<name>.png (test artefacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # Sticky header and composer would be painted mid-page in a full-page capture. Through the
    # CSSOM: the page's Content-Security-Policy refuses an added <style> element.
    unstick = """(on) => document.querySelectorAll('.masthead, .composer-bar').forEach(
        (el) => on ? el.style.setProperty('position', 'static', 'important')
                   : el.style.removeProperty('position'))"""

    def save(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.evaluate(unstick, True)
        try:
            page.screenshot(path=str(path), full_page=True, animations="disabled")
        finally:
            page.evaluate(unstick, False)
        return path

    return save
