"""One proxied TCP connection: two directions, each read in chunks and run through its toxics.

Each direction has a reader task that stamps chunks (up to 32 KiB) with their arrival time and
queues them, and a writer task that runs each chunk through the toxics of that direction and
writes what comes out. The queue is bounded, so a stalled direction stops reading and TCP
pushes back on the sender instead of the proxy buffering without end.

Either side closing its half (EOF) is passed on as a half-close; the connection closes when
both halves are done, when a toxic closes or resets it, or when its proxy is disabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from slokit.chaos._model import STREAMS, Toxic
from slokit.chaos._toxics import Stage, on_eof, process

__all__ = ["CHUNK", "Connection", "Traffic"]

CHUNK = 32 * 1024
_QUEUED_CHUNKS = 16
_CLOSE_GRACE = 1.0  # seconds a closing socket may take to flush before it is reset

logger = logging.getLogger("slokit.chaos")


@dataclass
class Traffic:
    """Bytes per direction of one proxy: read from the sender, and written to the receiver."""

    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))
    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STREAMS, 0))


class _Link:
    """One direction: ``reader`` to ``writer`` through the toxics in ``stages``."""

    def __init__(
        self,
        conn: Connection,
        stream: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        traffic: Traffic,
    ) -> None:
        self.stream = stream
        self.stages: list[Stage] = []
        self._conn = conn
        self._reader = reader
        self._writer = writer
        self._traffic = traffic
        self._queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUED_CHUNKS)

    async def pump_in(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await self._reader.read(CHUNK):
                self._traffic.received[self.stream] += len(data)
                await self._queue.put((loop.time(), data))
        except OSError:  # reset by the sender
            self._conn.close()
            return
        await self._queue.put(None)

    async def pump_out(self) -> None:
        try:
            while (item := await self._queue.get()) is not None:
                # The toxics as they are now: one added meanwhile applies from the next chunk,
                # one removed meanwhile lets go of whatever it holds at once.
                await self._push(tuple(self.stages), 0, *item)
                if self._conn.closed:
                    return
            for stage in tuple(self.stages):
                await on_eof(stage)
            if self._conn.closed:
                return
            if self._writer.can_write_eof():
                self._writer.write_eof()
        except OSError:  # the receiver went away
            self._conn.close()
            return
        self._conn.half_closed(self.stream)

    async def _push(self, chain: tuple[Stage, ...], index: int, due: float, data: bytes) -> None:
        if self._conn.closed:
            return
        if index < len(chain):
            await process(chain[index], due, data, functools.partial(self._push, chain, index + 1))
            return
        self._writer.write(data)
        self._traffic.sent[self.stream] += len(data)
        await self._writer.drain()


class Connection:
    """A client connection and its upstream connection, joined through the proxy's toxics."""

    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        toxics: Iterable[Toxic],
        traffic: Traffic,
    ) -> None:
        self.closed = False
        self._writers = (client[1], upstream[1])
        self._links = {
            "upstream": _Link(self, "upstream", client[0], upstream[1], traffic),
            "downstream": _Link(self, "downstream", upstream[0], client[1], traffic),
        }
        self._half_closed: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        for toxic in toxics:
            self.add_toxic(toxic)

    def add_toxic(self, toxic: Toxic) -> None:
        self._links[toxic.stream].stages.append(Stage(toxic, self))

    def update_toxic(self, toxic: Toxic) -> None:
        for stage in self._links[toxic.stream].stages:
            if stage.toxic.name == toxic.name:
                stage.update(toxic)

    def remove_toxic(self, toxic: Toxic) -> None:
        stages = self._links[toxic.stream].stages
        for stage in [s for s in stages if s.toxic.name == toxic.name]:
            stages.remove(stage)
            stage.remove()

    async def run(self) -> None:
        """Carry data both ways until the connection closes; return once both sockets are shut."""
        self._tasks = [
            asyncio.create_task(pump)
            for link in self._links.values()
            for pump in (link.pump_in(), link.pump_out())
        ]
        try:
            await asyncio.wait(self._tasks)
        finally:
            self.close()
            await self._sockets_closed()
        for task in self._tasks:
            if not task.cancelled() and (exc := task.exception()) is not None:
                logger.error("fault proxy connection failed", exc_info=exc)

    def half_closed(self, stream: str) -> None:
        self._half_closed.add(stream)
        if len(self._half_closed) == len(self._links):
            self.close()

    def close(self) -> None:
        """Close both sockets after flushing what was already let through (FIN)."""
        self._shut(reset=False)

    def reset(self) -> None:
        """Reset both sockets at once (RST, as with SO_LINGER 0): peers see a reset, not an EOF."""
        self._shut(reset=True)

    def _shut(self, *, reset: bool) -> None:
        if self.closed:
            return
        self.closed = True
        for link in self._links.values():
            for stage in link.stages:
                stage.stop()
        for writer in self._writers:
            if reset:
                _linger_zero(writer)
                writer.transport.abort()
            else:
                writer.close()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    async def _sockets_closed(self) -> None:
        for writer in self._writers:
            try:
                async with asyncio.timeout(_CLOSE_GRACE):
                    await writer.wait_closed()
            except TimeoutError:  # the peer reads nothing: do not hold its socket open for it
                writer.transport.abort()
            except OSError:
                pass


def _linger_zero(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
