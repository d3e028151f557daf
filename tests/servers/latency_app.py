"""A service whose latency grows with load: 1 ms plus 1 ms per request in flight.

Like a real service near saturation, but without burning the CPU the load generator needs:
each request sleeps. ``SLOKIT_TEST_SPEC`` names the spec the middleware is built from.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from slokit.asgi import instrument

_in_flight = 0


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _in_flight
    if scope["type"] != "http":
        return
    _in_flight += 1
    try:
        await asyncio.sleep(0.001 * (1 + _in_flight))
    finally:
        _in_flight -= 1
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


app = instrument(_app, spec=os.environ["SLOKIT_TEST_SPEC"], access_log=False)
