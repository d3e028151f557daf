"""Prometheus metrics from a real uvicorn service: route templates, buckets, multiprocess."""

from __future__ import annotations

import time
from pathlib import Path

from tests.asgi._service import call, metric, service

SPEC = """
service: metrics-test
slos:
  items-latency: {route: "GET /items/{item_id}", objective: 99%, latency: 0.3s}
  slow-latency: {route: GET /slow, objective: 90%, latency: 123ms}
"""


def scrape(url: str) -> str:
    status, headers, body = call(url, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    return body.decode()


def test_route_labels_are_templates_through_mounts_and_routers(tmp_path: Path) -> None:
    with service(tmp_path, SPEC, access_log=False) as srv:
        for path in ("/items/1", "/items/2", "/v1/users/7", "/api/things/x", "/nope/1", "/nope/2"):
            call(srv.url, path)
        call(srv.url, "/v1/missing")
        text = scrape(srv.url)
    total = "http_requests_total"
    assert metric(text, total, route="/items/{item_id}", method="GET", status="200") == 2
    assert metric(text, total, route="/v1/users/{uid}", method="GET", status="200") == 1
    assert metric(text, total, route="/api/things/{thing_id}", method="GET", status="200") == 1
    assert metric(text, total, route="<unmatched>", method="GET", status="404") == 2
    assert metric(text, total, route="/v1/{path:path}", method="GET", status="404") == 1
    # Concrete paths never become label values.
    assert "/items/1" not in text
    assert "/nope/" not in text
    # The middleware's own endpoints are not counted.
    assert 'route="/metrics"' not in text


def test_slo_thresholds_are_exact_bucket_edges(tmp_path: Path) -> None:
    with service(tmp_path, SPEC, access_log=False) as srv:
        call(srv.url, "/slow?ms=1")
        text = scrape(srv.url)
    edges = {
        line.split('le="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("http_request_duration_seconds_bucket")
    }
    assert {"0.123", "0.3", "0.005", "10.0", "+Inf"} <= edges


def test_sizes_status_and_in_flight(tmp_path: Path) -> None:
    with service(tmp_path, SPEC, access_log=False) as srv:
        call(srv.url, "/upload", method="POST", body=b"x" * 1500)
        call(srv.url, "/status/503")
        text = scrape(srv.url)
    assert metric(text, "http_request_size_bytes_sum", route="/upload", method="POST") == 1500
    assert metric(text, "http_response_size_bytes_count", route="/upload", method="POST") == 1
    labels = {"route": "/status/{code}", "method": "GET", "status": "503"}
    assert metric(text, "http_requests_total", **labels) == 1
    assert metric(text, "http_requests_in_flight") == 0


def test_app_exceptions_are_counted_as_500(tmp_path: Path) -> None:
    with service(tmp_path, SPEC, access_log=False) as srv:
        status, _, _ = call(srv.url, "/boom")
        text = scrape(srv.url)
    assert status == 500
    assert metric(text, "http_requests_total", route="/boom", method="GET", status="500") == 1


def test_two_workers_share_one_exposition(tmp_path: Path) -> None:
    """prometheus-client multiprocess mode: every worker's counts in every scrape."""
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    with service(tmp_path, SPEC, workers=2, env=env, access_log=False) as srv:
        for i in range(60):
            call(srv.url, f"/items/{i}")  # fresh connections: both workers serve some
        # A worker folds finished requests into the shared files at most 0.1 s later.
        time.sleep(0.3)
        scrapes = [scrape(srv.url) for _ in range(4)]
        pids = {p.name.split("_")[-1] for p in multiproc.glob("*.db")}
    route = {"route": "/items/{item_id}", "method": "GET"}
    for text in scrapes:
        assert metric(text, "http_requests_total", **route, status="200") == 60
        assert metric(text, "http_request_duration_seconds_count", **route) == 60
    assert len(pids) >= 2, "both workers should have written metrics"


def test_duration_has_a_status_class_only_where_a_route_had_it(tmp_path: Path) -> None:
    """One process: 5xx series appear only on the route that answered 5xx."""
    with service(tmp_path, SPEC, access_log=False) as srv:
        call(srv.url, "/items/1")
        call(srv.url, "/status/503")
        call(srv.url, "/status/200")
        text = scrape(srv.url)
    count = "http_request_duration_seconds_count"
    status = {"route": "/status/{code}", "method": "GET"}
    items = {"route": "/items/{item_id}", "method": "GET"}
    assert metric(text, count, **status, status_class="5xx") == 1
    assert metric(text, count, **status, status_class="2xx") == 1
    assert metric(text, count, **items, status_class="2xx") == 1
    assert 'route="/items/{item_id}",status_class="5xx"' not in text.replace('method="GET",', "")
    assert metric(text, "http_request_size_bytes_count", **status) == 2


def test_multiprocess_duration_has_a_status_class(tmp_path: Path) -> None:
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    with service(tmp_path, SPEC, workers=2, env=env, access_log=False) as srv:
        for _ in range(6):
            call(srv.url, "/status/503")
            call(srv.url, "/items/1")
        time.sleep(0.3)  # a worker folds finished requests into the shared files within 0.1 s
        text = scrape(srv.url)
    bucket = "http_request_duration_seconds_bucket"
    status = {"route": "/status/{code}", "method": "GET"}
    assert metric(text, bucket, **status, status_class="5xx", le="0.3") == 6
    assert metric(text, bucket, **status, status_class="2xx", le="0.3") == 0
    items = {"route": "/items/{item_id}", "method": "GET", "status_class": "2xx"}
    assert metric(text, "http_request_duration_seconds_count", **items) == 6
