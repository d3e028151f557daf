"""Deadlines and trace context crossing a service: in from headers, out to the next call."""

from __future__ import annotations

import time
from pathlib import Path

from tests.asgi._service import call, get_json, service

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_incoming_deadline_bounds_the_request_and_goes_out_again(tmp_path: Path) -> None:
    with service(tmp_path, "service: d\n", access_log=False) as srv:
        status, body = get_json(
            srv.url,
            "/outgoing",
            headers={
                "x-request-deadline": f"{time.time() + 5:.3f}",
                "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01",
                "x-request-id": "up-1",
            },
        )
    assert status == 200
    assert 4.0 < body["deadline"] <= 5.0
    headers = body["headers"]
    assert headers["x-request-id"] == "up-1"
    assert headers["traceparent"].startswith(f"00-{TRACE}-")
    assert not headers["traceparent"].startswith(f"00-{TRACE}-00f067aa0ba902b7")  # our span
    assert float(headers["x-request-deadline"]) <= time.time() + 5


def test_no_deadline_without_the_header(tmp_path: Path) -> None:
    with service(tmp_path, "service: d\n", access_log=False) as srv:
        status, body = get_json(srv.url, "/outgoing")
    assert status == 200
    assert body["deadline"] is None
    assert "x-request-deadline" not in body["headers"]
    assert set(body["headers"]) == {"traceparent", "x-request-id"}


def test_a_passed_deadline_is_answered_504_without_running_the_app(tmp_path: Path) -> None:
    with service(tmp_path, "service: d\n", access_log=False) as srv:
        status, headers, _ = call(
            srv.url, "/outgoing", headers={"x-request-deadline": f"{time.time() - 1:.3f}"}
        )
        garbage = call(srv.url, "/outgoing", headers={"x-request-deadline": "soon"})
    assert status == 504
    assert headers["x-request-id"]
    assert garbage[0] == 200  # an unreadable deadline is ignored, not obeyed
