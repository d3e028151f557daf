"""/ops/slo on a real service, and the live-SLO arithmetic with a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from slokit.asgi._metrics import Metrics, latency_buckets
from slokit.asgi._slo import LiveSLOs, SLOTarget
from slokit.spec import Route
from tests.asgi._service import call, get_json, service

SPEC = """
service: ops
slos:
  availability: {objective: 90%}
  items-fast: {route: "GET /items/{item_id}", objective: 99%, latency: 50ms}
  slow-fast: {route: GET /slow, objective: 50%, latency: 100ms}
"""


def test_ops_slo_reports_what_the_process_saw(tmp_path: Path) -> None:
    with service(tmp_path, SPEC, access_log=False) as srv:
        for i in range(8):
            call(srv.url, f"/items/{i}")
        call(srv.url, "/status/500")
        call(srv.url, "/status/404")
        call(srv.url, "/slow?ms=1")
        call(srv.url, "/slow?ms=200")
        status, body = get_json(srv.url, "/ops/slo")
    assert status == 200
    slos = body["slos"]
    availability = slos["availability"]["windows"]["since_start"]
    assert (availability["requests"], availability["good"]) == (12, 11)  # one 500; 404 is good
    assert availability["burn_rate"] == pytest.approx((1 - 11 / 12) / 0.1, abs=1e-3)
    assert slos["availability"]["windows"]["5m"]["requests"] == 12
    items = slos["items-fast"]["windows"]["since_start"]
    assert (items["requests"], items["good"]) == (8, 8)
    assert items["budget_remaining"] == 1.0
    slow = slos["slow-fast"]["windows"]["since_start"]
    assert (slow["requests"], slow["good"]) == (2, 1)
    assert slos["slow-fast"]["latency_s"] == 0.1


def test_ops_slo_token(tmp_path: Path) -> None:
    with service(tmp_path, SPEC, access_log=False, ops_token="s3cret") as srv:
        status, headers, _ = call(srv.url, "/ops/slo")
        assert status == 401
        assert headers["www-authenticate"].startswith("Bearer")
        assert call(srv.url, "/ops/slo", headers={"Authorization": "Bearer nope"})[0] == 401
        ok = call(srv.url, "/ops/slo", headers={"Authorization": "Bearer s3cret"})
        assert ok[0] == 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_windows_are_differences_of_snapshots() -> None:
    targets = [
        SLOTarget("avail", 0.99, None, None),
        SLOTarget("fast", 0.9, Route.parse("GET /a/{id}"), 0.1),
    ]
    metrics = Metrics(CollectorRegistry(), latency_buckets([0.1]))
    clock = Clock()
    live = LiveSLOs(targets, metrics, clock=clock)
    # An hour ago: 100 requests, 10 of them 5xx and slow.
    for i in range(100):
        bad = i < 10
        metrics.observe("/a/{id}", "GET", 500 if bad else 200, 0.5 if bad else 0.01, 0, 0)
    live.tick()
    clock.now += 3000  # 50 minutes later: 100 more, all good
    live.tick()
    for _ in range(100):
        metrics.observe("/a/{id}", "GET", 200, 0.01, 0, 0)
    metrics.observe("/other", "GET", 200, 0.01, 0, 0)  # not the fast SLO's route
    clock.now += 299
    snap = live.snapshot()["slos"]
    assert isinstance(snap, dict)
    since = snap["avail"]["windows"]["since_start"]
    assert (since["requests"], since["good"]) == (201, 191)
    five = snap["avail"]["windows"]["5m"]
    assert (five["requests"], five["good"]) == (101, 101)
    hour = snap["fast"]["windows"]["1h"]
    assert (hour["requests"], hour["good"]) == (200, 190)
    assert hour["burn_rate"] == pytest.approx((1 - 190 / 200) / 0.1)


def test_an_idle_window_reads_as_none_not_as_perfect() -> None:
    metrics = Metrics(None, latency_buckets([]))
    live = LiveSLOs([SLOTarget("avail", 0.99, None, None)], metrics, clock=Clock())
    window = live.snapshot()["slos"]["avail"]["windows"]["5m"]  # type: ignore[index]
    assert window == {
        "requests": 0,
        "good": 0,
        "sli": None,
        "budget_remaining": None,
        "burn_rate": None,
    }
