"""The Python HTTP clients a team would load with by hand, for the throughput leg.

``--client aiohttp`` or ``--client httpx``: ``--users`` asyncio tasks (50), each on its own
keep-alive connection, sending GET requests back to back for ``--seconds``; prints
``{"client", "requests", "failures", "seconds", "rps"}`` as JSON. Loopback only.

    .venv/bin/python bench/http_peers.py --client aiohttp --url http://127.0.0.1:8080/ --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable


async def _drive(
    send: Callable[[], Awaitable[bool]], users: int, seconds: float
) -> dict[str, float]:
    counts = {"requests": 0, "failures": 0}
    end = time.perf_counter() + seconds

    async def user() -> None:
        while time.perf_counter() < end:
            ok = await send()
            counts["requests"] += 1
            counts["failures"] += 0 if ok else 1

    start = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(users)))
    elapsed = time.perf_counter() - start
    return {**counts, "seconds": elapsed, "rps": counts["requests"] / elapsed}


async def _aiohttp(url: str, users: int, seconds: float) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send() -> bool:
            async with session.get(url) as response:
                await response.read()
                return response.status < 400

        return await _drive(send, users, seconds)


async def _httpx(url: str, users: int, seconds: float) -> dict[str, float]:
    import httpx

    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(limits=limits) as client:

        async def send() -> bool:
            response = await client.get(url)
            return response.status_code < 400

        return await _drive(send, users, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--client", choices=["aiohttp", "httpx"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    run = _aiohttp if args.client == "aiohttp" else _httpx
    result = asyncio.run(run(args.url, args.users, args.seconds))
    print(json.dumps({"client": args.client, **result}), flush=True)


if __name__ == "__main__":
    main()
