"""The load engine's HTTP/1.1 client: prepared requests sent over keep-alive pools.

:meth:`HttpClient.prepare` builds a request's bytes once (request line, Host, User-Agent,
Content-Length, the caller's headers, the body); :meth:`HttpClient.send` then costs a pool
pop, one ``transport.write`` and one future. Failures below HTTP raise
:class:`~slokit.errors.ConnectError`, :class:`~slokit.errors.RequestTimeout` or
:class:`~slokit.errors.ProtocolError`, never a raw ``OSError`` or asyncio error.
"""

from __future__ import annotations

import asyncio
import json as _json
import re
import ssl
from collections.abc import Callable, Mapping
from time import perf_counter
from types import TracebackType
from typing import Any, TypeVar

from slokit import __version__
from slokit.errors import ConnectError, ProtocolError, UsageError
from slokit.load._pool import HostPool
from slokit.load._protocol import Response, StaleConnection
from slokit.load._stream import SSEConnection, WSConnectionProtocol
from slokit.load._url import Origin, join_location, split_url

__all__ = ["HttpClient", "PreparedRequest", "Response"]

USER_AGENT = f"slokit/{__version__}"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Framing is ours: a caller's Content-Length or Transfer-Encoding could desynchronise
# the connection, so they are replaced by the one we compute.
_FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection"})
_UNSET: Any = object()
S = TypeVar("S", SSEConnection, WSConnectionProtocol)


def _http_url(url: str) -> str:
    """A WebSocket URL as the HTTP URL its handshake goes to (ws → http, wss → https)."""
    if url.startswith("ws://"):
        return "http://" + url[5:]
    if url.startswith("wss://"):
        return "https://" + url[6:]
    return url


class PreparedRequest:
    """A request whose bytes are built once and can be sent any number of times."""

    __slots__ = ("body", "head", "headers", "idempotent", "key", "method", "origin", "raw", "url")

    def __init__(
        self,
        method: str,
        url: str,
        origin: Origin,
        raw: bytes,
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> None:
        self.method = method
        self.url = url
        self.origin = origin
        self.key = origin.key
        self.raw = raw
        """The exact bytes written to the connection."""
        self.headers = headers
        """The caller's headers as given (redirects rebuild the request from them)."""
        self.body = body
        self.head = method == "HEAD"
        self.idempotent = method in _IDEMPOTENT

    def __repr__(self) -> str:
        return f"<PreparedRequest {self.method} {self.url}>"


def _build(
    method: str, target: str, origin: Origin, headers: Mapping[str, str] | None, body: bytes | None
) -> bytes:
    host = origin.host_header
    agent = True
    lines = []
    if headers:
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name):
                raise UsageError(f"invalid header name {name!r}")
            value = str(value)
            if "\r" in value or "\n" in value:
                raise UsageError(f"header {name!r} has a line break in its value")
            low = name.lower()
            if low in _FRAMING:
                if low == "host":
                    host = value
                elif low == "connection" and value.lower() != "keep-alive":
                    lines.append(f"{name}: {value}\r\n")
                continue
            if low == "user-agent":
                agent = False
            lines.append(f"{name}: {value}\r\n")
    if agent:
        lines.append(f"User-Agent: {USER_AGENT}\r\n")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}\r\n")
    elif method in _BODY_METHODS:
        lines.append("Content-Length: 0\r\n")
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{''.join(lines)}\r\n".encode()
    return head + body if body else head


def _not_retried(exc: StaleConnection, prepared: PreparedRequest, retried: bool) -> ProtocolError:
    why = "a retry also failed" if retried else f"{prepared.method} is not idempotent"
    return ProtocolError(f"{exc} before responding; not retried ({why})")


