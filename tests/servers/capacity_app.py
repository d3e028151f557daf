"""A service of known capacity: at most ``SLOTS`` requests at a time, each taking
``SERVICE_MS``; the rest wait their turn. Capacity = SLOTS / service time (4 / 20 ms = 200/s).

Above it the queue, and so latency, grows without bound, as in a real saturated service.
``/health`` answers at once, outside the slots.

``RECOVER_S`` (default 0) makes it slow to recover: once more than ``8 x SLOTS`` requests
wait, every request takes 150 ms more (a cold cache, a rebuilt pool) until ``RECOVER_S``
seconds after the queue was last that deep.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

SLOTS = int(os.environ.get("SLOTS", "4"))
SERVICE_S = float(os.environ.get("SERVICE_MS", "20")) / 1000
RECOVER_S = float(os.environ.get("RECOVER_S", "0"))

_slots: asyncio.Semaphore | None = None
_waiting = 0
_degraded_until = 0.0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _slots, _waiting, _degraded_until
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] != "/health":
        if _slots is None:
            _slots = asyncio.Semaphore(SLOTS)
        now = time.monotonic()
        if RECOVER_S and _waiting > 8 * SLOTS:
            _degraded_until = now + RECOVER_S
        if now < _degraded_until:
            await asyncio.sleep(0.15)
        _waiting += 1
        served = False
        try:
            async with _slots:
                _waiting -= 1
                served = True
                await asyncio.sleep(SERVICE_S)
        finally:
            if not served:
                _waiting -= 1  # the client went away while it waited
    headers = [(b"content-length", b"2"), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})
