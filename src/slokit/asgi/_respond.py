"""Small raw-ASGI responses: the probes, /metrics, /ops/slo and the guards' refusals."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from slokit.errors import CircuitOpenError

__all__ = ["Receive", "Scope", "Send", "reply", "reply_circuit_open", "reply_json"]

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


async def reply_circuit_open(send: Send, error: CircuitOpenError) -> None:
    """503 with ``Retry-After`` for a circuit breaker's refusal the application let through.

    An open breaker means a dependency is down and the service is protecting it: that is
    "unavailable, come back later", not a bug (500). ``Retry-After`` is the time until the
    breaker lets trial calls through again, in whole seconds and at least 1 (a half-open
    breaker whose trial slots are taken says 0). The body names no breaker: dependency names
    are internal; /healthz and the breaker metrics show them to operators.
    """
    seconds = max(1, math.ceil(error.retry_after))
    await reply_json(
        send,
        503,
        {
            "error": "circuit_open",
            "detail": f"a dependency of this service is unavailable; retry in {seconds} s",
        },
        headers=[(b"retry-after", str(seconds).encode())],
    )
