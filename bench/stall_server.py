"""An HTTP/1.1 server that answers "ok" at once, except that it stalls on a fixed schedule.

Every ``--period`` seconds (2 s) it freezes every response for ``--freeze`` seconds (0.5 s):
a request that arrives during a freeze is answered when the freeze ends. The schedule is
counted from the server's own start, so the cycle is fixed whatever the load does.

For a request arriving at a uniformly random moment the latency is ``max(0, freeze_end - t)``:
a quarter of requests land in a freeze and wait uniformly on (0, 0.5] s, so the true
p90 is 0.30 s and p99 is 0.48 s. A load generator that waits for responses before sending
more (coordinated omission) reports far less.

Run: ``python bench/stall_server.py --port 8080``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import signal

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Connection: keep-alive\r\n\r\nok"
)
MAX_HEAD = 64 * 1024


class Schedule:
    """When a response to a request arriving at loop time ``now`` may be sent."""

    def __init__(self, start: float, period: float, freeze: float) -> None:
        self.start, self.period, self.freeze = start, period, freeze

    def release(self, now: float) -> float:
        # The freeze is the last `freeze` seconds of each period: answers are instant at start.
        phase = (now - self.start) % self.period
        frozen_from = self.period - self.freeze
        return now + (self.period - phase) if phase >= frozen_from else now


class StallProtocol(asyncio.Protocol):
    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        # Release times of responses not yet written, in request order (pipelining-safe).
        self.pending: collections.deque[float] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD and self.transport is not None:
                    self.transport.close()
                return
            head = bytes(self.buffer[:end]).lower()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip() == b"content-length":
                    length = int(value.strip() or b"0")
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self.respond()

    def respond(self) -> None:
        now = self.loop.time()
        self.pending.append(self.schedule.release(now))
        self.flush()

    def flush(self) -> None:
        self.timer = None
        now = self.loop.time()
        while self.pending and self.pending[0] <= now + 0.001 and self.transport is not None:
            self.pending.popleft()
            self.transport.write(RESPONSE)
        if self.pending and self.transport is not None:
            self.timer = self.loop.call_at(self.pending[0], self.flush)


async def serve(host: str, port: int, period: float, freeze: float) -> None:
    loop = asyncio.get_running_loop()
    schedule = Schedule(loop.time(), period, freeze)
    server = await loop.create_server(
        lambda: StallProtocol(schedule), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"stall server on http://{host}:{port}: freezes {freeze}s every {period}s", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--freeze", type=float, default=0.5)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.period, args.freeze))


if __name__ == "__main__":
    main()
