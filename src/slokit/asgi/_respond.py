"""Small raw-ASGI responses: the probes, /metrics, /ops/slo and the guards' refusals."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

__all__ = ["Receive", "Scope", "Send", "reply", "reply_json"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = Sequence[tuple[bytes, bytes]]


async def reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"text/plain; charset=utf-8",
    headers: Headers = (),
    head: bool = False,
) -> None:
    """Send a complete response; ``head`` sends the headers of it without the body."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def reply_json(
    send: Send,
    status: int,
    document: Any,
    content_type: bytes = b"application/json",
    headers: Headers = (),
    head: bool = False,
) -> None:
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    await reply(send, status, body, content_type, headers, head)
