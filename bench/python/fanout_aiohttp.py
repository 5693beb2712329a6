"""The fan-out on aiohttp: one shared ClientSession with no connection limit (the default of 100
per session would hold it to about 66 aggregates a second here), asyncio.gather over the upstreams
in UPSTREAMS (comma-separated URLs). `python fanout_aiohttp.py PORT`; several processes share the
port."""

import asyncio
import os
import ssl
import sys

import aiohttp
from aiohttp import web

UPSTREAMS = os.environ["UPSTREAMS"].split(",")


async def call(session: aiohttp.ClientSession, url: str) -> dict:
    try:
        async with session.get(url) as answer:
            return {"ok": answer.status == 200, "status": answer.status, "body": await answer.json()}
    except Exception as error:  # noqa: BLE001 - one source's failure is its result
        return {"ok": False, "error": repr(error)}


async def aggregate(request: web.Request) -> web.Response:
    session = request.app["session"]
    results = await asyncio.gather(*(call(session, url) for url in UPSTREAMS))
    status = 200 if all(result["ok"] for result in results) else 502  # counted as an error
    return web.json_response({"sources": results}, status=status)


async def root(request: web.Request) -> web.Response:
    return web.json_response({"Hello": "World"})


async def session(app: web.Application):
    # Over HTTPS, the upstreams' private CA (UPSTREAM_CA), as a user would give it.
    ca = os.environ.get("UPSTREAM_CA")
    tls = ssl.create_default_context(cafile=ca) if ca else True
    app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=tls))
    yield
    await app["session"].close()


app = web.Application()
app.cleanup_ctx.append(session)
app.router.add_get("/aggregate", aggregate)
app.router.add_get("/", root)

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), reuse_port=True, print=None)
