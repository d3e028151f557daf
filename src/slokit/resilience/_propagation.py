"""Headers an outgoing call carries on behalf of the request being served.

resilience stands alone and imports nothing of the rest of slokit; the ASGI middleware, which
knows the request's trace context, registers a source here when it is imported. The deadline
header is always added when a deadline is set.
"""

from __future__ import annotations

from collections.abc import Callable

from slokit.resilience._deadline import deadline_headers

__all__ = ["add_header_source", "outgoing_headers"]

_SOURCES: list[Callable[[], dict[str, str]]] = []


def add_header_source(source: Callable[[], dict[str, str]]) -> None:
    """Add ``source()`` to the headers of every outgoing call (idempotent per source)."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def outgoing_headers() -> dict[str, str]:
    """Trace context, request id and deadline of the current request, for a downstream call."""
    headers = deadline_headers()
    for source in _SOURCES:
        headers.update(source())
    return headers
