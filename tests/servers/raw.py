"""A raw HTTP/1.1 server for client edge cases: plain or TLS, in a background thread.

::

    with RawServer() as srv:            # 127.0.0.1, a free port, its own event loop
        url = srv.url + "/chunked"      # behaviours are chosen by path (see default_handler)
        ...
        assert srv.connections == 1     # connections accepted so far

Paths of :func:`default_handler` (HEAD is honoured everywhere: headers, no body):

=======================  ==================================================================
``/ok``                  200 with Content-Length (``?body=text`` to choose the body)
``/chunked``             chunked body in several writes, with a trailer
``/close``               200 with ``Connection: close``, then the server closes
``/eof``                 no length: body until the server closes (``?bytes=N``)
``/http10``              an HTTP/1.0 response without keep-alive, then close
``/slow?ms=N``           waits N ms, then 200
``/stall``               reads the request and never answers
``/reset``               RST (SO_LINGER 0) right after reading the request
``/reset-mid``           headers and half the body, then RST
``/short``               Content-Length 10, 5 bytes, then a clean close (truncated body)
``/partial-headers``     half a header block, then close
``/garbage``             bytes that are not HTTP
``/redirect``            ``?to=URL&code=302`` (relative URLs allowed)
``/redirect-loop``       redirects to itself forever
``/head``                body on GET, headers only on HEAD
``/204``, ``/304``       no body (304 carries a Content-Length that must be ignored)
``/100-continue``        ``100 Continue`` and ``103 Early Hints`` before the 200
``/echo``                JSON of method, path, query, headers, body and connection index
``/big?bytes=N``         N bytes of ``x`` with Content-Length
``/status?code=N``       that status, short body
``/headers``             repeated and oddly cased headers
``/drop-next``           200; the NEXT request on this connection is read and then
                         the connection is closed without a response
``/close-after?ms=N``    200 (keep-alive), then the server closes the idle connection
=======================  ==================================================================

A custom handler ``async def handler(request, conn) -> bool`` (True keeps the connection
open) may answer some paths itself and return ``await default_handler(request, conn)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ROUTES",
    "RawConnection",
    "RawRequest",
    "RawServer",
    "default_handler",
    "respond",
    "respond_bytes",
    "run",
]

T = TypeVar("T")
Handler = Callable[["RawRequest", "RawConnection"], Awaitable[bool]]

_REASONS = {
    200: "OK",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    404: "Not Found",
    500: "Internal Server Error",
}


@dataclass
class RawRequest:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path
        self.query = dict(parse_qsl(parts.query))

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class RawConnection:
    """One accepted connection as a handler sees it."""

    def __init__(
        self, server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.drop_next = False
        self.requests = 0
        self.index = server.connections
        """1-based order in which the server accepted this connection."""

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    request = RawRequest(method, target, version, headers, b"")
    length = request.header("content-length")
    if length:
        request.body = await reader.readexactly(int(length))
    return request


def respond_bytes(
    request: RawRequest,
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    length: bool = True,
) -> bytes:
    reason = _REASONS.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    no_body = status in (204, 304) or 100 <= status < 200
    if length and not no_body:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if request.method == "HEAD" or no_body:
        return head
    return head + body


async def respond(
    conn: RawConnection,
    request: RawRequest,
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
) -> bool:
    await conn.send(respond_bytes(request, status, body, headers))
    return True


async def _until_closed(conn: RawConnection) -> None:
    with contextlib.suppress(ConnectionError):
        while await conn.reader.read(65536):
            pass


async def _close_later(conn: RawConnection, seconds: float) -> None:
    await asyncio.sleep(seconds)
    conn.writer.close()


async def _chunked(request: RawRequest, conn: RawConnection) -> bool:
    head = (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n"
        "Content-Type: text/plain\r\n\r\n"
    )
    await conn.send(head.encode())
    if request.method == "HEAD":
        return True
    for part in (b"hello", b", ", b"chunked", b" world"):
        await conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        await asyncio.sleep(0.001)
    await conn.send(b"0\r\nX-Checksum: 42\r\n\r\n")
    return True


async def _eof(request: RawRequest, conn: RawConnection) -> bool:
    size = int(request.query.get("bytes", "0"))
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    if size:
        await conn.send(b"e" * size)
    else:
        await conn.send(b"until ")
        await asyncio.sleep(0.001)
        await conn.send(b"close")
    return False


async def _reset_mid(request: RawRequest, conn: RawConnection) -> bool:
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"m" * 500)
    await asyncio.sleep(0.05)
    conn.reset()
    return False


async def _interim(request: RawRequest, conn: RawConnection) -> bool:
    await conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    await asyncio.sleep(0.001)
    await conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
    return await respond(conn, request, 200, b"final", [("X-Final", "yes")])


def _echo(request: RawRequest, conn: RawConnection) -> bytes:
    document = {
        "connection": conn.index,
        "method": request.method,
        "target": request.target,
        "path": request.path,
        "query": request.query,
        "headers": [[name, value] for name, value in request.headers],
        "body": request.body.decode("utf-8", errors="replace"),
        "body_length": len(request.body),
    }
    return json.dumps(document).encode()


async def _ok(request: RawRequest, conn: RawConnection) -> bool:
    return await respond(conn, request, 200, request.query.get("body", "ok").encode())


async def _close(request: RawRequest, conn: RawConnection) -> bool:
    await respond(conn, request, 200, b"closing", [("Connection", "close")])
    return False


async def _http10(request: RawRequest, conn: RawConnection) -> bool:
    await conn.send(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nold ok")
    return False


async def _slow(request: RawRequest, conn: RawConnection) -> bool:
    await asyncio.sleep(int(request.query.get("ms", "100")) / 1000)
    return await respond(conn, request, 200, b"slow")


async def _stall(request: RawRequest, conn: RawConnection) -> bool:
    await _until_closed(conn)
    return False


async def _reset(request: RawRequest, conn: RawConnection) -> bool:
    conn.reset()
    return False


async def _short(request: RawRequest, conn: RawConnection) -> bool:
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
    return False


async def _partial_headers(request: RawRequest, conn: RawConnection) -> bool:
    await conn.send(b"HTTP/1.1 200 OK\r\nContent-Le")
    return False


async def _garbage(request: RawRequest, conn: RawConnection) -> bool:
    await conn.send(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff not http at all\r\n\r\n")
    await _until_closed(conn)
    return False


async def _redirect(request: RawRequest, conn: RawConnection) -> bool:
    code = int(request.query.get("code", "302"))
    location = request.query.get("to", "/ok")
    return await respond(conn, request, code, b"", [("Location", location)])


async def _redirect_loop(request: RawRequest, conn: RawConnection) -> bool:
    return await respond(conn, request, 302, b"", [("Location", "/redirect-loop")])


async def _head(request: RawRequest, conn: RawConnection) -> bool:
    return await respond(conn, request, 200, b"head body", [("X-Head", "1")])


async def _no_content(request: RawRequest, conn: RawConnection) -> bool:
    return await respond(conn, request, 204, b"", [("X-No", "content")])


async def _not_modified(request: RawRequest, conn: RawConnection) -> bool:
    await conn.send(b'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: "x"\r\n\r\n')
    return True


async def _echo_handler(request: RawRequest, conn: RawConnection) -> bool:
    headers = [("Content-Type", "application/json")]
    return await respond(conn, request, 200, _echo(request, conn), headers)


async def _big(request: RawRequest, conn: RawConnection) -> bool:
    size = int(request.query.get("bytes", "1000000"))
    await conn.send(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
    if request.method != "HEAD":
        for start in range(0, size, 65536):
            await conn.send(b"x" * min(65536, size - start))
    return True


async def _status(request: RawRequest, conn: RawConnection) -> bool:
    code = int(request.query.get("code", "500"))
    return await respond(conn, request, code, f"status {code}".encode())


async def _headers(request: RawRequest, conn: RawConnection) -> bool:
    extra = [("X-Multi", "a"), ("x-multi", "b"), ("X-Empty", ""), ("CONTENT-type", "text/x")]
    return await respond(conn, request, 200, b"h", extra)


async def _drop_next(request: RawRequest, conn: RawConnection) -> bool:
    conn.drop_next = True
    return await respond(conn, request, 200, b"dropping next")


async def _close_after(request: RawRequest, conn: RawConnection) -> bool:
    await respond(conn, request, 200, b"closing soon")
    seconds = int(request.query.get("ms", "50")) / 1000
    asyncio.get_running_loop().create_task(_close_later(conn, seconds))
    return True


ROUTES: dict[str, Handler] = {
    "/ok": _ok,
    "/chunked": _chunked,
    "/close": _close,
    "/eof": _eof,
    "/http10": _http10,
    "/slow": _slow,
    "/stall": _stall,
    "/reset": _reset,
    "/reset-mid": _reset_mid,
    "/short": _short,
    "/partial-headers": _partial_headers,
    "/garbage": _garbage,
    "/redirect": _redirect,
    "/redirect-loop": _redirect_loop,
    "/head": _head,
    "/204": _no_content,
    "/304": _not_modified,
    "/100-continue": _interim,
    "/echo": _echo_handler,
    "/big": _big,
    "/status": _status,
    "/headers": _headers,
    "/drop-next": _drop_next,
    "/close-after": _close_after,
}
"""Path -> behaviour of :func:`default_handler` (see the module docstring)."""


async def default_handler(request: RawRequest, conn: RawConnection) -> bool:
    """The behaviours listed in the module docstring; 404 for any other path."""
    route = ROUTES.get(request.path)
    if route is None:
        return await respond(conn, request, 404, b"not found")
    return await route(request, conn)


class RawServer:
    """The raw server on 127.0.0.1 (port 0) in a thread with its own event loop."""

    host = "127.0.0.1"

    def __init__(
        self, handler: Handler | None = None, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.handler = handler or default_handler
        self.ssl_context = ssl_context
        self.port = 0
        self.connections = 0
        """Connections accepted so far."""
        self.requests = 0
        """Requests read so far."""
        self.sni_names: list[str | None] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._error: BaseException | None = None
        if ssl_context is not None:
            ssl_context.sni_callback = self._on_sni

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def _on_sni(self, _sock: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.sni_names.append(name)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> RawServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("raw test server did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"raw test server failed to start: {self._error}")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    def kill(self) -> None:
        """The server dies: stop listening and drop every open connection."""
        loop = self._loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(self._kill(), loop).result(10)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # TLS handshakes the client refuses and peers that reset are expected here.
        loop.set_exception_handler(lambda _loop, _context: None)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._serve, self.host, 0, ssl=self.ssl_context, limit=1 << 20, backlog=1024
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # reported by start()
            self._error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._kill())
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

    async def _kill(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        conn = RawConnection(self, reader, writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                self.requests += 1
                conn.requests += 1
                if conn.drop_next:
                    break
                if not await self.handler(request, conn):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def run(main: Coroutine[Any, Any, T], loop: str = "asyncio", timeout: float = 60.0) -> T:
    """Run a test coroutine on a fresh ``asyncio`` or ``uvloop`` loop, bounded in time."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(asyncio.wait_for(main, timeout))
