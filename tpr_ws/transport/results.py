"""HTTP endpoints of a session's analyses: the result object (the page's ward table, cacheable
forever), short-lived signed download links, and the downloads (by result key, or the latest).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from typing import Final

import orjson
from aiohttp import web

from tpr_ws.domain.report_html import content_security_policy
from tpr_ws.downloads import FORMATS, Download
from tpr_ws.errors import ErrorCode, NotFound
from tpr_ws.transport import auth
from tpr_ws.transport.keys import BACKEND, SETTINGS

_KEY: Final = re.compile(r"^[0-9a-f]{64}$")
IMMUTABLE: Final = "private, max-age=31536000, immutable"
LATEST: Final = {"results.csv": "csv", "results.xlsx": "xlsx", "report.html": "html",
                 "report.md": "md"}  # fmt: skip


def _json(payload: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json",
                        headers=headers)  # fmt: skip


def _key(request: web.Request) -> str:
    key = request.match_info["key"]
    if not _KEY.match(key):
        raise NotFound("No such analysis.", code=ErrorCode.UNKNOWN_RESULT)
    return key


async def _state(request: web.Request, sid: str) -> bytes:
    state = await request.app[BACKEND].require().storage.load_state(sid)
    if state is None:
        raise auth.unknown_session()
    return state


def _owner(request: web.Request) -> str:
    """The session of the URL, if the request's Bearer token owns it."""
    return auth.owned_session(request, request.app[SETTINGS].secret)


async def result_object(request: web.Request) -> web.StreamResponse:
    """The stored result object (JSON: summary and ward rows), as stored: its bytes never
    change under its key, so the browser may keep it forever."""
    sid, key = _owner(request), _key(request)
    analysis = request.app[BACKEND].require().downloads.owned(await _state(request, sid), key)
    store = request.app[BACKEND].require().analyses
    data = await store.raw(key)
    served = key
    if data is None:  # expired: computed again (same bytes unless the rule changed since)
        stored = await store.get_or_compute(analysis.dataset, analysis.state, analysis.level,
                                            analysis.age, key=key)  # fmt: skip
        served, data = stored.key, await store.raw(stored.key)
        if data is None:
            raise NotFound("This analysis is no longer stored.", code=ErrorCode.UNKNOWN_RESULT)
    etag = '"' + hashlib.sha256(data).hexdigest()[:40] + '"'
    headers = {"ETag": etag, "Vary": "Accept-Encoding",
               "Cache-Control": IMMUTABLE if served == key else "no-cache"}  # fmt: skip
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=data, content_type="application/json", headers=headers)
    return web.Response(body=gzip.decompress(data), content_type="application/json",
                        headers=headers)  # fmt: skip


async def links(request: web.Request) -> web.Response:
    """Signed links to the analysis's downloads, valid for TPR_WS_DOWNLOAD_LINK_TTL_S."""
    sid, key = _owner(request), _key(request)
    request.app[BACKEND].require().downloads.owned(await _state(request, sid), key)
    settings = request.app[SETTINGS]
    expires = int(time.time()) + settings.download_link_ttl_s
    base = f"/api/sessions/{sid}/results/{key}"
    out = {
        fmt: f"{base}/{fmt}?{auth.sign_link(settings.secret, sid, key, fmt, expires)}"
        for fmt in FORMATS
    }
    return _json({"expires_at": expires, "links": out}, {"Cache-Control": "no-store"})


async def download(request: web.Request) -> web.Response:
    """One analysis in one format: with a signed link, or with the Bearer token."""
    sid, key = auth.check_session_id(request.match_info["sid"]), _key(request)
    fmt = request.match_info["fmt"]
    secret = request.app[SETTINGS].secret
    if not auth.link_signed(request, secret, sid, key, fmt):
        auth.verify(secret, sid, auth.request_token(request))
    file = (
        await request.app[BACKEND].require().downloads.render(await _state(request, sid), key, fmt)
    )
    return _attachment(file)


async def latest(request: web.Request) -> web.Response:
    """The session's latest results (Bearer token only: for scripts)."""
    sid = _owner(request)
    fmt = LATEST[request.match_info["name"]]
    return _attachment(
        await request.app[BACKEND].require().downloads.render(await _state(request, sid), None, fmt)
    )


def _attachment(file: Download) -> web.Response:
    headers = {
        "Content-Type": file.content_type,
        "Content-Disposition": f'attachment; filename="{file.file_name}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if file.content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = content_security_policy()
    return web.Response(body=file.body, headers=headers)


def add_routes(app: web.Application) -> None:
    key = r"{key:[0-9a-f]{64}}"
    formats = "|".join(FORMATS)
    app.router.add_get(f"/api/sessions/{{sid}}/results/{key}", result_object)
    app.router.add_get(f"/api/sessions/{{sid}}/results/{key}/links", links)
    app.router.add_get(f"/api/sessions/{{sid}}/results/{key}/{{fmt:{formats}}}", download)
    names = "|".join(re.escape(n) for n in LATEST)
    app.router.add_get(f"/api/sessions/{{sid}}/{{name:{names}}}", latest)
