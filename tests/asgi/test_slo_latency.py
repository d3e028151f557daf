"""A latency SLO counts a fast 5xx as bad: in /metrics (status_class) and in /ops/slo."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from slokit.asgi._metrics import Metrics, latency_buckets
from slokit.asgi._slo import LiveSLOs, SLOTarget
from slokit.spec import Route
from tests.asgi._service import call, get_json, metric, service

SPEC = """
service: latency-5xx
slos:
  status-fast: {route: "GET /status/{code}", objective: 90%, latency: 250ms}
  availability: {objective: 90%}
"""


def test_fast_503s_are_bad_for_the_latency_slo(tmp_path: Path) -> None:
    with service(tmp_path, SPEC, access_log=False) as srv:
        for _ in range(3):
            assert call(srv.url, "/status/200")[0] == 200
        for _ in range(5):
            assert call(srv.url, "/status/503")[0] == 503
        text = call(srv.url, "/metrics")[2].decode()
        status, body = get_json(srv.url, "/ops/slo")
    route = {"route": "/status/{code}", "method": "GET"}
    bucket = "http_request_duration_seconds_bucket"
    # Fast (well under 250ms) and yet a server error: their own series, by status class.
    assert metric(text, bucket, **route, status_class="5xx", le="0.25") == 5
    assert metric(text, bucket, **route, status_class="2xx", le="0.25") == 3
    assert metric(text, "http_request_duration_seconds_count", **route, status_class="5xx") == 5
    # Sizes keep {route, method}: both classes in one series.
    assert metric(text, "http_response_size_bytes_count", **route) == 8
    assert status == 200
    latency = body["slos"]["status-fast"]["windows"]["since_start"]
    assert (latency["requests"], latency["good"]) == (8, 3)
    availability = body["slos"]["availability"]["windows"]["since_start"]
    assert (availability["requests"], availability["good"]) == (8, 3)


def test_live_latency_slo_counts_5xx_within_the_threshold_as_bad() -> None:
    metrics = Metrics(CollectorRegistry(), latency_buckets([0.1]))
    route = Route.parse("GET /x")
    live = LiveSLOs([SLOTarget("x", 0.9, route, 0.1)], metrics)
    for status in (200, 200, 404, 500, 503, 503):
        metrics.observe("/x", "GET", status, 0.001, 0, 10)
    metrics.observe("/x", "GET", 200, 0.5, 0, 10)  # slow: bad too
    assert live.totals() == [(7, 3)]  # the two 200s and the 404 within 100ms
