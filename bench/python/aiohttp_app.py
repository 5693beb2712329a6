"""The same greeting on aiohttp: `python aiohttp_app.py PORT`, wait set by DELAY (s). Several
processes share the port (SO_REUSEPORT) for several workers."""

import asyncio
import os
import sys

from aiohttp import web

DELAY = float(os.environ.get("DELAY", "1"))


async def root(request: web.Request) -> web.Response:
    if DELAY:
        await asyncio.sleep(DELAY)
    return web.json_response({"Hello": "World"})


app = web.Application()
app.router.add_get("/", root)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), reuse_port=True, print=None)
