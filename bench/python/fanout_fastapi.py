"""The fan-out as FastAPI users write it: one shared httpx.AsyncClient with its defaults (a pool
of 100 connections, 5 s timeouts that count time queued for the pool), asyncio.gather over the
upstreams in UPSTREAMS (comma-separated URLs), each result's JSON or its error."""

import asyncio
import os
import ssl
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Response

UPSTREAMS = os.environ["UPSTREAMS"].split(",")


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Over HTTPS, the upstreams' private CA (UPSTREAM_CA), as a user would give it.
    ca = os.environ.get("UPSTREAM_CA")
    app.state.client = httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca) if ca else True)
    yield
    await app.state.client.aclose()


app = FastAPI(lifespan=lifespan)


async def call(client: httpx.AsyncClient, url: str) -> dict:
    try:
        answer = await client.get(url)
        return {"ok": answer.status_code == 200, "status": answer.status_code, "body": answer.json()}
    except Exception as error:  # noqa: BLE001 - one source's failure is its result
        return {"ok": False, "error": repr(error)}


@app.get("/aggregate")
async def aggregate(response: Response):
    client = app.state.client
    sources = await asyncio.gather(*(call(client, url) for url in UPSTREAMS))
    if not all(source["ok"] for source in sources):
        response.status_code = 502  # counted as an error by the bench
    return {"sources": sources}


@app.get("/")
async def root():
    return {"Hello": "World"}
