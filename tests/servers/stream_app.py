"""A Server-Sent Events server for the SSE client's tests, shaped by query parameters.

Run it with ``uvicorn tests.servers.stream_app:app`` (or ``UvicornApp("stream_app:app")``).

``GET /sse``, all parameters optional:

==================  ===================================================================
``status``          (200) any other status: that status and a short text body, no stream
``ctype``           (``text/event-stream``) any other type: that type, ``{"ok": true}``, end
``first_byte_ms``   (0) sleep before the response head (a slow handshake)
``first_event_ms``  (0) sleep after the head, before the first event
``interval_ms``     (100) between events; the first comes right after ``first_event_ms``
``n``               (0 = no limit) events in this connection, then a clean end
``retry_ms``        a ``retry: X`` line (and a blank line) before anything else
``event``           an ``event: NAME`` line in every event
``multiline=1``     data is ``data: line1 of K`` and ``data: line2 of K``; else ``{"seq": K}``
``crlf=1``          CRLF line ends instead of LF
``heartbeat_ms``    a ``: ping`` comment every that many ms (between events, also while
                    waiting for the first)
``drop_after``      events in this connection, then ``drop=close`` (default) ends the body
                    cleanly, ``drop=abort`` closes the socket without the chunked terminator
==================  ===================================================================

Every event carries ``id: K``: 1, 2, 3... or, when the request has ``Last-Event-ID: L`` (an
integer), L+1, L+2... An event is ``id:``, then ``event:``, then the data lines, then a
blank line, each event in its own body message (its own chunk).

``GET /stats``: ``{"connections", "open", "last_event_ids", "events_sent"}`` (``/sse``
requests so far, those still open, every ``Last-Event-ID`` header received in order, and
events sent); ``POST /reset`` zeroes them. ``GET /health``: ``ok``. ``GET /json``:
``{"ok": true}`` as ``application/json``. Anything else: 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

_stats: dict[str, Any] = {"connections": 0, "open": 0, "last_event_ids": [], "events_sent": 0}

_INCOMPLETE = "ASGI callable returned without completing response."


class _QuietAbort(logging.Filter):
    """``drop=abort`` ends responses unfinished on purpose: uvicorn's note on each is noise
    (and would fill the test's stderr pipe under load)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _INCOMPLETE


logging.getLogger("uvicorn.error").addFilter(_QuietAbort())


def _params(scope: dict[str, Any]) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode()))


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _plain(send: Any, status: int, body: bytes, ctype: bytes = b"text/plain") -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _disconnect(receive: Any) -> None:
    # The request's (empty) body comes first, then http.disconnect when the client goes.
    while (await receive())["type"] != "http.disconnect":
        pass


def _event(k: int, q: dict[str, str], nl: str) -> bytes:
    lines = [f"id: {k}"]
    if "event" in q:
        lines.append(f"event: {q['event']}")
    if q.get("multiline") == "1":
        lines += [f"data: line1 of {k}", f"data: line2 of {k}"]
    else:
        lines.append(f'data: {{"seq": {k}}}')
    return (nl.join(lines) + nl + nl).encode()


async def _sse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    q = _params(scope)
    last = _header(scope, b"last-event-id")
    _stats["connections"] += 1
    _stats["open"] += 1
    if last is not None:
        _stats["last_event_ids"].append(last)
    gone = asyncio.ensure_future(_disconnect(receive))
    try:
        await _serve_sse(q, last, gone, send)
    finally:
        _stats["open"] -= 1
        gone.cancel()


async def _serve_sse(
    q: dict[str, str], last: str | None, gone: asyncio.Future[None], send: Any
) -> None:
    async def wait(seconds: float) -> bool:
        """Sleep, or less if the client goes; True when it went."""
        if seconds > 0:
            await asyncio.wait({gone}, timeout=seconds)
        else:
            await asyncio.sleep(0)  # interval_ms=0 must not starve the loop
        return gone.done()

    if await wait(int(q.get("first_byte_ms", 0)) / 1000):
        return
    status = int(q.get("status", 200))
    ctype = q.get("ctype", "text/event-stream")
    if status != 200:
        await _plain(send, status, f"status {status}\n".encode())
        return
    if ctype != "text/event-stream":
        await _plain(send, 200, b'{"ok": true}', ctype.encode())
        return
    nl = "\r\n" if q.get("crlf") == "1" else "\n"
    start = int(last) + 1 if last is not None and last.strip().isdigit() else 1
    count, drop_after = int(q.get("n", 0)), int(q.get("drop_after", 0))
    limit = min(x for x in (count, drop_after) if x) if count or drop_after else 0
    interval = int(q.get("interval_ms", 100)) / 1000
    beat = int(q.get("heartbeat_ms", 0)) / 1000
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if "retry_ms" in q:
        body = f"retry: {q['retry_ms']}{nl}{nl}".encode()
        await send({"type": "http.response.body", "body": body, "more_body": True})
    now = time.monotonic()
    next_event = now + int(q.get("first_event_ms", 0)) / 1000
    next_beat = now + beat if beat else float("inf")
    sent = 0
    while not limit or sent < limit:
        if await wait(min(next_event, next_beat) - time.monotonic()):
            return
        if time.monotonic() >= next_event:
            await send(
                {
                    "type": "http.response.body",
                    "body": _event(start + sent, q, nl),
                    "more_body": True,
                }
            )
            sent += 1
            _stats["events_sent"] += 1
            next_event += interval
            if beat:  # the heartbeat fills silences: it starts over after every event
                next_beat = time.monotonic() + beat
        else:
            await send(
                {"type": "http.response.body", "body": f": ping{nl}".encode(), "more_body": True}
            )
            # From now, not from the missed slot: a server stalled past several beats sends one
            # beat when it wakes, not a catch-up burst.
            next_beat = time.monotonic() + beat
    if drop_after and sent >= drop_after and q.get("drop") == "abort":
        # Returning with the body unfinished makes uvicorn close the transport: no
        # ``0\r\n\r\n``, the client sees the stream cut mid-body.
        return
    await send({"type": "http.response.body", "body": b""})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    if path == "/sse":
        await _sse(scope, receive, send)
    elif path == "/stats":
        await _plain(send, 200, json.dumps(_stats).encode(), b"application/json")
    elif path == "/reset" and method == "POST":
        _stats.update(connections=0, last_event_ids=[], events_sent=0)
        await _plain(send, 200, b"ok")
    elif path == "/health":
        await _plain(send, 200, b"ok")
    elif path == "/json":
        await _plain(send, 200, b'{"ok": true}', b"application/json")
    else:
        await _plain(send, 404, b"not found")
