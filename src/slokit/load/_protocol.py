"""One HTTP/1.1 connection: an asyncio protocol feeding one httptools response parser.

This is the load generator's hot path, so it does as little per request as it can:

- no ``on_header`` callback: the raw bytes that carry the status line and headers are kept
  and parsed only when someone reads :attr:`Response.headers`;
- the timeout timer is armed once and re-armed lazily (see :meth:`Connection._on_timer`),
  instead of one timer per request;
- ``finished`` is read in ``on_message_complete``, before the waiting task is even
  scheduled, so event-loop delay never inflates the measured latency.

The parser does not know the request method, so a HEAD request gets a second, throw-away
parser whose message ends with its headers.
"""

from __future__ import annotations

import asyncio
import json
from time import perf_counter
from typing import Any, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from slokit.errors import ProtocolError, RequestTimeout

__all__ = [
    "Connection",
    "Response",
    "StaleConnection",
    "eof_delimited",
    "lost_error",
    "parse_head",
]

Headers = list[tuple[bytes, bytes]]
_TIMER_SLACK = 0.001
"""uvloop timers have millisecond resolution and may fire a hair early."""


class StaleConnection(ProtocolError):
    """A reused keep-alive connection was closed before any byte of the response came.

    The server closed it while idle and the close crossed our request on the wire: the
    request was not processed, so an idempotent one may be sent again on a fresh connection.
    """


def parse_head(raw: bytes) -> tuple[int, Headers] | None:
    """Status and headers of the final response at the start of ``raw`` (1xx are skipped).

    ``None`` when the header block is not complete. The parser already validated the bytes.
    """
    pos = 0
    while True:
        end = raw.find(b"\r\n\r\n", pos)
        if end < 0:
            return None
        try:
            status = int(raw[pos + 9 : pos + 12])
        except ValueError:
            return None
        if 100 <= status < 200 and status != 101:
            pos = end + 4
            continue
        line_end = raw.find(b"\r\n", pos)
        headers: Headers = []
        if line_end < end:
            for line in raw[line_end + 2 : end].split(b"\r\n"):
                name, _, value = line.partition(b":")
                headers.append((name, value.strip(b" \t")))
        return status, headers


class Response:
    """A complete HTTP response.

    ``started`` / ``finished`` are :func:`time.perf_counter` values: right before the
    request's first byte was written, and when the last byte of the response was parsed.
    ``bytes_sent`` / ``bytes_received`` count the wire bytes (summed over redirect hops).
    """

    __slots__ = (
        "_headers",
        "_raw_head",
        "body",
        "bytes_received",
        "bytes_sent",
        "finished",
        "started",
        "status",
        "url",
    )

    def __init__(
        self,
        status: int,
        headers: Headers | None = None,
        body: bytes = b"",
        bytes_sent: int = 0,
        bytes_received: int = 0,
        started: float = 0.0,
        finished: float = 0.0,
        url: str = "",
        raw_head: list[bytes] | None = None,
    ) -> None:
        self.status = status
        self._headers = headers
        self._raw_head = raw_head
        self.body = body
        self.bytes_sent = bytes_sent
        self.bytes_received = bytes_received
        self.started = started
        self.finished = finished
        self.url = url

    @property
    def headers(self) -> Headers:
        """``(name, value)`` byte pairs in wire order, names as the server spelled them."""
        headers = self._headers
        if headers is None:
            parsed = parse_head(b"".join(self._raw_head or ()))
            headers = self._headers = parsed[1] if parsed is not None else []
            self._raw_head = None
        return headers

    def header(self, name: str) -> str | None:
        """Value of header ``name`` (any case); repeated headers are joined with ", "."""
        key = name.lower().encode("latin-1")
        values = [v.decode("latin-1") for n, v in self.headers if n.lower() == key]
        return ", ".join(values) if values else None

    @property
    def text(self) -> str:
        """The body decoded with the charset of Content-Type (UTF-8 when none is given)."""
        charset = "utf-8"
        content_type = self.header("content-type")
        if content_type:
            for param in content_type.split(";")[1:]:
                key, _, value = param.strip().partition("=")
                if key.lower() == "charset" and value:
                    charset = value.strip("\"' ")
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.body)

    @property
    def elapsed(self) -> float:
        """Seconds from the first byte written to the response complete."""
        return self.finished - self.started

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.url or '?'} ({len(self.body)} bytes)>"


