"""A raw asyncio WebSocket server (wsproto) for the WebSocket client's tests.

Run it with ``python -m tests.servers.ws_server PORT``: it listens on 127.0.0.1:PORT until
SIGTERM or SIGINT and prints nothing. WebSocket paths (the query string shapes them):

=====================================  ==================================================
``/echo``                              every text or binary message back, same type, whole
                                       (a fragmented message is echoed as one frame)
``/ticks?n=3&interval_ms=50``          ``tick K`` (K = 1..n), one every interval (the
                                       first after one interval), then the close handshake
                                       with ``close_code`` (1000); ``fragment=1`` sends each
                                       tick as 3 frames (text + 2 continuations);
                                       ``ping_ms=P`` sends a Ping every P ms until the close
``/status?code=403``                   refuses the handshake with that status (any code)
``/abort?after=3&interval_ms=50``      ``tick K`` for K = 1..after, then the TCP connection
                                       is aborted: no close frame
anything else                          refused with 404
=====================================  ==================================================

Everywhere: a client Ping gets its Pong, a client close is answered and the TCP connection
closed; a server-started close waits up to 5 s for the client's close frame. Plain HTTP
(no ``Upgrade: websocket``): ``GET /stats`` answers JSON ``{"connections", "open",
"pongs", "messages_received", "pings_received", "rejected", "close_codes"}`` (handshakes
accepted, still open, Pongs the server got, whole messages the server got, client Pings,
handshakes refused, close codes the clients sent, in order), ``POST /reset`` zeroes them
(``open`` excepted), ``GET /health`` says ``ok``, anything else 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

CLOSE_WAIT_S = 5.0
"""How long a server-started close waits for the client's close frame."""

HEAD_LIMIT = 64 * 1024
MESSAGE_LIMIT = 16 * 1024 * 1024

_stats: dict[str, Any] = {
    "connections": 0,
    "open": 0,
    "pongs": 0,
    "messages_received": 0,
    "pings_received": 0,
    "rejected": 0,
    "close_codes": [],
}


def _reset() -> None:
    _stats.update(
        connections=0, pongs=0, messages_received=0, pings_received=0, rejected=0, close_codes=[]
    )


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, *_ = [*lines[0].split(" "), "", ""]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, target, headers


async def _plain_http(writer: asyncio.StreamWriter, method: str, path: str) -> None:
    status, ctype, body = "404 Not Found", "text/plain", b"not found"
    if path == "/stats" and method == "GET":
        status, ctype, body = "200 OK", "application/json", json.dumps(_stats).encode()
    elif path == "/reset" and method == "POST":
        _reset()
        status, body = "200 OK", b"ok"
    elif path == "/health" and method == "GET":
        status, body = "200 OK", b"ok"
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()


