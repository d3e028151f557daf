"""A FastAPI service for the issue-13 tests: a route behind an open circuit breaker, and a
warm-up hook that waits for a file the test writes (so /startupz can be seen failing under
uvicorn, after lifespan start-up).

``SLOKIT_TEST_LOG``: access-log file; ``SLOKIT_TEST_WARMUP_FLAG``: a path the warm-up hook
waits for (``ok`` in it: the hook returns; anything else: it raises).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from slokit.asgi import instrument
from slokit.resilience import CircuitBreaker

app = FastAPI()
payments = CircuitBreaker("payments", open_for=30, registry=None)
payments.force_open(30)  # the payment provider is down: the breaker refuses every call


@payments
async def charge() -> dict[str, bool]:
    return {"charged": True}


@app.get("/pay")
async def pay() -> dict[str, bool]:
    return await charge()  # raises CircuitOpenError; the app does not handle it


@app.get("/items/{item_id}")
async def item(item_id: str) -> dict[str, str]:
    return {"id": item_id}


options: dict[str, Any] = {}
log_path = os.environ.get("SLOKIT_TEST_LOG")
if log_path:
    options["access_log"] = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the process
flag_path = os.environ.get("SLOKIT_TEST_WARMUP_FLAG")
if flag_path:
    flag = Path(flag_path)

    async def fill_cache() -> None:
        for _ in range(2000):  # bounded: 200 s at most
            if flag.exists():  # noqa: ASYNC240 - a test's tiny file
                if flag.read_text().strip() != "ok":  # noqa: ASYNC240
                    raise RuntimeError("the cache source refused")
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("gave up waiting")

    options["warmup"] = {"cache": fill_cache}

instrument(app, **options)