class _HeadHooks:
    """Callbacks of the parser used for one HEAD request: its response ends with the headers."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def on_headers_complete(self) -> None:
        self.conn._head_complete()


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time (no pipelining)."""

    __slots__ = (
        "_body",
        "_deadline",
        "_fut",
        "_loop",
        "_main",
        "_parser",
        "_raw",
        "_received",
        "_sent",
        "_timeout",
        "_timer",
        "_timer_at",
        "label",
        "reusable",
        "started",
        "transport",
        "used",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, label: str) -> None:
        self._loop = loop
        self.label = label
        """``host:port`` for error messages."""
        self._main = HttpResponseParser(self)
        self._parser = self._main
        self.transport: asyncio.Transport | None = None
        self.reusable = True
        """False once the connection must not carry another request (closed, timed out...)."""
        self.used = 0
        self._fut: asyncio.Future[Response] | None = None
        self._raw: list[bytes] = []
        self._body: list[bytes] = []
        self._received = 0
        self._sent = 0
        self.started = 0.0
        self._deadline = 0.0
        self._timeout = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # -- requests ------------------------------------------------------------------------

    def send(
        self, raw: bytes, head: bool, timeout: float, deadline: float = 0.0
    ) -> asyncio.Future[Response]:
        """Write one request; the future gets its :class:`Response` or a TransportError.

        The response must be complete by ``deadline`` (a :func:`time.perf_counter` value;
        0 means ``timeout`` seconds from now). ``timeout`` also words the error message.
        """
        fut = self._loop.create_future()
        self._fut = fut
        self._raw = []
        self._body = []
        self._received = 0
        self._sent = len(raw)
        self._timeout = timeout
        if head:
            self._parser = HttpResponseParser(_HeadHooks(self))
        self.used += 1
        transport = self.transport
        assert transport is not None
        self.started = started = perf_counter()
        try:
            transport.write(raw)
        except (OSError, RuntimeError) as exc:
            self._fail(StaleConnection(f"cannot write to {self.label}: {exc}"))
            return fut
        if not deadline:
            deadline = started + timeout
        self._deadline = deadline
        timer = self._timer
        if timer is None or deadline < self._timer_at:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_later(deadline - started, self._on_timer)
            self._timer_at = deadline
        return fut

    def close(self, error: Exception | None = None) -> None:
        """Close now; a request in flight fails with ``error`` (a ProtocolError by default)."""
        self._fail(error or ProtocolError(f"connection to {self.label} closed by the client"))

    def _fail(self, error: Exception) -> None:
        self.reusable = False
        fut = self._fut
        self._fut = None
        if fut is not None and not fut.done():
            fut.set_exception(error)
        if self.transport is not None:
            self.transport.abort()

    def _on_timer(self) -> None:
        # Armed once and moved forward only when it fires: a request that completes in
        # time costs no timer operation at all.
        self._timer = None
        if self._fut is None:
            return
        deadline = self._deadline
        now = perf_counter()
        if now + _TIMER_SLACK < deadline:
            self._timer = self._loop.call_later(deadline - now, self._on_timer)
            self._timer_at = deadline
            return
        self._fail(
            RequestTimeout(f"no complete response from {self.label} within {self._timeout:g} s")
        )

    def _complete(self, status: int, finished: float) -> None:
        fut = self._fut
        if fut is None:
            # A response nobody asked for (we never pipeline): the stream is out of step.
            self._fail(ProtocolError(f"{self.label} sent an unsolicited response"))
            return
        self._fut = None
        body = self._body
        response = Response(
            status,
            None,
            b"".join(body) if body else b"",
            self._sent,
            self._received,
            self.started,
            finished,
            "",
            self._raw,
        )
        if not fut.done():
            fut.set_result(response)

    def _head_complete(self) -> None:
        finished = perf_counter()
        parser = self._parser
        status = parser.get_status_code()
        if status < 200 and status != 101:
            return
        if not parser.should_keep_alive():
            self.reusable = False
        # The throw-away parser would wait for a body that never comes: feed the next
        # response to the main one, which is between messages.
        self._parser = self._main
        self._complete(status, finished)

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._fut is None:
            # Bytes while idle: nothing asked for them, the stream cannot be trusted.
            self._fail(ProtocolError(f"{self.label} sent data while no request was pending"))
            return
        self._received += len(data)
        if not self._body:
            self._raw.append(data)
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            # 101 Switching Protocols: the response is complete, the stream is no longer HTTP.
            self._fail(ProtocolError(f"{self.label} switched protocols; not supported"))
        except HttpParserError as exc:
            self._parser = self._main
            self._fail(ProtocolError(f"invalid HTTP response from {self.label}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        fut = self._fut
        if fut is None or fut.done():
            self._fut = None
            return
        if exc is None and self._parser is self._main:
            status = self._eof_delimited()
            if status:
                self._complete(status, perf_counter())
                return
        self._fut = None
        fut.set_exception(self._lost_error(exc))

    # -- parser callbacks ----------------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        finished = perf_counter()
        parser = self._parser
        status = parser.get_status_code()
        if status < 200 and status != 101:
            return  # interim response (100 Continue, 103 Early Hints): the real one follows
        if not parser.should_keep_alive():
            self.reusable = False
        fut = self._fut
        if fut is None:
            self._complete(status, finished)  # reports the unsolicited response
            return
        # _complete inlined: this runs once per request.
        self._fut = None
        body = self._body
        response = Response(
            status,
            None,
            b"".join(body) if body else b"",
            self._sent,
            self._received,
            self.started,
            finished,
            "",
            self._raw,
        )
        # try/except is free in 3.11 when nothing is raised; contextlib.suppress is not.
        try:  # noqa: SIM105
            fut.set_result(response)
        except asyncio.InvalidStateError:
            pass  # the waiting task was cancelled; it discards this connection

    # -- rare paths ----------------------------------------------------------------------

    def _eof_delimited(self) -> int:
        return eof_delimited(self._raw)

    def _lost_error(self, exc: Exception | None) -> ProtocolError:
        if self._received == 0 and self.used > 1:
            return StaleConnection(f"{self.label} closed the keep-alive connection")
        return lost_error(self.label, self._received, exc)


def eof_delimited(raw: list[bytes]) -> int:
    """Status of a response whose body ends at connection close; 0 if it is not one.

    ``raw`` is what arrived on the connection for the request (head first)."""
    parsed = parse_head(b"".join(raw))
    if parsed is None:
        return 0
    status, headers = parsed
    if status in (204, 304) or status < 200:
        return 0
    for name, _ in headers:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            return 0
    return status


def lost_error(label: str, received: int, exc: Exception | None) -> ProtocolError:
    """The error for a connection lost with a request in flight, after ``received`` bytes."""
    where = "mid-response" if received else "before responding"
    if isinstance(exc, ConnectionResetError):
        return ProtocolError(f"connection to {label} reset by the peer {where}")
    if exc is None:
        return ProtocolError(f"{label} closed the connection {where}")
    return ProtocolError(f"connection to {label} lost {where}: {exc}")
