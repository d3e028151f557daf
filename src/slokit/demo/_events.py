"""The demo's event stream: every order placed, as Server-Sent Events, to every listener.

Each listener has a bounded queue: a slow client loses its oldest events (and sees the gap
in the ids), it never slows an order down. The last :data:`REPLAY` events are kept, so a
client that reconnects with ``Last-Event-ID`` gets what it missed first.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["REPLAY", "EventHub"]

REPLAY = 1000
"""Events kept for clients that reconnect, and the most a listener may fall behind."""


class EventHub:
    def __init__(self) -> None:
        self._next = 1
        self._recent: deque[tuple[int, str]] = deque(maxlen=REPLAY)
        self._listeners: set[asyncio.Queue[tuple[int, str]]] = set()

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def publish(self, kind: str, data: Any) -> None:
        event_id = self._next
        self._next += 1
        frame = f"event: {kind}\nid: {event_id}\ndata: {json.dumps(data)}\n\n"
        self._recent.append((event_id, frame))
        for queue in self._listeners:
            if queue.full():
                queue.get_nowait()  # drop this listener's oldest, never block the order
            queue.put_nowait((event_id, frame))

    async def stream(self, last_id: int | None, heartbeat: float) -> AsyncIterator[bytes]:
        """The body of one SSE response: retry, missed events, then live ones and
        heartbeat comments while nothing happens."""
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(maxsize=REPLAY)
        self._listeners.add(queue)
        try:
            yield b"retry: 2000\n\n"
            seen = 0
            if last_id is not None:
                for event_id, frame in list(self._recent):
                    if event_id > last_id:
                        seen = event_id
                        yield frame.encode()
            while True:
                try:
                    event_id, frame = await asyncio.wait_for(queue.get(), heartbeat)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if event_id <= seen:
                    continue  # placed while the replay ran: already sent from the buffer
                yield frame.encode()
        finally:
            self._listeners.discard(queue)