class _Session:
    """One accepted WebSocket: reads frames in :meth:`pump`, writes through :meth:`out`."""

    def __init__(
        self, ws: WSConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ws, self.reader, self.writer = ws, reader, writer
        self.on_message: Callable[[str | bytes], None] | None = None
        self._parts: list[Any] = []

    @property
    def open(self) -> bool:
        return self.ws.state is ConnectionState.OPEN and not self.writer.is_closing()

    def out(self, event: Event) -> None:
        if not self.writer.is_closing():
            self.writer.write(self.ws.send(event))

    async def pump(self) -> None:
        """Read until the close handshake is done or the connection is gone."""
        while self.ws.state is not ConnectionState.CLOSED:
            try:
                data = await self.reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            self.ws.receive_data(data or None)
            for event in self.ws.events():
                self._handle(event)
            if not data:
                return
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()

    def _handle(self, event: Event) -> None:
        if isinstance(event, Ping):
            _stats["pings_received"] += 1
            if self.open:
                self.out(event.response())
        elif isinstance(event, Pong):
            _stats["pongs"] += 1
        elif isinstance(event, CloseConnection):
            _stats["close_codes"].append(event.code)
            if self.ws.state is ConnectionState.REMOTE_CLOSING:
                self.out(event.response())
        elif isinstance(event, TextMessage | BytesMessage):
            self._parts.append(event.data)
            if sum(len(p) for p in self._parts) > MESSAGE_LIMIT:
                self.writer.transport.abort()
                return
            if event.message_finished:
                whole: str | bytes = (
                    "".join(self._parts)
                    if isinstance(event, TextMessage)
                    else b"".join(bytes(p) for p in self._parts)
                )
                self._parts = []
                _stats["messages_received"] += 1
                if self.on_message is not None:
                    self.on_message(whole)

    async def ticks(self, count: int, interval: float, fragment: bool) -> None:
        for k in range(1, count + 1):
            await asyncio.sleep(interval)
            if not self.open:
                return
            text = f"tick {k}"
            if fragment:
                a, b = len(text) // 3, 2 * len(text) // 3
                self.out(TextMessage(data=text[:a], message_finished=False))
                self.out(TextMessage(data=text[a:b], message_finished=False))
                self.out(TextMessage(data=text[b:], message_finished=True))
            else:
                self.out(TextMessage(data=text))
            await self.writer.drain()

    async def pings(self, every: float) -> None:
        k = 0
        while True:
            await asyncio.sleep(every)
            if not self.open:
                return
            k += 1
            self.out(Ping(payload=str(k).encode()))


async def _race(main: Awaitable[None], pump: asyncio.Task[None]) -> bool:
    """Run ``main`` while ``pump`` reads; False when the client went (or closed) first."""
    job = asyncio.ensure_future(main)
    done, _ = await asyncio.wait({job, pump}, return_when=asyncio.FIRST_COMPLETED)
    if job not in done:
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await job
        return False
    job.result()
    return True


async def _serve_ws(session: _Session, path: str, q: dict[str, str]) -> None:
    pump = asyncio.ensure_future(session.pump())
    pinger: asyncio.Task[None] | None = None
    try:
        if path == "/echo":

            def echo(message: str | bytes) -> None:
                if not session.open:
                    return
                if isinstance(message, str):
                    session.out(TextMessage(data=message))
                else:
                    session.out(BytesMessage(data=message))

            session.on_message = echo
            await pump
            return
        interval = int(q.get("interval_ms", 50)) / 1000
        if path == "/abort":
            if not await _race(session.ticks(int(q.get("after", 3)), interval, False), pump):
                return
            transport = session.writer.transport
            for _ in range(200):  # what was written must reach the socket before the cut
                if transport.get_write_buffer_size() == 0:
                    break
                await asyncio.sleep(0.01)
            transport.abort()
            return
        # /ticks
        if int(q.get("ping_ms", 0)) > 0:
            pinger = asyncio.ensure_future(session.pings(int(q["ping_ms"]) / 1000))
        ticks = session.ticks(int(q.get("n", 3)), interval, q.get("fragment") == "1")
        if not await _race(ticks, pump):
            return
        if session.open:
            session.out(CloseConnection(code=int(q.get("close_code", 1000))))
            await session.writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pump), CLOSE_WAIT_S)
    finally:
        for task in (pinger, pump):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task


async def _reject(writer: asyncio.StreamWriter, ws: WSConnection, status: int) -> None:
    _stats["rejected"] += 1
    body = f"status {status}\n".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    writer.write(ws.send(RejectConnection(status_code=status, headers=headers, has_body=True)))
    writer.write(ws.send(RejectData(data=body, body_finished=True)))
    await writer.drain()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            return
        method, target, headers = _parse_head(head)
        url = urlsplit(target)
        if "websocket" not in headers.get("upgrade", "").lower():
            await _plain_http(writer, method, url.path)
            return
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.receive_data(head)
            requested = any(isinstance(e, Request) for e in ws.events())
        except RemoteProtocolError:
            requested = False
        if not requested:  # an upgrade request wsproto will not take (no key, not GET...)
            _stats["rejected"] += 1
            writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            return
        q = dict(parse_qsl(url.query))
        if url.path == "/status":
            await _reject(writer, ws, int(q.get("code", 403)))
            return
        if url.path not in ("/echo", "/ticks", "/abort"):
            await _reject(writer, ws, 404)
            return
        writer.write(ws.send(AcceptConnection()))
        _stats["connections"] += 1
        _stats["open"] += 1
        try:
            await _serve_ws(_Session(ws, reader, writer), url.path, q)
        finally:
            _stats["open"] -= 1
    except OSError:  # ConnectionError included: the client went
        pass
    finally:
        if not writer.is_closing():
            writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(_handle, host, port, limit=HEAD_LIMIT)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m tests.servers.ws_server PORT", file=sys.stderr)
        return 2
    asyncio.run(serve(int(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
