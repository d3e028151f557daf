"""A small Starlette app the engine tests load through real uvicorn.

Run: ``python -m uvicorn asgi_app:app --app-dir tests/servers --port N``.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

_hits: dict[str, int] = {}


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


app = Starlette(
    routes=[
        Route("/ok", ok),
        Route("/slow", slow),
        Route("/status/{code:int}", status),
        Route("/items/{item_id}", item),
        Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/count/{key}", count, methods=["GET", "POST"]),
    ]
)
