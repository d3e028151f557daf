"""Keep-alive connections of one origin: LIFO idle list, optional cap with a FIFO wait queue.

Each virtual user holds at most one connection at a time, so with no cap the pool opens
as many connections as there are concurrent requests and never makes one VU wait for
another. The client's hot path pops and pushes :attr:`HostPool.idle` itself; everything
here runs only when a connection has to be opened, waited for, or dropped.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import TypeVar

from slokit.errors import ConnectError, ProtocolError, RequestTimeout
from slokit.load._protocol import Connection
from slokit.load._url import Origin

__all__ = ["HostPool"]

P = TypeVar("P", bound=asyncio.Protocol)

DNS_TTL = 60.0
"""Seconds a resolved address list is reused: a load test may open many connections."""


def _expire(waiter: asyncio.Future[Connection | None], message: str) -> None:
    if not waiter.done():
        waiter.set_exception(RequestTimeout(message))


class HostPool:
    """Connections to one origin (scheme, host, port)."""

    __slots__ = (
        "_addrs",
        "_is_ip",
        "_resolved_at",
        "_ssl",
        "closed",
        "conns",
        "count",
        "idle",
        "limit",
        "opened",
        "origin",
        "waiters",
    )

    def __init__(self, origin: Origin, ssl_context: ssl.SSLContext | None, limit: int | None):
        self.origin = origin
        self._ssl = ssl_context
        self.limit = limit
        self.idle: list[Connection] = []
        """Live connections not in use; the last one pushed is reused first (LIFO)."""
        self.conns: set[Connection] = set()
        self.count = 0
        """Connections open or being opened: the slots ``limit`` caps."""
        self.opened = 0
        """Connections ever opened (for statistics and tests)."""
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closed = False
        self._is_ip = origin.is_ip
        self._addrs: list[str] = []
        self._resolved_at = 0.0

    def take_idle(self) -> Connection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.reusable:
                return conn
            self._forget(conn)
        return None

    async def acquire(self, deadline: float, timeout: float) -> Connection:
        """A live connection: an idle one, a new one, or the next one released (FIFO).

        ``deadline`` is a :func:`time.perf_counter` value.
        """
        loop = asyncio.get_running_loop()
        while True:
            conn = self.take_idle()
            if conn is not None:
                return conn
            if self.closed:
                raise ConnectError(f"cannot connect to {self.origin.label}: the client is closed")
            if self.limit is None or self.count < self.limit:
                self.count += 1
                return await self._open(loop, deadline, timeout)
            handed = await self._wait(loop, deadline, timeout)
            if handed is not None:
                return handed
            if not self.closed:
                # A slot (not a connection) was handed over: it is already counted.
                return await self._open(loop, deadline, timeout)

    def release(self, conn: Connection) -> None:
        """A connection is back from a request: hand it on, keep it idle, or close it."""
        if not conn.reusable or self.closed:
            self.discard(conn)
            return
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    def discard(self, conn: Connection) -> None:
        """Close a connection that must not be reused and free its slot."""
        conn.close()
        self._forget(conn)

    def close(self) -> None:
        """Close every connection; requests in flight and waiting ones fail."""
        self.closed = True
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_exception(
                    ConnectError(f"cannot connect to {self.origin.label}: the client was closed")
                )
        self.waiters.clear()
        for conn in list(self.conns):
            conn.close(ProtocolError(f"request to {self.origin.label} aborted: client closed"))
        self.conns.clear()
        self.idle.clear()
        self.count = 0

    # -- slow paths ----------------------------------------------------------------------

    def _forget(self, conn: Connection) -> None:
        if conn in self.conns:
            self.conns.remove(conn)
            self._free_slot()

    def _free_slot(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self.count > 0:
            self.count -= 1

    async def _wait(
        self, loop: asyncio.AbstractEventLoop, deadline: float, timeout: float
    ) -> Connection | None:
        waiter: asyncio.Future[Connection | None] = loop.create_future()
        self.waiters.append(waiter)
        message = (
            f"no free connection to {self.origin.label} within {timeout:g} s "
            f"(max_connections_per_host={self.limit})"
        )
        timer = loop.call_later(max(0.0, deadline - perf_counter()), _expire, waiter, message)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection or a slot just as we were cancelled: pass it on.
                handed = waiter.result()
                if handed is None:
                    self._free_slot()
                else:
                    self.release(handed)
            raise
        finally:
            timer.cancel()

    async def _open(
        self, loop: asyncio.AbstractEventLoop, deadline: float, timeout: float
    ) -> Connection:
        """Open a connection into a slot already counted; the slot is freed on failure."""
        try:
            conn = await self._connect(loop, deadline, timeout)
        except BaseException:
            self._free_slot()
            raise
        if self.closed:
            conn.close()
            raise ConnectError(f"cannot connect to {self.origin.label}: the client was closed")
        self.conns.add(conn)
        self.opened += 1
        return conn

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, deadline: float, timeout: float
    ) -> Connection:
        return await self.connect(loop, deadline, timeout, Connection)

    async def connect(
        self,
        loop: asyncio.AbstractEventLoop,
        deadline: float,
        timeout: float,
        factory: Callable[[asyncio.AbstractEventLoop, str], P],
    ) -> P:
        """A new connection outside the pool's slots, made by ``factory(loop, label)``: a
        stream holds its connection for as long as it lives, never hands it back."""
        origin = self.origin
        label = origin.label
        tls = self._ssl if origin.tls else None
        try:
            async with asyncio.timeout(deadline - perf_counter()):
                addrs = await self._resolve(loop)
                error: OSError | None = None
                for i, addr in enumerate(addrs):
                    conn = factory(loop, label)
                    try:
                        await loop.create_connection(
                            lambda conn=conn: conn,
                            addr,
                            origin.port,
                            ssl=tls,
                            server_hostname=origin.host if tls is not None else None,
                        )
                    except ssl.SSLError:
                        raise
                    except OSError as exc:
                        error = exc
                        continue
                    if i:
                        # Try the address that answered first next time.
                        addrs.insert(0, addrs.pop(i))
                    return conn
                assert error is not None
                raise error
        except TimeoutError:
            raise RequestTimeout(f"connecting to {label} took longer than {timeout:g} s") from None
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or exc.reason or str(exc)
            raise ConnectError(f"TLS handshake with {label} failed: {reason}") from None
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS handshake with {label} failed: {exc.reason or exc}") from None
        except socket.gaierror as exc:
            raise ConnectError(
                f"cannot connect to {label}: cannot resolve {origin.host!r} ({exc.strerror})"
            ) from None
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ConnectError(f"cannot connect to {label}: {reason}") from None

    async def _resolve(self, loop: asyncio.AbstractEventLoop) -> list[str]:
        if self._is_ip:
            return [self.origin.host]
        now = loop.time()
        if self._addrs and now - self._resolved_at < DNS_TTL:
            return self._addrs
        infos = await loop.getaddrinfo(self.origin.host, self.origin.port, type=socket.SOCK_STREAM)
        addrs: list[str] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = str(sockaddr[0])
            if address not in addrs:
                addrs.append(address)
        if not addrs:
            raise socket.gaierror(socket.EAI_NONAME, "no address found")
        self._addrs = addrs
        self._resolved_at = now
        return addrs
