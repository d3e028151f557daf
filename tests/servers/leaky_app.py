"""A service that leaks, or does not, by a known amount: for soak tests.

``LEAK_MODE`` chooses:

``leaky``  every request keeps ``LEAK_BYTES`` (default 16 KiB) for good.
``clean``  every request allocates the same and lets it go.
``noisy``  clean, plus what a healthy service with a garbage collector looks like: a buffer
           whose size jumps at random (0-4 MiB) every 50 ms, and every 2 s a 64 MiB spike
           held for 150 ms. Its memory has no trend, only noise and outliers.

Large buffers are ``bytearray``s above the allocator's mmap threshold, so freeing one gives
the memory back to the OS and RSS really falls. Every response is ``200 ok``.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

MODE = os.environ.get("LEAK_MODE", "clean")
LEAK_BYTES = int(os.environ.get("LEAK_BYTES", str(16 * 1024)))

_kept: list[bytes] = []
_noise: dict[str, bytearray] = {}
_tasks: list[asyncio.Task[None]] = []


async def _jitter() -> None:
    rng = random.Random(7)
    tick = 0
    while True:
        await asyncio.sleep(0.05)
        tick += 1
        _noise["base"] = bytearray(rng.randrange(0, 4 << 20) or 1)
        if tick % 40 == 0:
            _noise["spike"] = bytearray(64 << 20)
        elif tick % 40 == 3:
            _noise.pop("spike", None)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if MODE == "noisy":
                    _tasks.append(asyncio.create_task(_jitter()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    block = os.urandom(LEAK_BYTES)  # distinct bytes: nothing can share or intern them
    if MODE == "leaky":
        _kept.append(block)
    headers = [(b"content-length", b"2"), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})
