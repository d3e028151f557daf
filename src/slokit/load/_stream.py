"""Streaming connections: an SSE response read as it arrives, and a WebSocket client.

Both are asyncio protocols on their own connection (opened by the origin's pool, outside
its keep-alive slots: a stream keeps its connection for as long as it lives). Nothing
here loops: the protocol parks what arrived and wakes the one virtual user waiting on it,
so a held stream costs a socket and a few objects, never a task spinning or a thread.

Times are :func:`time.perf_counter` values taken in the protocol callbacks, before the
waiting task is scheduled, so event-loop delay never inflates a measured handshake or gap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from time import perf_counter
from typing import Any, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from slokit.errors import ProtocolError, RequestTimeout

__all__ = ["SSEConnection", "StreamEnded", "WSConnectionProtocol", "WSMessage"]


class StreamEnded(Exception):
    """The stream is over. ``kind``: ``closed`` (the server ended it cleanly), ``dropped``
    (the connection went away mid-stream) or ``protocol`` (the bytes made no sense)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind


class _Base(asyncio.Protocol):
    """Waiting for the head and for data, shared by both kinds of stream."""

    def __init__(self, loop: asyncio.AbstractEventLoop, label: str) -> None:
        self.loop = loop
        self.label = label
        self.transport: asyncio.Transport | None = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.started = 0.0
        """When the request's first byte was written."""
        self.head_at = 0.0
        """When the response head (or the 101) was complete."""
        self.data_at = 0.0
        """When the last data arrived."""
        self.received = 0
        self.sent = 0
        self.ended: StreamEnded | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._head = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.ended is None:
            detail = f"{self.label} closed the connection mid-stream" + (f": {exc}" if exc else "")
            self.ended = StreamEnded("dropped", detail)
        self._wake()

    def write(self, data: bytes) -> None:
        if self.transport is None:
            raise ProtocolError(f"{self.label} closed the connection before the request")
        self.sent += len(data)
        self.transport.write(data)

    def close(self) -> None:
        if self.ended is None:
            self.ended = StreamEnded("closed", "closed by the client")
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, detail: str) -> None:
        if self.ended is None:
            self.ended = StreamEnded("protocol", f"{self.label}: {detail}")
        if self.transport is not None:
            self.transport.abort()
            self.transport = None
        self._wake()

    async def _wait(self, timeout: float) -> None:
        waiter = self._waiter = self.loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        finally:
            self._waiter = None

    async def head(self, timeout: float) -> None:
        """Wait for the response head; RequestTimeout, ProtocolError if the stream ended."""
        if not self._head and self.ended is None:
            try:
                await self._wait(timeout)
            except TimeoutError:
                raise RequestTimeout(
                    f"{self.label} sent no response head within {timeout:g} s"
                ) from None
        if not self._head:
            assert self.ended is not None
            raise ProtocolError(f"no response head: {self.ended}")

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


class SSEConnection(_Base):
    """One HTTP/1.1 request whose response body is read chunk by chunk as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, label: str) -> None:
        super().__init__(loop, label)
        self.parser = HttpResponseParser(self)
        self.chunks: deque[bytes] = deque()

    def send(self, raw: bytes) -> None:
        self.started = perf_counter()
        self.write(raw)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self.data_at = perf_counter()
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            self._fail("the server switched protocols on an SSE request")
        except HttpParserError as exc:
            self._fail(f"invalid HTTP response: {exc}")

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_at = perf_counter()
        self.status = self.parser.get_status_code()
        self._head = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        if self.ended is None:
            self.ended = StreamEnded("closed", f"{self.label} ended the stream")
        self._wake()

    async def read(self, timeout: float) -> bytes:
        """The next chunk of the body. Raises StreamEnded when there is none and will be
        none, TimeoutError when nothing came for ``timeout`` seconds."""
        while not self.chunks:
            if self.ended is not None:
                raise self.ended
            await self._wait(timeout)
        return self.chunks.popleft()


class WSMessage:
    """One WebSocket message (fragments joined)."""

    __slots__ = ("at", "data", "text")

    def __init__(self, data: str | bytes, at: float) -> None:
        self.data = data
        self.text = isinstance(data, str)
        self.at = at

    def __repr__(self) -> str:
        return f"<WSMessage {self.data!r:.60}>"


class WSConnectionProtocol(_Base):
    """An RFC 6455 client on wsproto: handshake, masking, fragments, ping/pong, close."""

    def __init__(self, loop: asyncio.AbstractEventLoop, label: str) -> None:
        super().__init__(loop, label)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.messages: deque[WSMessage] = deque()
        self._parts: list[Any] = []
        self.close_code: int | None = None
        self.pings = 0

    def open(self, host: str, target: str, headers: list[tuple[str, str]]) -> None:
        self.started = perf_counter()
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.write(self.ws.send(Request(host=host, target=target, extra_headers=extra)))

    def send_message(self, data: str | bytes) -> None:
        try:
            message: Event = (
                TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data)
            )
            self.write(self.ws.send(message))
        except LocalProtocolError as exc:
            raise ProtocolError(f"cannot send on the WebSocket to {self.label}: {exc}") from None

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        self.data_at = now = perf_counter()
        self.ws.receive_data(data)
        try:
            for event in self.ws.events():
                self._event(event, now)
        except RemoteProtocolError as exc:
            self._fail(f"WebSocket protocol error: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ended is None and not self._head:
            self.ended = StreamEnded("dropped", f"{self.label} closed before the handshake")
        super().connection_lost(exc)

    def _event(self, event: Event, now: float) -> None:
        if isinstance(event, AcceptConnection):
            self.head_at = now
            self.status = 101
            self.headers = list(event.extra_headers)
            self._head = True
            self._wake()
        elif isinstance(event, RejectConnection):
            self.head_at = now
            self.status = event.status_code
            self.headers = list(event.headers)
            self._head = True
            self.ended = StreamEnded("closed", f"{self.label} refused the WebSocket")
            self._wake()
        elif isinstance(event, RejectData):
            pass  # the refusal's body: the status already says it all
        elif isinstance(event, TextMessage | BytesMessage):
            self._parts.append(event.data)
            if event.message_finished:
                parts, self._parts = self._parts, []
                joined: str | bytes = (
                    "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                )
                self.messages.append(WSMessage(joined, now))
                self._wake()
        elif isinstance(event, Ping):
            self.pings += 1
            self.write(self.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self.close_code = event.code
            if self.transport is not None:
                # LocalProtocolError: we had started closing ourselves, nothing more to say.
                with contextlib.suppress(LocalProtocolError):
                    self.write(self.ws.send(event.response()))
            self.ended = StreamEnded("closed", f"{self.label} closed the WebSocket ({event.code})")
            if self.transport is not None:
                self.transport.close()
            self._wake()

    async def receive(self, timeout: float) -> WSMessage:
        """The next message; StreamEnded once there is none, TimeoutError after ``timeout``."""
        while not self.messages:
            if self.ended is not None:
                raise self.ended
            await self._wait(timeout)
        return self.messages.popleft()

    def send_close(self, code: int = 1000) -> None:
        """Start the close handshake; the server's answer ends the stream as ``closed``."""
        try:
            self.write(self.ws.send(CloseConnection(code=code)))
        except LocalProtocolError as exc:
            raise ProtocolError(f"cannot close the WebSocket to {self.label}: {exc}") from None
