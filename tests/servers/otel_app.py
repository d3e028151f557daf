"""A FastAPI service traced by OpenTelemetry's own instrumentation and by slokit at once.

``SLOKIT_TEST_OTEL``: ``inside`` (``FastAPIInstrumentor.instrument_app`` wraps the whole stack,
slokit added with ``instrument(app)``) or ``outside`` (``SlokitMiddleware`` around
``OpenTelemetryMiddleware`` around the app). Spans go to the SDK's in-memory exporter, read
back on ``/_spans`` (traced by neither). ``SLOKIT_TEST_LOG``: the access-log file.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from slokit.asgi import SlokitMiddleware, current_request, instrument

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

outside = os.environ.get("SLOKIT_TEST_OTEL") == "outside"
# Outside, the instrumentation sits beyond FastAPI, which then starts a SERVER span of its own
# (its native telemetry) from the headers alone, whoever is tracing: switched off here, as a
# user wrapping FastAPI in OpenTelemetryMiddleware must do with or without slokit.
api = FastAPI(telemetry={"tracing": False}) if outside else FastAPI()
seen: dict[str, dict[str, str]] = {}


@api.get("/items/{item_id}")
async def item(item_id: str) -> dict[str, str]:
    ctx = current_request()
    assert ctx is not None
    seen[item_id] = {"trace_id": ctx.trace_id, "span_id": ctx.span_id}
    return {"id": item_id}


@api.get("/_spans")
async def spans() -> dict[str, Any]:
    out = []
    for s in exporter.get_finished_spans():
        out.append(
            {
                "name": s.name,
                "kind": s.kind.name,
                "trace_id": f"{s.context.trace_id:032x}",
                "span_id": f"{s.context.span_id:016x}",
                "parent": f"{s.parent.span_id:016x}" if s.parent else None,
            }
        )
    return {"spans": out, "seen": seen}


log = open(os.environ["SLOKIT_TEST_LOG"], "a", encoding="utf-8")  # noqa: SIM115 - lives with the process
options: dict[str, Any] = {"access_log": log, "exclude_paths": ["/_spans"], "metrics": False}
app: Any
if outside:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.util.http import parse_excluded_urls

    app = SlokitMiddleware(
        OpenTelemetryMiddleware(api, excluded_urls=parse_excluded_urls("_spans")), **options
    )
else:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(api, excluded_urls="_spans")
    app = instrument(api, **options)