class HttpClient:
    """HTTP/1.1 client with one keep-alive pool per origin.

    ``timeout`` (seconds) bounds each request from the start of :meth:`send` to the last
    byte of the response: waiting for a pool slot, connecting, TLS, sending and receiving.
    Redirects are returned as they are unless ``follow_redirects`` is set. The default
    ``ssl_context`` verifies certificates. ``max_connections_per_host`` caps each origin's
    connections (requests beyond it wait in FIFO order); ``None`` means no cap.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        follow_redirects: bool = False,
        max_redirects: int = 10,
        ssl_context: ssl.SSLContext | None = None,
        max_connections_per_host: int | None = None,
    ) -> None:
        if not timeout > 0:
            raise UsageError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if max_redirects < 0:
            raise UsageError(f"max_redirects must be >= 0, got {max_redirects!r}")
        if max_connections_per_host is not None and max_connections_per_host < 1:
            raise UsageError(
                f"max_connections_per_host must be >= 1 or None, got {max_connections_per_host!r}"
            )
        self.timeout = float(timeout)
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.max_connections_per_host = max_connections_per_host
        self._ssl = ssl_context
        self._pools: dict[str, HostPool] = {}
        self._closed = False
        self._opened_before_close = 0
        self._streams: set[SSEConnection | WSConnectionProtocol] = set()

    # -- building requests ---------------------------------------------------------------

    def prepare(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> PreparedRequest:
        """Resolve ``url``'s origin and build the request bytes once.

        Raises :class:`~slokit.errors.UsageError` for a URL, method or header that cannot
        make a valid request. ``Content-Length`` is always computed here.
        """
        if not _TOKEN.fullmatch(method):
            raise UsageError(f"invalid HTTP method {method!r}")
        origin, target = split_url(url)
        if isinstance(body, str):
            body = body.encode()
        raw = _build(method, target, origin, headers, body)
        return PreparedRequest(method, url, origin, raw, headers, body)

    # -- sending -------------------------------------------------------------------------

    async def send(self, prepared: PreparedRequest, *, timeout: float | None = None) -> Response:
        """Send a prepared request and return the complete response (any status).

        ``timeout`` overrides the client's for this request. Raises ConnectError,
        RequestTimeout or ProtocolError. A GET/HEAD/PUT/DELETE/OPTIONS/TRACE whose reused
        keep-alive connection turns out closed before any response byte is sent once more
        on a fresh connection; other methods fail with ProtocolError.
        """
        if timeout is None:
            timeout = self.timeout
        deadline = 0.0  # perf_counter() value; computed only off the hot path
        pool = self._pools.get(prepared.key)
        idle = pool.idle if pool is not None else None
        if idle:
            # Hot path, kept inline (no extra coroutine): the origin's last idle connection.
            assert pool is not None
            conn = idle.pop()
            if conn.reusable:
                try:
                    response = await conn.send(prepared.raw, prepared.head, timeout)
                except StaleConnection as exc:
                    pool.discard(conn)
                    if not prepared.idempotent:
                        raise _not_retried(exc, prepared, False) from None
                    deadline = conn.started + timeout
                    response = await self._exchange(prepared, timeout, deadline, conn.started)
                except BaseException:
                    pool.discard(conn)
                    raise
                else:
                    if conn.reusable and not pool.waiters:
                        idle.append(conn)
                    else:
                        pool.release(conn)
                    response.url = prepared.url
            else:
                pool.discard(conn)
                deadline = perf_counter() + timeout
                response = await self._exchange(prepared, timeout, deadline)
        else:
            deadline = perf_counter() + timeout
            response = await self._exchange(prepared, timeout, deadline)
        if self.follow_redirects and response.status in _REDIRECTS:
            deadline = deadline or response.started + timeout
            return await self._follow(prepared, response, timeout, deadline)
        return response

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        json: Any = _UNSET,
        timeout: float | None = None,
    ) -> Response:
        """Prepare and send one request; ``json=`` sends compact JSON with its Content-Type."""
        if json is not _UNSET:
            if body is not None:
                raise UsageError("give either body= or json=, not both")
            body = _json.dumps(json, separators=(",", ":")).encode()
            if not headers or not any(k.lower() == "content-type" for k in headers):
                headers = {**(headers or {}), "Content-Type": "application/json"}
        return await self.send(self.prepare(method, url, headers, body), timeout=timeout)

    async def _exchange(
        self, prepared: PreparedRequest, timeout: float, deadline: float, retry_of: float = 0.0
    ) -> Response:
        """One request on any connection of the pool; ``retry_of``: started of a stale try."""
        pool = self._pools.get(prepared.key)
        if pool is None:
            pool = self._pool_for(prepared.origin)
        retried = retry_of > 0
        while True:
            conn = pool.take_idle()
            if conn is None:
                conn = await pool.acquire(deadline, timeout)
            try:
                response = await conn.send(prepared.raw, prepared.head, timeout, deadline)
            except StaleConnection as exc:
                pool.discard(conn)
                if retried or not prepared.idempotent:
                    raise _not_retried(exc, prepared, retried) from None
                retried = True
                retry_of = conn.started
                continue
            except BaseException:
                pool.discard(conn)
                raise
            pool.release(conn)
            response.url = prepared.url
            if retried:
                # The user waited for both tries: latency counts from the first write.
                response.started = retry_of
            return response

    async def _follow(
        self, prepared: PreparedRequest, response: Response, timeout: float, deadline: float
    ) -> Response:
        first_url = prepared.url
        started = response.started
        sent = response.bytes_sent
        received = response.bytes_received
        hops = 0
        while response.status in _REDIRECTS:
            location = response.header("location")
            if location is None:
                break
            if hops >= self.max_redirects:
                raise ProtocolError(
                    f"too many redirects: more than {self.max_redirects} starting at {first_url} "
                    f"(last Location: {location})"
                )
            hops += 1
            prepared = self._redirected(prepared, response.status, location)
            response = await self._exchange(prepared, timeout, deadline)
            sent += response.bytes_sent
            received += response.bytes_received
        response.started = started
        response.bytes_sent = sent
        response.bytes_received = received
        return response

    def _redirected(self, prepared: PreparedRequest, status: int, location: str) -> PreparedRequest:
        url = join_location(prepared.url, location)
        method, body = prepared.method, prepared.body
        headers = dict(prepared.headers or {})
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, body = "GET", None
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        try:
            origin, _ = split_url(url)
        except UsageError as exc:
            raise ProtocolError(f"cannot follow redirect to {location!r}: {exc}") from None
        if origin.key != prepared.origin.key:
            # Credentials and a pinned Host belong to the origin they were given for.
            dropped = {"authorization", "proxy-authorization", "cookie", "host"}
            headers = {k: v for k, v in headers.items() if k.lower() not in dropped}
        try:
            return self.prepare(method, url, headers, body)
        except UsageError as exc:
            raise ProtocolError(f"cannot follow redirect to {location!r}: {exc}") from None

    # -- streams -------------------------------------------------------------------------

    async def open_sse(self, prepared: PreparedRequest, timeout: float) -> SSEConnection:
        """Send ``prepared`` on a connection of its own and return once the response head
        is in; the body is then read with :meth:`SSEConnection.read`. Raises ConnectError,
        RequestTimeout or ProtocolError like :meth:`send`."""
        return await self._open_stream(
            prepared.origin, timeout, SSEConnection, lambda conn: conn.send(prepared.raw)
        )

    async def open_ws(
        self, url: str, headers: Mapping[str, str] | None, timeout: float
    ) -> WSConnectionProtocol:
        """Open a WebSocket (``ws://``, ``wss://``, or ``http(s)://`` meaning the same)
        and return once the server accepted or refused it (see ``status``)."""
        origin, target = split_url(_http_url(url))
        extra: list[tuple[str, str]] = []
        host = origin.host_header
        for name, value in (headers or {}).items():
            if not _TOKEN.fullmatch(name):
                raise UsageError(f"invalid header name {name!r}")
            if name.lower() == "host":
                host = str(value)
            elif name.lower() not in _FRAMING:
                extra.append((name, str(value)))
        if not any(k.lower() == "user-agent" for k, _ in extra):
            extra.append(("User-Agent", USER_AGENT))
        return await self._open_stream(
            origin, timeout, WSConnectionProtocol, lambda conn: conn.open(host, target, extra)
        )

    async def _open_stream(
        self, origin: Origin, timeout: float, factory: type[S], start: Callable[[S], None]
    ) -> S:
        """A connection of its own for a stream: ``start`` writes the request, and it is
        returned once the response head is in (closed and forgotten if that fails)."""
        deadline = perf_counter() + timeout
        pool = self._pools.get(origin.key) or self._pool_for(origin)
        conn = await pool.connect(asyncio.get_running_loop(), deadline, timeout, factory)
        if self._closed:
            conn.close()
            raise ConnectError(f"cannot connect to {origin.label}: the client was closed")
        self._streams.add(conn)
        try:
            start(conn)
            await conn.head(max(0.0, deadline - perf_counter()))
        except BaseException:
            conn.close()
            self._streams.discard(conn)
            raise
        return conn

    def stream_closed(self, conn: SSEConnection | WSConnectionProtocol) -> None:
        """A stream is over: the client stops tracking it (it closes any still open)."""
        self._streams.discard(conn)

    # -- pools ---------------------------------------------------------------------------

    def _pool_for(self, origin: Origin) -> HostPool:
        if self._closed:
            raise ConnectError(f"cannot connect to {origin.label}: the HTTP client is closed")
        pool = self._pools.get(origin.key)
        if pool is None:
            context = None
            if origin.tls:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                    self._ssl.set_alpn_protocols(["http/1.1"])
                context = self._ssl
            pool = self._pools[origin.key] = HostPool(
                origin, context, self.max_connections_per_host
            )
        return pool

    @property
    def connections_opened(self) -> int:
        """Connections opened so far over all origins (a keep-alive health signal)."""
        return self._opened_before_close + sum(p.opened for p in self._pools.values())

    async def aclose(self) -> None:
        """Close every connection; requests still in flight fail. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for stream in list(self._streams):
            stream.close()
        self._streams.clear()
        pools = list(self._pools.values())
        self._opened_before_close += sum(p.opened for p in pools)
        self._pools.clear()
        for pool in pools:
            pool.close()
        # Let the transports run connection_lost before the caller's loop may end.
        await asyncio.sleep(0)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
