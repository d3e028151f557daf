"""A service that acknowledges writes but keeps them only in memory: a crash loses every one,
which the drill's HTTP writer must count as lost (and only those)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_writes: dict[str, list[int]] = {}


async def write(request: Request) -> JSONResponse:
    body = await request.json()
    _writes.setdefault(str(body["run"]), []).append(int(body["seq"]))
    return JSONResponse({"ok": True}, status_code=201)


async def read(request: Request) -> JSONResponse:
    return JSONResponse({"seqs": _writes.get(request.path_params["run"], [])})


async def readyz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ready"})


app = Starlette(
    routes=[
        Route("/dr/writes", write, methods=["POST"]),
        Route("/dr/writes/{run}", read),
        Route("/readyz", readyz),
    ]
)
