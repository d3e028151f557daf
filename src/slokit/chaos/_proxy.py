"""One named proxy: its listener, its live connections, its toxics and its traffic counts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from slokit._net import is_loopback
from slokit.chaos._address import join_address, resolve, split_address
from slokit.chaos._connection import Connection, Traffic
from slokit.chaos._model import STREAMS, ProxyConfig, Toxic
from slokit.errors import ProxyError

__all__ = ["Proxy"]

_CONNECT_TIMEOUT = 10.0

logger = logging.getLogger("slokit.chaos")


class Proxy:
    """Listens on ``listen`` while enabled; each client connection is joined to ``upstream``.

    ``handlers`` collects the task of every accepted connection, so whoever owns the proxies
    can wait for all of them to end when shutting down.
    """

    def __init__(
        self, config: ProxyConfig, *, allow_remote: bool, handlers: set[asyncio.Task[Any]]
    ) -> None:
        self.name = config.name
        self.listen = config.listen
        self.upstream = config.upstream
        self.enabled = False
        self.traffic = Traffic()
        self.connections_total = 0
        self._toxics: dict[str, Toxic] = {}
        self._connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._allow_remote = allow_remote
        self._handlers = handlers

    @property
    def connections_active(self) -> int:
        return len(self._connections)

    def toxics(self) -> list[Toxic]:
        """Upstream toxics first, then downstream, each in the order added (as Toxiproxy)."""
        return [t for stream in STREAMS for t in self._toxics.values() if t.stream == stream]

    def config(self) -> ProxyConfig:
        return ProxyConfig(
            name=self.name,
            upstream=self.upstream,
            listen=self.listen,
            enabled=self.enabled,
            toxics=tuple(self.toxics()),
        )

    async def start(self) -> None:
        """Listen (again) on ``listen``; port 0 becomes the port the system picked."""
        if self.enabled:
            return
        try:
            host, port = await resolve(self.listen)
        except (OSError, ValueError) as exc:
            raise self._cannot_listen(exc) from None
        if not self._allow_remote and not is_loopback(host):
            raise ProxyError(
                f"proxy {self.name!r} would listen on {self.listen}, which is not a loopback "
                "address: anyone who can reach it gets through to the upstream. Listen on "
                "127.0.0.1, or start slokit proxy with --allow-remote "
                "(open_fault_proxy(allow_remote=True)) to accept it",
                status=400,
                error=f"listen address {self.listen} is not loopback (see --allow-remote)",
            )
        try:
            server = await asyncio.start_server(self._accept, host, port)
        except OSError as exc:
            raise self._cannot_listen(exc) from None
        bound = server.sockets[0].getsockname()
        self.listen = join_address(bound[0], bound[1])
        self._server = server
        self.enabled = True

    def stop(self) -> None:
        """Stop listening and close every connection (the proxy is "down")."""
        if not self.enabled:
            return
        self.enabled = False
        if self._server is not None:
            self._server.close()  # closes the listening socket now; the port is free again
            self._server = None
        for conn in list(self._connections):
            conn.close()

    def add_toxic(self, toxic: Toxic) -> None:
        if toxic.name in self._toxics:
            raise ProxyError(
                f"proxy {self.name!r} already has a toxic named {toxic.name!r}: update or "
                "remove it, or give the new one another name",
                status=409,
                error="toxic already exists",
            )
        self._toxics[toxic.name] = toxic
        for conn in self._connections:
            conn.add_toxic(toxic)

    def toxic(self, name: str) -> Toxic:
        try:
            return self._toxics[name]
        except KeyError:
            known = ", ".join(self._toxics) or "none"
            raise ProxyError(
                f"proxy {self.name!r} has no toxic named {name!r} (it has: {known})",
                status=404,
                error="toxic not found",
            ) from None

    def update_toxic(self, toxic: Toxic) -> None:
        self.toxic(toxic.name)
        self._toxics[toxic.name] = toxic
        for conn in self._connections:
            conn.update_toxic(toxic)

    def remove_toxic(self, name: str) -> None:
        toxic = self._toxics.pop(self.toxic(name).name)
        for conn in list(self._connections):
            conn.remove_toxic(toxic)

    def _cannot_listen(self, exc: BaseException) -> ProxyError:
        return ProxyError(
            f"proxy {self.name!r} cannot listen on {self.listen}: {exc}; pick a free port "
            "(port 0 picks one) or stop what holds it",
            status=500,
            error=f"listen tcp {self.listen}: {exc}",
        )

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer, self._server)
        finally:
            self._handlers.discard(task)

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        listener: asyncio.Server | None,
    ) -> None:
        self.connections_total += 1
        upstream = await self._dial()
        if upstream is None or self._server is not listener or listener is None:
            # No upstream (the client sees its connection closed, as with Toxiproxy), or the
            # proxy went down while dialling.
            for each in (writer, upstream[1] if upstream else None):
                if each is not None:
                    each.close()
                    with contextlib.suppress(OSError):
                        await each.wait_closed()
            return
        conn = Connection((reader, writer), upstream, self.toxics(), self.traffic)
        self._connections.add(conn)
        try:
            await conn.run()
        finally:
            self._connections.discard(conn)

    async def _dial(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        host, port = split_address(self.upstream)
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                return await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            logger.warning(
                "proxy %s: cannot connect to upstream %s (%s); closed the client connection",
                self.name,
                self.upstream,
                exc or type(exc).__name__,
            )
            return None
