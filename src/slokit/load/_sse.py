"""An incremental ``text/event-stream`` parser following the WHATWG EventSource rules.

Sans-IO: :meth:`SSEParser.feed` takes whatever bytes the socket delivered (a line may be
split anywhere, even between the ``\\r`` and ``\\n`` of one line ending) and returns the
events those bytes completed. What the rules say, and this does:

- lines end with CRLF, LF or CR; a leading UTF-8 BOM is dropped once;
- ``field: value`` loses one space after the colon; a line without a colon is a field with
  an empty value; a line starting with ``:`` is a comment (servers send them as heartbeats);
- ``data`` lines are joined with ``\\n``; a blank line dispatches, an event with no data
  is not dispatched (but its ``id`` still becomes the last event id);
- ``id`` containing NUL is ignored; ``retry`` is used only when it is all ASCII digits;
- unknown fields are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEParser"]

_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: ``event`` is ``"message"`` unless the server named it."""

    data: str
    event: str = "message"
    id: str = ""
    """The last event id when this event was dispatched (what a reconnect sends)."""


class SSEParser:
    __slots__ = (
        "_cr",
        "_data",
        "_event",
        "_pending",
        "_started",
        "comments",
        "last_id",
        "retry_ms",
    )

    def __init__(self) -> None:
        self._pending = b""
        self._cr = False  # the last chunk ended in CR: a following LF belongs to that line
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self.last_id = ""
        """The last event id buffer: sent as ``Last-Event-ID`` when reconnecting."""
        self.retry_ms: int | None = None
        """The reconnection time the server asked for, if any."""
        self.comments = 0
        """Comment lines seen (heartbeats)."""

    def reset_stream(self) -> None:
        """A new connection: a half line or half event of the old one is thrown away (as
        EventSource does); ``last_id`` and ``retry_ms`` carry over."""
        self._pending = b""
        self._cr = False
        self._started = False
        self._data = []
        self._event = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = False
        buf = self._pending + chunk if self._pending else chunk
        events: list[SSEEvent] = []
        start = 0
        size = len(buf)
        while start < size:
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, lf if lf >= 0 else size)
            if cr >= 0:
                end, nxt = cr, cr + 1
                if nxt < size and buf[nxt] == 0x0A:
                    nxt += 1
                elif nxt == size:
                    self._cr = True
            elif lf >= 0:
                end, nxt = lf, lf + 1
            else:
                break
            self._line(buf[start:end].decode("utf-8", "replace"), events)
            start = nxt
        self._pending = buf[start:]
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not self._started:
            self._started = True
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            self._dispatch(events)
            return
        if line[0] == ":":
            self.comments += 1
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        data, event = self._data, self._event
        self._data = []
        self._event = ""
        if not data:
            return
        events.append(SSEEvent("\n".join(data), event or "message", self.last_id))
