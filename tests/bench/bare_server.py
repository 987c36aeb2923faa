"""The baseline: a bare aiohttp handler that only parses the JSON and answers 200."""

from __future__ import annotations

import json
import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    json.loads(await request.read())
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/webhook", handle)
    app.router.add_get("/readyz", lambda _: web.Response(text="ok"))  # type: ignore[arg-type,return-value]
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
