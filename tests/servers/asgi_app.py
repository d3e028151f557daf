"""A small Starlette app the engine tests load through real uvicorn.

Run: ``python -m uvicorn asgi_app:app --app-dir tests/servers --port N``.
"""

from __future__ import annotations

import asyncio
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

_hits: dict[str, int] = {}
_seen: dict[str, list[float]] = {}
"""First and last arrival per key (monotonic seconds), for tests of what ran at once."""


async def ok(_: Request) -> Response:
    return PlainTextResponse("ok")


async def slow(request: Request) -> Response:
    await asyncio.sleep(int(request.query_params.get("ms", "50")) / 1000)
    return PlainTextResponse("slow")


async def status(request: Request) -> Response:
    return PlainTextResponse("status", status_code=int(request.path_params["code"]))


async def item(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["item_id"], "ok": True})


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": str(request.url.query),
            "headers": dict(request.headers),
            "body": body.decode(errors="replace"),
        }
    )


async def count(request: Request) -> Response:
    """Counts hits per key so tests can verify what the engine actually sent."""
    key = request.path_params["key"]
    if request.method == "POST":
        _hits[key] = _hits.get(key, 0) + 1
    return JSONResponse({"key": key, "hits": _hits.get(key, 0)})


async def mark(request: Request) -> Response:
    """Records when ``key`` was hit; GET /marks/{key} answers its first and last hit."""
    key = request.path_params["key"]
    now = time.monotonic()
    if request.url.path.startswith("/mark/"):
        seen = _seen.setdefault(key, [now, now])
        seen[1] = now
        return PlainTextResponse("marked")
    first, last = _seen.get(key, [None, None])
    return JSONResponse({"first": first, "last": last})


app = Starlette(
    routes=[
        Route("/ok", ok),
        Route("/slow", slow),
        Route("/status/{code:int}", status),
        Route("/items/{item_id}", item),
        Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/count/{key}", count, methods=["GET", "POST"]),
        Route("/mark/{key}", mark),
        Route("/marks/{key}", mark),
    ]
)
