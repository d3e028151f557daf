"""With OpenTelemetry's own FastAPI/ASGI instrumentation active too: one SERVER span per
request, and the access log's (and the application's) ids are that span's. Real uvicorn, the
SDK's in-memory exporter inside the server, read back over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests._support import UvicornApp
from tests.asgi._service import call, get_json

pytest.importorskip("opentelemetry.instrumentation.fastapi")

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _access_lines(path: Path, count: int) -> list[dict[str, str]]:
    limit = time.monotonic() + 10
    while True:
        text = path.read_text() if path.exists() else ""
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(lines) >= count:
            return lines
        assert time.monotonic() < limit, f"only {len(lines)} access-log lines"
        time.sleep(0.05)


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_one_server_span_per_request_and_the_logs_point_at_it(tmp_path: Path, where: str) -> None:
    log = tmp_path / "access.log"
    server = UvicornApp(
        "otel_app:app", env={"SLOKIT_TEST_OTEL": where, "SLOKIT_TEST_LOG": str(log)}
    )
    try:
        traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
        assert call(server.url, "/items/a", headers={"traceparent": traceparent})[0] == 200
        assert call(server.url, "/items/b")[0] == 200
        lines = {line["path"]: line for line in _access_lines(log, 2)}
        status, found = get_json(server.url, "/_spans")
        assert status == 200
    finally:
        server.kill()
    spans = found["spans"]
    servers = [s for s in spans if s["kind"] == "SERVER"]
    assert len(servers) == 2, spans  # one per request, not two
    by_trace = {s["trace_id"]: s for s in servers}
    assert len(by_trace) == 2
    continued = by_trace[CALLER_TRACE]
    assert continued["parent"] == CALLER_SPAN
    for path, key in (("/items/a", "a"), ("/items/b", "b")):
        line = lines[path]
        span = by_trace[line["trace_id"]]
        assert line["span_id"] == span["span_id"]
        assert found["seen"][key] == {"trace_id": span["trace_id"], "span_id": span["span_id"]}
        # Every other span of the request (the instrumentation's send/receive or INTERNAL
        # spans) is in the same trace, under the server span.
        others = [s for s in spans if s["trace_id"] == span["trace_id"] and s is not span]
        assert others, spans
        assert all(s["kind"] != "SERVER" for s in others)
