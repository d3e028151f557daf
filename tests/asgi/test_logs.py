"""Access-log lines, request ids and trace context, read back from a real uvicorn service."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from tests.asgi._service import call, service

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def lines(path: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` JSON lines of the log, waiting for the batch to be written."""
    limit = time.monotonic() + 5
    while True:
        text = path.read_text() if path.exists() else ""
        found = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(found) >= count or time.monotonic() > limit:
            return found
        time.sleep(0.05)


def test_one_json_line_per_request_with_every_field(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with service(
        tmp_path, "service: logs\n", access_log_file=str(log), user_header="X-User"
    ) as srv:
        status, headers, _ = call(
            srv.url,
            "/items/7?q=1&token=secret",
            headers={"X-User": "ann", "X-Request-ID": "req-123"},
        )
        assert status == 200
        assert headers["x-request-id"] == "req-123"
        (line,) = lines(log, 1)
    assert line["logger"] == "slokit.access"
    assert line["service"] == "logs"
    assert line["level"] == "info"
    assert line["request_id"] == "req-123"
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", line["span_id"])
    assert (line["method"], line["route"], line["path"]) == ("GET", "/items/{item_id}", "/items/7")
    assert line["status"] == 200
    assert line["latency_ms"] > 0
    assert line["bytes_out"] == len('{"id":"7"}')
    assert line["client"] == "127.0.0.1"
    assert line["user"] == "ann"
    # Secrets in the query string never reach the log.
    assert line["query"] == "q=1&token=***"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_request_ids_are_generated_unique_and_bad_ones_replaced(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with service(tmp_path, "service: logs\n", access_log_file=str(log)) as srv:
        ids = {call(srv.url, "/items/1")[1]["x-request-id"] for _ in range(20)}
        bad = call(srv.url, "/items/1", headers={"X-Request-ID": "x" * 300})[1]["x-request-id"]
        logged = lines(log, 21)
    assert len(ids) == 20
    assert bad != "x" * 300
    assert {line["request_id"] for line in logged} >= ids


def test_traceparent_is_continued(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with service(tmp_path, "service: logs\n", access_log_file=str(log)) as srv:
        call(srv.url, "/items/1", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        (line,) = lines(log, 1)
    assert line["trace_id"] == TRACE
    assert line["span_id"] != PARENT


def test_levels_follow_the_status_class(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with service(tmp_path, "service: logs\n", access_log_file=str(log)) as srv:
        for code in (200, 404, 503):
            call(srv.url, f"/status/{code}")
        found = lines(log, 3)
    assert [(line["status"], line["level"]) for line in found] == [
        (200, "info"),
        (404, "warning"),
        (503, "error"),
    ]


def test_application_log_records_carry_the_request_ids(tmp_path: Path) -> None:
    """The app's own logger (JsonLogFormatter) shows the ids of the request it served."""
    log = tmp_path / "access.log"
    app_log = tmp_path / "app.log"
    env = {"SLOKIT_TEST_APP_LOG": str(app_log)}
    with service(tmp_path, "service: logs\n", env=env, access_log_file=str(log)) as srv:
        call(srv.url, "/log", headers={"X-Request-ID": "app-log-1"})
        (access,) = lines(log, 1)
    (record,) = lines(app_log, 1)
    assert record["message"] == "handled inside the app"
    assert record["logger"] == "service"
    assert record["request_id"] == "app-log-1"
    assert record["trace_id"] == access["trace_id"]
    assert record["span_id"] == access["span_id"]


def test_logged_headers_are_masked(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with service(
        tmp_path,
        "service: logs\n",
        access_log_file=str(log),
        log_headers=["User-Agent", "Authorization"],
    ) as srv:
        call(srv.url, "/items/1", headers={"User-Agent": "t/1", "Authorization": "Bearer x"})
        (line,) = lines(log, 1)
    assert line["headers"] == {"user-agent": "t/1", "authorization": "***"}
