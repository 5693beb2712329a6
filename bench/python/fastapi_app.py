"""FastAPI's first example, as the README of FastAPI has it, with the wait set by DELAY (s)."""

import asyncio
import os

from fastapi import FastAPI

DELAY = float(os.environ.get("DELAY", "1"))

app = FastAPI()


@app.get("/")
async def root():
    if DELAY:
        await asyncio.sleep(DELAY)
    return {"Hello": "World"}
