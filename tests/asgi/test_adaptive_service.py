"""``concurrency: adaptive`` on a real uvicorn service whose latency grows with load: with a
latency SLO it sheds only when the SLO is really missed; without one it is Gradient2."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from tests._support import UvicornApp

CLIENTS = 150
SECONDS = 3.0
PER_CLIENT = 400
"""Bounds on the load: clients, seconds, and requests per client, whichever ends first."""


async def _client(port: int, deadline: float, statuses: Counter[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            writer.write(b"GET /work HTTP/1.1\r\nHost: t\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            statuses[status] += 1
            if b"connection: close" in head.lower():
                return
    finally:
        writer.close()


async def _load(port: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + SECONDS
    await asyncio.wait_for(
        asyncio.gather(*(_client(port, deadline, statuses) for _ in range(CLIENTS))),
        SECONDS + 30,
    )
    return statuses


def _run(tmp_path: Path, slos: str) -> Counter[int]:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(f"service: lat\n{slos}guards: {{concurrency: adaptive}}\n")
    server = UvicornApp("latency_app:app", env={"SLOKIT_TEST_SPEC": str(spec)})
    try:
        return asyncio.run(_load(server.port))
    finally:
        server.kill()


def test_latency_within_the_slo_sheds_nothing_and_a_missed_slo_sheds(tmp_path: Path) -> None:
    # 150 clients put ~150 requests in flight: about 150 ms each, the service's own doing.
    loose = _run(tmp_path, "slos:\n  fast: {objective: 99%, latency: 400ms}\n")
    tight = _run(tmp_path, "slos:\n  fast: {objective: 99%, latency: 30ms}\n")
    gradient = _run(tmp_path, "")
    assert loose[200] > CLIENTS  # every client got answers
    assert loose[503] == 0, loose
    assert tight[503] > 0, tight  # 150 ms against a 30 ms SLO: shed to keep the rest fast
    assert tight[200] > 0
    # The same load sheds with plain Gradient2: what the 0 above is worth.
    assert gradient[503] > 0, gradient
