"""Secrets never reach the logs: a download link's signature is not logged (requests are logged
by path only), and a session token is refused in a URL (so it is never in one)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


async def test_signed_download_links_leave_no_signature_in_the_access_log(
    worker_factory, client_factory, http
) -> None:
    (w,) = worker_factory(1)
    c = client_factory()
    await c.create_session(w.url)
    await c.connect(w.url)
    for reply in ("sample", "Adamawa", "all", "all ages"):
        await c.say(reply)
    results = await c.wait_stage("results")
    links = await c.links(w.url, results["data"]["analysis"]["key"])
    signed = links["links"]["csv"]
    async with http.get(w.url + signed) as r:  # no Authorization: the link alone opens it
        assert r.status == 200 and await r.read()
    async with http.get(f"{w.url}/api/sessions/{c.sid}/results.csv?token={c.token}") as r:
        assert r.status == 401
        assert (await r.json())["error"]["code"] == "token_in_url"
    w.stop()
    log = w.log_path.read_text()
    assert signed.split("?")[0] in log  # the request was logged...
    assert signed.split("sig=")[1] not in log  # ...without its signature
    assert c.token not in log
    assert f" INFO {w.proc.pid} tpr_ws.access GET {signed.split('?')[0]} 200" in log  # levelled
