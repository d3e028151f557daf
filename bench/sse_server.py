"""A Server-Sent Events server cheap enough that the clients are what a bench measures.

Any ``GET`` except ``/stats`` opens a stream (chunked ``text/event-stream``) that gets one
event every ``--interval`` seconds (1 s). Streams are spread over 100 slots by their order of
arrival and one slot is written every ``interval / 100``, so 2,000 clients get 20 events
every 10 ms, not 2,000 in one burst. ``GET /stats`` answers ``{"open": N, "events": SENT}``.

Run: ``python bench/sse_server.py --port 8090``. Loopback only; asyncio on uvloop when it
is installed. Ends on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

SLOTS = 100
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
MAX_HEAD = 64 * 1024


class Hub:
    def __init__(self) -> None:
        self.slots: list[set[asyncio.Transport]] = [set() for _ in range(SLOTS)]
        self.joined = 0
        self.events = 0

    @property
    def open(self) -> int:
        return sum(len(slot) for slot in self.slots)

    def join(self, transport: asyncio.Transport) -> set[asyncio.Transport]:
        slot = self.slots[self.joined % SLOTS]
        self.joined += 1
        slot.add(transport)
        return slot

    def tick(self, k: int) -> None:
        slot = self.slots[k % SLOTS]
        if not slot:
            return
        data = f'id: {k}\ndata: {{"seq": {k}, "pad": "{"x" * 64}"}}\n\n'.encode()
        chunk = b"%x\r\n%s\r\n" % (len(data), data)
        for transport in slot:
            transport.write(chunk)
        self.events += len(slot)


class StreamProtocol(asyncio.Protocol):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.transport: asyncio.Transport | None = None
        self.slot: set[asyncio.Transport] | None = None
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have its methods.
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.slot is not None and self.transport is not None:
            self.slot.discard(self.transport)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.slot is not None or self.transport is None:
            return  # a stream's client says nothing more that matters
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self.transport.close()
            return
        line = bytes(self.buffer[: self.buffer.find(b"\r\n")])
        self.buffer.clear()
        parts = line.split(b" ")
        if len(parts) < 2 or parts[0] != b"GET":
            self.transport.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()
        elif parts[1] == b"/stats":
            body = json.dumps({"open": self.hub.open, "events": self.hub.events}).encode()
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()
        else:
            self.transport.write(HEAD)
            self.slot = self.hub.join(self.transport)


async def serve(port: int, interval: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    hub = Hub()
    server = await loop.create_server(
        lambda: StreamProtocol(hub), "127.0.0.1", port, backlog=8192, reuse_address=True
    )
    step = interval / SLOTS

    async def ticks() -> None:
        k, next_at = 0, loop.time()
        while True:
            next_at += step
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            hub.tick(k)
            k += 1

    ticker = asyncio.ensure_future(ticks())
    async with server:
        await stop.wait()
    ticker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ticker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between events")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, args.interval))
    else:
        uvloop.run(serve(args.port, args.interval))


if __name__ == "__main__":
    main()
