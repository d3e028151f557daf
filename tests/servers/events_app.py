"""An SSE and WebSocket server for the stream tests, shaped by query parameters.

``GET /sse``: ``status`` (respond with it, no stream), ``ctype`` (content type),
``first_byte_ms`` (delay before the head), ``interval_ms`` (between events, 100), ``n``
(events per connection, then end cleanly; 0 = until ``drop_after`` or forever), ``retry_ms``
(a ``retry:`` line first), ``event`` (an ``event:`` name), ``multiline=1`` (two data lines),
``heartbeat=1`` (a ``: ping`` comment before each event), ``crlf=1`` (CRLF line ends),
``drop_after`` (events, then end the connection: ``drop=close`` cleanly, ``drop=abort``
without the chunked terminator). Every event has ``id: K``, counting on from the
``Last-Event-ID`` the client sent. ``GET /stats`` says what the server saw; ``POST /reset``.

``/ws/echo`` echoes every message; ``/ws/ticks?n=&interval_ms=`` sends ``tick K`` then
closes with 1000; ``/ws/drop?after=N`` sends N ticks then fails without a close frame.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

_stats: dict[str, Any] = {"connections": 0, "open": 0, "last_event_ids": [], "ws": 0}


def _params(scope: dict[str, Any]) -> dict[str, str]:
    query = parse_qs(scope.get("query_string", b"").decode())
    return {k: v[-1] for k, v in query.items()}


async def _plain(send: Any, status: int, body: bytes, ctype: bytes = b"text/plain") -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _disconnected(receive: Any) -> None:
    # The request's body comes first (http.request), the disconnect after.
    while (await receive())["type"] != "http.disconnect":
        pass


async def _sse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    q = _params(scope)
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    last = headers.get("last-event-id")
    _stats["connections"] += 1
    if last is not None:
        _stats["last_event_ids"].append(last)
    if int(q.get("first_byte_ms", 0)):
        await asyncio.sleep(int(q["first_byte_ms"]) / 1000)
    status = int(q.get("status", 200))
    ctype = q.get("ctype", "text/event-stream")
    if status != 200 or ctype != "text/event-stream":
        await _plain(send, status, b'{"ok": true}', ctype.encode())
        return
    nl = "\r\n" if q.get("crlf") == "1" else "\n"
    start = int(last) + 1 if last and last.isdigit() else 1
    count, drop_after = int(q.get("n", 0)), int(q.get("drop_after", 0))
    interval = int(q.get("interval_ms", 100)) / 1000
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    if "retry_ms" in q:
        await send(
            {
                "type": "http.response.body",
                "body": f"retry: {q['retry_ms']}{nl}{nl}".encode(),
                "more_body": True,
            }
        )
    _stats["open"] += 1
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        sent = 0
        while not count or sent < count:
            if drop_after and sent >= drop_after:
                if q.get("drop") == "abort":
                    raise ConnectionAbortedError("dropped mid-stream on purpose")
                break
            done, _ = await asyncio.wait({gone}, timeout=interval)
            if done:
                return
            k = start + sent
            lines = [": ping"] if q.get("heartbeat") == "1" else []
            if "event" in q:
                lines.append(f"event: {q['event']}")
            lines.append(f"id: {k}")
            if q.get("multiline") == "1":
                lines += [f"data: line1 of {k}", f"data: line2 of {k}"]
            else:
                lines.append(f'data: {{"seq": {k}}}')
            body = (nl.join(lines) + nl + nl).encode()
            await send({"type": "http.response.body", "body": body, "more_body": True})
            sent += 1
        await send({"type": "http.response.body", "body": b""})
    finally:
        _stats["open"] -= 1
        gone.cancel()


async def _ws(scope: dict[str, Any], receive: Any, send: Any) -> None:
    q = _params(scope)
    assert (await receive())["type"] == "websocket.connect"
    _stats["ws"] += 1
    path = scope["path"]
    if path not in ("/ws/echo", "/ws/ticks", "/ws/drop"):
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    if path == "/ws/echo":
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
    count = int(q.get("n", q.get("after", 3)))
    for k in range(1, count + 1):
        await asyncio.sleep(int(q.get("interval_ms", 50)) / 1000)
        await send({"type": "websocket.send", "text": f"tick {k}"})
    if path == "/ws/drop":
        raise ConnectionAbortedError("dropped without a close frame on purpose")
    await send({"type": "websocket.close", "code": 1000})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "websocket":
        await _ws(scope, receive, send)
        return
    path = scope["path"]
    if path == "/sse":
        await _sse(scope, receive, send)
    elif path == "/stats":
        await _plain(send, 200, json.dumps(_stats).encode(), b"application/json")
    elif path == "/reset":
        _stats.update(connections=0, last_event_ids=[], ws=0)
        await _plain(send, 200, b"ok")
    elif path == "/json":
        await _plain(send, 200, b'{"ok": true}', b"application/json")
    else:
        await _plain(send, 404, b"not found")
