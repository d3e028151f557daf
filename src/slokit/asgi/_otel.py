"""OpenTelemetry server spans, only when OpenTelemetry is installed and configured.

``tracing="auto"`` (the default) creates spans once the application has set a real tracer
provider (the SDK); with only the API installed, or nothing, it costs one attribute check per
request. The span continues the caller's ``traceparent``, and the request's trace and span ids
(in logs and outgoing calls) are the span's, so every signal points at the same trace.

Exactly one SERVER span per request, whichever side of OpenTelemetry's own ASGI/FastAPI
instrumentation this layer sits on:

- inside it (``FastAPIInstrumentor`` wraps the whole middleware stack, so its span is already
  current when this layer runs): that span is adopted, its ids go to the logs, and no second
  span is made;
- outside it (``SlokitMiddleware(OpenTelemetryMiddleware(app))``): this layer's span is made
  current while the application runs, and the instrumentation, seeing an active span, makes
  its own an INTERNAL child, as it does for any server span started before it.
"""

from __future__ import annotations

import sys
from typing import Any

from slokit.errors import UsageError

__all__ = ["Tracing"]

_ADOPTED = object()
"""The handle of a request whose server span someone else started (and will end)."""


class Tracing:
    def __init__(self, mode: bool | str) -> None:
        self._mode = mode
        self._trace: Any = None
        self._tracer: Any = None
        self._context: Any = None
        self.ready = False
        """True once spans are being made; read on every request, so a plain attribute."""
        if mode is True:
            try:
                from opentelemetry import trace
            except ImportError:
                raise UsageError(
                    "tracing=True needs OpenTelemetry: pip install 'slokit[otel]' and configure "
                    "a tracer provider (opentelemetry-sdk)"
                ) from None
            self._trace = trace

    def poll(self) -> None:
        """Look again whether OpenTelemetry is configured. Called at start-up and with every
        batch of finished requests (at most every 0.1 s while there is traffic), so an SDK set
        up after start-up is picked up without a check on each request."""
        if not self.ready:
            self.ready = self._tracer_now() is not None

    def _tracer_now(self) -> Any:
        if self._tracer is not None:
            return self._tracer
        if self._trace is None:
            # "auto" never imports OpenTelemetry itself: an application that configures it
            # has imported it already, and importing it for nothing would make FastAPI's own
            # telemetry hooks start doing work on every request.
            self._trace = sys.modules.get("opentelemetry.trace")
            if self._trace is None:
                return None
        provider = self._trace.get_tracer_provider()
        # Until the application installs an SDK provider the API hands out a proxy (or a
        # no-op): spans would be thrown away, so do not pay for them.
        if self._mode == "auto" and type(provider).__name__ in (
            "ProxyTracerProvider",
            "NoOpTracerProvider",
        ):
            return None
        from opentelemetry import context  # loaded already: the trace API imports it

        self._context = context
        self._tracer = self._trace.get_tracer("slokit.asgi")
        return self._tracer

    def start(
        self, method: str, path: str, parent: tuple[str, str, bool] | None
    ) -> tuple[Any, str, str] | None:
        """A handle for :meth:`end` and the server span's trace and span ids (hex), or None.

        The span is this layer's own, made current until :meth:`end`, or the one already
        active (another instrumentation's), which is left alone.
        """
        tracer = self._tracer_now()
        if tracer is None:
            return None
        trace = self._trace
        active = trace.get_current_span().get_span_context()
        if active.is_valid:
            return _ADOPTED, f"{active.trace_id:032x}", f"{active.span_id:016x}"
        context = None
        if parent is not None:
            trace_id, parent_id, sampled = parent
            remote = trace.SpanContext(
                trace_id=int(trace_id, 16),
                span_id=int(parent_id, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(1 if sampled else 0),
            )
            context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        span = tracer.start_span(
            method,
            context=context,
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        )
        sc = span.get_span_context()
        # Current while the application runs: its own spans (and an inner instrumentation's)
        # become children of this one instead of separate traces.
        token = self._context.attach(trace.set_span_in_context(span))
        return (span, token), f"{sc.trace_id:032x}", f"{sc.span_id:016x}"

    def end(self, handle: Any, method: str, route: str, status: int) -> None:
        if handle is _ADOPTED:
            return  # its owner names it, sets its status and ends it
        span, token = handle
        self._context.detach(token)
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
        span.end()
