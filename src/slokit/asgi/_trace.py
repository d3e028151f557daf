"""Request identity: request id, W3C trace context, and the contextvar that carries them.

The context is set for the duration of each request, so the application's own log records
(see :func:`install_log_context`) and its outgoing calls (:func:`outgoing_headers`) carry the
same ``request_id`` and ``trace_id`` as the access log line.
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RequestContext",
    "current_request",
    "install_log_context",
    "new_span_id",
    "new_trace_id",
    "outgoing_headers",
    "parse_traceparent",
    "reset_current",
    "set_current",
    "valid_request_id",
]

_CURRENT: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "slokit_request", default=None
)
# A request id comes from the client: it ends up in log lines and response headers, so only
# short, printable, unambiguous ids are trusted; anything else is replaced.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
_HEX = frozenset(b"0123456789abcdef")
_rand = random.SystemRandom().getrandbits


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who this request is, for logs and for the calls it makes to other services."""

    request_id: str
    trace_id: str
    """32 lower-case hex digits (W3C trace-context)."""
    span_id: str
    """This server span: 16 hex digits, new for every request."""
    parent_id: str | None
    """The caller's span from ``traceparent``, or None when this request starts the trace."""
    sampled: bool

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` to send on outgoing calls: this span becomes their parent."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def current_request() -> RequestContext | None:
    """The request being served by this task, or None outside a request."""
    return _CURRENT.get()


def new_trace_id() -> str:
    return f"{_rand(128) or 1:032x}"


def new_span_id() -> str:
    return f"{_rand(64) or 1:016x}"


def valid_request_id(raw: bytes) -> str | None:
    if _REQUEST_ID.fullmatch(raw) is None:
        return None
    return raw.decode("ascii")


def _hex(raw: bytes, size: int) -> bool:
    return len(raw) == size and _HEX.issuperset(raw) and raw.strip(b"0") != b""


def parse_traceparent(raw: bytes) -> tuple[str, str, bool] | None:
    """``(trace_id, parent_id, sampled)`` from a W3C ``traceparent``, None when invalid.

    Version 00 must have exactly four fields; a later version may append fields, which are
    ignored as the spec says. All-zero ids and version ff are invalid.
    """
    parts = raw.strip().split(b"-")
    if len(parts) < 4:
        return None
    version, trace, parent, flags = parts[0], parts[1], parts[2], parts[3]
    if len(version) != 2 or not _HEX.issuperset(version) or version == b"ff":
        return None
    if version == b"00" and len(parts) != 4:
        return None
    if not (_hex(trace, 32) and _hex(parent, 16)) or len(flags) != 2:
        return None
    if not _HEX.issuperset(flags):
        return None
    return trace.decode(), parent.decode(), bool(int(flags, 16) & 1)


def outgoing_headers() -> dict[str, str]:
    """Headers that carry the current request's identity to a downstream service."""
    ctx = _CURRENT.get()
    if ctx is None:
        return {}
    return {"traceparent": ctx.traceparent, "x-request-id": ctx.request_id}


_installed = False


def install_log_context() -> None:
    """Give every log record ``request_id``, ``trace_id`` and ``span_id`` attributes.

    A record factory rather than a filter: it works for every logger and handler the
    application has or adds later, and ``%(request_id)s`` never raises outside a request
    (the attributes are None there). Installing twice is harmless.
    """
    global _installed
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        ctx = _CURRENT.get()
        record.request_id = ctx.request_id if ctx else None
        record.trace_id = ctx.trace_id if ctx else None
        record.span_id = ctx.span_id if ctx else None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def set_current(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _CURRENT.set(ctx)


def reset_current(token: contextvars.Token[RequestContext | None]) -> None:
    _CURRENT.reset(token)
