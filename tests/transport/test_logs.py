"""Session tokens are never written to logs, even when sent as `?token=` on download links."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


async def test_download_links_leave_no_token_in_the_access_log(
    worker_factory, client_factory
) -> None:
    (w,) = worker_factory(1)
    c = client_factory()
    await c.create_session(w.url)
    await c.connect(w.url)
    for reply in ("sample", "Adamawa", "all", "all ages"):
        await c.say(reply)
    await c.wait_stage("results")
    status, body, _ = await c.download(w.url, "results.csv")
    assert status == 200 and body
    w.stop()
    log = w.log_path.read_text()
    assert f"/api/sessions/{c.sid}/results.csv" in log  # the request was logged...
    assert c.token not in log  # ...without its token
