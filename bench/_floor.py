"""The service leg's ``floor`` variant: the least a pure-Python ASGI layer can do per request
for what slokit's stack promises, with none of the features that use it.

Per request it does what every feature of the stack rests on, in the cheapest way we know:
one pass over the request headers (request id, traceparent), ids from slokit's id pool, the
contextvar that carries them into the application's log records, a ``send`` wrapper that
notes status and response size and echoes ``x-request-id``, and one record appended to a
batch list. No metrics, SLO windows, access-log lines or guards: the records are dropped.

It is not a product: it answers "how close to bare can any pure-Python middleware with this
contract get on this machine", so slokit's ratio can be read against it in the same run.
"""

from __future__ import annotations

import time
from typing import Any

from slokit.asgi._trace import POOL, Holder, current_var

_clock = time.perf_counter
_wall = time.time
_set = current_var.set
_BATCH = 512 * 15


class _Send(Holder):
    __slots__ = ("request_id", "send", "size_out", "status")

    def __init__(self, send: Any, request_id: bytes, fields: Any) -> None:
        self.fields = fields
        self.send = send
        self.request_id = request_id
        self.status = 0
        self.size_out = 0

    def __call__(self, message: Any) -> Any:
        kind = message["type"]
        if kind == "http.response.body":
            self.size_out += len(message.get("body", b""))
        elif kind == "http.response.start":
            self.status = message["status"]
            message["headers"] = [*message.get("headers", ()), (b"x-request-id", self.request_id)]
        return self.send(message)


class FloorMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._wanted = {b"x-request-id": 0, b"traceparent": 1}.get
        self._labels: dict[int, str] = {}
        self._records: list[Any] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = _clock()
        # Found and kept, never used: wrk sends neither header (slokit validates them).
        rid_raw = traceparent = None
        wanted = self._wanted
        for name, value in scope["headers"]:
            slot = wanted(name)
            if slot == 0:
                rid_raw = value
            elif slot == 1:
                traceparent = value
        del rid_raw, traceparent
        trace_id, span_id, request_id, rid_bytes = next(POOL.ids, None) or POOL.refill()
        wrapper = _Send(send, rid_bytes, (request_id, trace_id, span_id, None, True))
        _set(wrapper)
        try:
            await self.app(scope, receive, wrapper)
        finally:
            elapsed = _clock() - started
            route = scope.get("route")
            label = self._labels.get(id(route))
            if label is None:
                label = self._labels[id(route)] = getattr(route, "path", "<unmatched>")
            client = scope.get("client")
            records = self._records
            records.extend(
                (
                    _wall(), request_id, trace_id, span_id, scope["method"], label,
                    scope["path"], scope.get("query_string", b""), wrapper.status, elapsed,
                    0, wrapper.size_out, client[0] if client else None, None, None,
                )
            )  # fmt: skip
            if len(records) >= _BATCH:
                records.clear()
            wrapper.fields = None
            wrapper.send = None
