"""A small HTTP/1.1 server whose failures are programmed by path, for client resilience tests.

::

    with FaultServer() as srv:           # 127.0.0.1, a free port, its own thread and loop
        httpx.get(srv.url + "/flaky?fail=2&key=a")
        assert srv.count("a") == 1       # requests seen for key "a"

Every request with a ``key`` query parameter is counted for that key when it arrives
(except ``/count`` itself). Keep-alive unless the client asks for ``Connection: close``.

===================================  ===========================================================
``/ok``                              200 ``ok``
``/status/N``                        status N (``ok`` body)
``/flaky?fail=N&key=K``              503 for the first N requests of K, then 200
``/slow?ms=N``                       waits N ms, then 200
``/retry-after?secs=S&key=K``        first request of K: 503 with ``Retry-After: S``; then 200
``/count?key=K``                     ``{"key": K, "count": n}``: requests seen for K
``/echo-headers``                    the request headers as a JSON object (lower-case names)
``/drop``                            reads the request, closes the connection without answering
``/hold?key=K``                      answers 200 only once the test calls ``srv.release(K)``
===================================  ===========================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

__all__ = ["FaultServer"]


class FaultServer:
    def __init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._gates: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control, from the test's thread ---------------------------------------------------

    def start(self) -> FaultServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault server did not start within 10 s")
        if self._error is not None:
            self._thread.join(5)
            raise RuntimeError("fault server failed to start") from self._error
        return self

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
        if self._thread.ident is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                raise RuntimeError("fault server thread did not stop within 10 s")

    def count(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def release(self, key: str) -> None:
        """Let every ``/hold?key=K`` request answer, now and later."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(lambda: self._gate(key).set())

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the server, on its own thread -----------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() if it happened before ready
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        try:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()

    def _gate(self, key: str) -> asyncio.Event:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = asyncio.Event()
        return gate

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()  # the socket is closed only once this has run

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request and its answer; whether the connection stays open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed the connection between requests
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                value = value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        if "chunked" in headers.get("transfer-encoding", ""):
            raise ConnectionError("chunked request bodies are not supported")
        keep_alive = headers.get("connection", "").lower() != "close"

        url = urlsplit(target)
        path = url.path
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        key = query.get("key")
        seen = 0
        if key is not None and path != "/count":
            with self._lock:
                seen = self._counts[key] = self._counts.get(key, 0) + 1

        status, body, extra = 200, b"ok", {}
        content_type = "text/plain"
        if path == "/drop":
            return False
        if path.startswith("/status/"):
            status = int(path.removeprefix("/status/"))
        elif path == "/flaky":
            if seen <= int(query.get("fail", "1")):
                status = 503
        elif path == "/slow":
            await asyncio.sleep(int(query.get("ms", "100")) / 1000)
        elif path == "/retry-after":
            if seen <= 1:
                status, extra = 503, {"Retry-After": query.get("secs", "1")}
        elif path == "/count":
            body = json.dumps({"key": key, "count": self.count(key or "")}).encode()
            content_type = "application/json"
        elif path == "/echo-headers":
            body = json.dumps(headers).encode()
            content_type = "application/json"
        elif path == "/hold":
            await self._gate(key or "").wait()
        elif path != "/ok":
            status, body = 404, b"no such fault"

        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        out = [
            f"HTTP/1.1 {status} {reason}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in extra.items()),
        ]
        if not keep_alive:
            out.append("Connection: close")
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if method != "HEAD":
            writer.write(body)
        await writer.drain()
        return keep_alive
