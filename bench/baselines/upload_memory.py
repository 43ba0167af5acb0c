"""Baseline for bench/uploads.py: an upload handler that reads the body into memory, as the
server did before uploads were spooled to disk (no stall deadline, no cap).

    python -m bench.baselines.upload_memory <port>
"""

from __future__ import annotations

import sys

from aiohttp import BodyPartReader, web


async def upload(request: web.Request) -> web.Response:
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.name == "file":
            chunks = []
            while chunk := await part.read_chunk(256 * 1024):
                chunks.append(chunk)
            return web.json_response({"size": len(b"".join(chunks))}, status=202)
    return web.json_response({}, status=400)


def main() -> None:
    app = web.Application(client_max_size=1024**3)
    app.router.add_post("/api/sessions/{sid}/upload", upload)
    app.router.add_get("/readyz", lambda _: web.json_response({"status": "ready"}))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
