"""Request identity: request id, W3C trace context, and the contextvar that carries them.

The context is set for the duration of each request, so the application's own log records
(see :func:`install_log_context`) and its outgoing calls (:func:`outgoing_headers`) carry the
same ``request_id`` and ``trace_id`` as the access log line.
"""

from __future__ import annotations

import contextvars
import logging
import os
import random
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from slokit.resilience import add_header_source

__all__ = [
    "POOL",
    "Fields",
    "Holder",
    "IdPool",
    "Ids",
    "RequestContext",
    "current_request",
    "current_var",
    "install_log_context",
    "new_ids",
    "new_span_id",
    "new_trace_id",
    "parse_traceparent",
    "reset_current",
    "set_current",
    "trace_headers",
    "valid_request_id",
]

Fields = tuple[str, str, str, "str | None", bool]


class Holder:
    """What the context variable holds: the request's fields, or None once it has ended.

    The request's end empties the holder instead of resetting the variable. Every change of
    a context allocates new tracked objects, and on a busy server one change instead of two
    per request is worth about 5 µs (measured with wrk against FastAPI), mostly in garbage-
    collector work. Tasks that outlive the request see it as finished, which it is. The
    middleware's per-request object is a Holder, so this costs no allocation of its own.
    """

    __slots__ = ("fields",)

    def __init__(self) -> None:
        self.fields: Fields | None = None


_CURRENT: contextvars.ContextVar[Holder | None] = contextvars.ContextVar(
    "slokit_request", default=None
)
current_var = _CURRENT
"""For the middleware's inlined set: ``holder.fields = ...; current_var.set(holder)``."""
# A request id comes from the client: it ends up in log lines and response headers, so only
# short, printable, unambiguous ids are trusted; anything else is replaced.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")
_HEX = frozenset(b"0123456789abcdef")
_rand = random.SystemRandom().getrandbits

Ids = tuple[str, str, str, bytes]
"""``(trace_id, span_id, request_id, request_id as bytes)`` for a request that brings none."""

_POOL_IDS = 1024
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def _fresh_ids() -> list[Ids]:
    # One syscall per thousand requests, and every id cut and encoded in C (hex() with a
    # separator every 8 bytes, split, map, zip): a draw and a big-integer format per request
    # measured over a microsecond on a busy server, and a Python loop over the pool a third of
    # one. The request id is the span id and half the trace id: unique per request even when
    # many share a trace.
    words = os.urandom(_POOL_IDS * 24).hex(" ", 8).split()
    high, low, spans = words[0::3], words[1::3], words[2::3]
    traces = list(map(str.__add__, high, low))
    rids = list(map(str.__add__, spans, high))
    ids = list(zip(traces, spans, rids, map(str.encode, rids), strict=True))
    if _ZERO_TRACE in traces or _ZERO_SPAN in spans:  # invalid in W3C trace context: 1 in 2**64
        ids = [i for i in ids if i[0] != _ZERO_TRACE and i[1] != _ZERO_SPAN]
    return ids


class IdPool:
    """Ids for requests, handed out with ``next(POOL.ids, None)`` (None: call refill())."""

    __slots__ = ("ids",)

    def __init__(self) -> None:
        self.ids: Iterator[Ids] = iter(())

    def refill(self) -> Ids:
        self.ids = iter(_fresh_ids())
        return next(self.ids)

    def forget(self) -> None:
        self.ids = iter(())


POOL = IdPool()
# Workers forked from one parent (gunicorn --preload) must not hand out each other's ids.
os.register_at_fork(after_in_child=POOL.forget)


def new_ids() -> Ids:
    """Fresh ``(trace_id, span_id, request_id, request_id_bytes)``."""
    return next(POOL.ids, None) or POOL.refill()


class RequestContext(NamedTuple):
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
    holder = _CURRENT.get()
    fields = holder.fields if holder is not None else None
    return RequestContext(*fields) if fields is not None else None


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


def trace_headers() -> dict[str, str]:
    """``traceparent`` and ``x-request-id`` of the current request, for a downstream call."""
    holder = _CURRENT.get()
    fields = holder.fields if holder is not None else None
    if fields is None:
        return {}
    request_id, trace_id, span_id, _, sampled = fields
    return {
        "traceparent": f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}",
        "x-request-id": request_id,
    }


# Outgoing calls made through slokit.resilience (ResilientTransport, outgoing_headers) carry
# the trace context of the request being served; resilience cannot import this package.
add_header_source(trace_headers)


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
        holder = _CURRENT.get()
        fields = holder.fields if holder is not None else None
        if fields is None:
            record.request_id = record.trace_id = record.span_id = None
        else:
            record.request_id, record.trace_id, record.span_id = fields[:3]
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def set_current(holder: Holder, fields: Fields) -> None:
    """Make a request current: ``(request_id, trace_id, span_id, parent_id, sampled)``;
    :func:`reset_current` with the same holder at the request's end."""
    holder.fields = fields
    _CURRENT.set(holder)


def reset_current(holder: Holder) -> None:
    holder.fields = None
