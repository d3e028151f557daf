"""A FastAPI service instrumented by slokit.asgi, configured by the test through env vars.

``SLOKIT_TEST_SPEC``: path of a spec; ``SLOKIT_TEST_OPTIONS``: JSON of keyword options, with
two test-only keys: ``access_log_file`` (a path the access log is appended to) and
``checks_file`` (a path whose content decides a custom check: "ok" passes, else it fails).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from slokit.asgi import JsonLogFormatter, instrument

app = FastAPI()
app_log = logging.getLogger("service")
_app_log_file = os.environ.get("SLOKIT_TEST_APP_LOG")
_handler = logging.FileHandler(_app_log_file) if _app_log_file else logging.StreamHandler()
_handler.setFormatter(JsonLogFormatter())
app_log.addHandler(_handler)
app_log.setLevel(logging.INFO)
app_log.propagate = False


@app.get("/items/{item_id}")
async def item(item_id: str) -> dict[str, str]:
    return {"id": item_id}


@app.get("/slow")
async def slow(ms: int = 100) -> dict[str, int]:
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


@app.post("/upload")
async def upload(request: Request) -> dict[str, int]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return {"received": size}


@app.post("/digest")
async def digest(request: Request) -> dict[str, Any]:
    """What arrived, byte for byte: a body replayed after a read-ahead must be identical."""
    hasher = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        hasher.update(chunk)
        size += len(chunk)
    return {"received": size, "sha256": hasher.hexdigest()}


@app.get("/boom")
async def boom() -> dict[str, str]:
    raise RuntimeError("boom")


@app.get("/status/{code}")
async def status(code: int) -> JSONResponse:
    return JSONResponse({"status": code}, status_code=code)


@app.get("/outgoing")
async def outgoing() -> dict[str, Any]:
    """What a call to another service made from here would carry."""
    from slokit.asgi import outgoing_headers
    from slokit.resilience import current_deadline

    return {"headers": outgoing_headers(), "deadline": current_deadline()}


@app.get("/log")
async def log_something() -> dict[str, str]:
    app_log.info("handled inside the app")
    return {"logged": "yes"}


sub = FastAPI()


@sub.get("/users/{uid}")
async def user(uid: str) -> dict[str, str]:
    return {"uid": uid}


app.mount("/v1", sub)
router = APIRouter(prefix="/api")


@router.get("/things/{thing_id}")
async def thing(thing_id: str) -> dict[str, str]:
    return {"thing": thing_id}


app.include_router(router)

options: dict[str, Any] = json.loads(os.environ.get("SLOKIT_TEST_OPTIONS", "{}"))
log_file = options.pop("access_log_file", None)
if log_file:
    options["access_log"] = open(log_file, "a", encoding="utf-8")  # noqa: SIM115 - lives with the process
checks_file = options.pop("checks_file", None)
if checks_file:

    def flag_check() -> bool:
        return Path(checks_file).read_text().strip() == "ok"

    options["checks"] = {"flag": flag_check}

app = instrument(app, spec=os.environ.get("SLOKIT_TEST_SPEC"), **options)
