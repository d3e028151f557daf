"""The peer SSE client for the streams leg: what a Python team writes without slokit.

N asyncio tasks, each holding one ``httpx.AsyncClient.stream("GET", url)`` and reading
``aiter_lines()``; a blank line ends an event (the httpx-sse and Locust-plugin approach).
Runs for ``--seconds`` and prints ``{"clients": N, "connected": C, "events": E}`` as JSON.

Run: ``python bench/sse_peer.py --url http://127.0.0.1:8090/events --clients 2000
--seconds 20``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

import httpx


async def main_async(url: str, clients: int, seconds: float) -> dict[str, int]:
    counts = {"clients": clients, "connected": 0, "events": 0}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    timeout = httpx.Timeout(30.0, read=None)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def listen() -> None:
            async with client.stream("GET", url, headers={"Accept": "text/event-stream"}) as r:
                counts["connected"] += 1
                async for line in r.aiter_lines():
                    if not line:
                        counts["events"] += 1

        tasks = [asyncio.ensure_future(listen()) for _ in range(clients)]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.url, args.clients, args.seconds))), flush=True)


if __name__ == "__main__":
    main()
