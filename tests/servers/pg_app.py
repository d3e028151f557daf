"""A service whose one route reads PostgreSQL (``PG_DSN``), instrumented by slokit.asgi: a
database outage shows as 503s in its own metrics, which a chaos experiment judges."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from slokit.asgi import instrument

_pool: Any = None


async def _get_pool() -> Any:
    global _pool
    if _pool is None:
        _pool = await asyncpg.create_pool(os.environ["PG_DSN"], min_size=1, max_size=8, timeout=1.0)
    return _pool


async def item(request: Request) -> JSONResponse:
    try:
        pool = await _get_pool()
        value = await asyncio.wait_for(pool.fetchval("select 1"), timeout=1.0)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return JSONResponse({"detail": f"database unavailable: {type(exc).__name__}"}, 503)
    return JSONResponse({"id": request.path_params["item_id"], "db": value})


app = Starlette(routes=[Route("/items/{item_id}", item)])
instrument(app, spec=os.environ["SLOKIT_TEST_SPEC"], access_log=False)
