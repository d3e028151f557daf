"""What keeps a loopback dashboard to its own machine and its pages to themselves.

* ``Host`` check: a page elsewhere can point a name of its own at 127.0.0.1 (DNS rebinding)
  and read a loopback server as if it were its own origin; the dashboard only answers
  requests addressed to a loopback name unless it is served with ``--allow-remote``.
* Headers on every answer: a Content-Security-Policy that lets pages load nothing from
  anywhere but the dashboard itself (no CDN, no fonts, no beacons) and no inline script,
  ``nosniff``, no framing, no referrer.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slokit._net import is_loopback

__all__ = ["LOOPBACK_NAMES", "SecurityHeaders", "request_host"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def request_host(value: str) -> str:
    """The host of a ``Host`` header: ``[::1]:8080`` -> ``::1``, ``a:80`` -> ``a``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rpartition(":")[0] if value.count(":") == 1 else value


class SecurityHeaders:
    """Pure ASGI: refuses a ``Host`` that is not ``trusted`` (None: any), and adds the
    security headers to every HTTP answer. Other scopes pass straight through."""

    def __init__(self, app: ASGIApp, *, trusted: Iterable[str] | None = LOOPBACK_NAMES) -> None:
        self.app = app
        self.trusted = None if trusted is None else {request_host(h) for h in trusted}

    def _allowed(self, scope: Scope) -> bool:
        if self.trusted is None:
            return True
        host = request_host(Headers(scope=scope).get("host", ""))
        return host in self.trusted or is_loopback(host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        if not self._allowed(scope):
            refuse = PlainTextResponse(
                "this dashboard answers only requests addressed to a loopback name "
                "(localhost, 127.0.0.1); serve it with --allow-remote to change that",
                status_code=421,
            )
            await refuse(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
