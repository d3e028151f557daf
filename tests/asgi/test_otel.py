"""OpenTelemetry: server spans when an SDK is configured (run in a fresh interpreter, since a
process gets one global tracer provider), and none when it is not."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from fastapi import FastAPI
    from slokit.asgi import instrument, current_request

    configure = sys.argv[1] == "sdk"
    if configure:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

    app = FastAPI()
    seen = {}

    @app.get("/items/{item_id}")
    async def item(item_id: str):
        ctx = current_request()
        seen["trace_id"], seen["span_id"] = ctx.trace_id, ctx.span_id
        return {"id": item_id}

    @app.get("/boom")
    async def boom():
        return __import__("fastapi").responses.JSONResponse({}, status_code=503)

    instrument(app, access_log=False, metrics=False)

    async def call(path, headers=()):
        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": list(headers),
                 "client": ("127.0.0.1", 1), "server": ("t", 80), "scheme": "http",
                 "http_version": "1.1", "asgi": {"version": "3.0"}}
        async def receive():
            return {"type": "http.request", "body": b""}
        async def send(message):
            pass
        await app(scope, receive, send)

    async def main():
        tp = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        await call("/items/9", [(b"traceparent", tp)])
        await call("/boom")
    asyncio.run(main())
    spans = []
    if configure:
        for s in exporter.get_finished_spans():
            spans.append({
                "name": s.name, "kind": s.kind.name, "trace_id": f"{s.context.trace_id:032x}",
                "span_id": f"{s.context.span_id:016x}",
                "parent": f"{s.parent.span_id:016x}" if s.parent else None,
                "route": s.attributes.get("http.route"),
                "status": s.attributes.get("http.response.status_code"),
                "error": s.status.status_code.name,
            })
    print(json.dumps({"spans": spans, "seen": seen}))
    """
)


def run(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_server_spans_continue_the_callers_trace() -> None:
    result = run("sdk")
    spans = {s["route"]: s for s in result["spans"]}  # type: ignore[attr-defined]
    item = spans["/items/{item_id}"]
    assert item["name"] == "GET /items/{item_id}"
    assert item["kind"] == "SERVER"
    assert item["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert item["parent"] == "00f067aa0ba902b7"
    assert item["status"] == 200
    # The ids the application sees (and logs, and sends on) are the span's.
    seen = result["seen"]
    assert seen == {"trace_id": item["trace_id"], "span_id": item["span_id"]}
    assert spans["/boom"]["error"] == "ERROR"


def test_no_spans_and_own_ids_without_an_sdk() -> None:
    result = run("none")
    assert result["spans"] == []
    seen = result["seen"]
    assert isinstance(seen, dict)
    assert seen["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert len(seen["span_id"]) == 16
