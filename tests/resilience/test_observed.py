"""Per-dependency and per-cache metrics: ResilientTransport counts every attempt at a real
server by outcome, with its duration and its retries, under the dependency's spec name; a
named StaleCache counts hits, misses and stale answers; both reach /metrics. The alerts their
SLOs stand for pass their promtool tests."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slokit.errors import CircuitOpenError, SpecError
from slokit.resilience import (
    AsyncResilientTransport,
    ResilientTransport,
    StaleCache,
    cache_stats,
    dependency_stats,
    install_metrics,
    set_testing,
)
from slokit.rules import rule_groups
from slokit.spec import parse_spec
from tests._support import UvicornApp, run_slokit
from tests.rules.test_rules import promtool


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornApp]:
    app = UvicornApp("asgi_app:app")
    try:
        yield app
    finally:
        app.kill()


def _name() -> str:
    return f"dep-{uuid.uuid4().hex[:8]}"


def test_attempts_outcomes_retries_and_rejections_are_counted(server: UvicornApp) -> None:
    name = _name()
    set_testing(True)  # no real backoff sleeps
    try:
        transport = ResilientTransport(
            dependency=name,
            buckets=[0.3],
            attempts=3,
            breaker={"minimum_calls": 6, "window": 6, "failure_rate": 0.5, "open_for": 60},
        )
        with httpx.Client(transport=transport, base_url=server.url) as client:
            for _ in range(3):
                assert client.get("/ok").status_code == 200
            assert client.get("/slow?ms=350").status_code == 200
            assert client.get("/status/503").status_code == 503  # 3 attempts, 2 retries
            with pytest.raises(CircuitOpenError):  # 6 calls, 3 failed: open
                client.get("/ok")
    finally:
        set_testing(False)
    reading = dependency_stats(name).reading()
    assert reading.outcomes == {"success": 4, "error": 3, "transport_error": 0, "rejected": 1}
    assert reading.retries == 2
    assert 0.3 in reading.edges
    at_300ms = reading.buckets[reading.edges.index(0.3)]
    assert at_300ms == 6  # every attempt but the 350 ms one
    assert reading.buckets[-1] == 7
    assert reading.total_seconds >= 0.35


def test_the_async_transport_counts_the_same(server: UvicornApp) -> None:
    name = _name()

    async def calls() -> None:
        transport = AsyncResilientTransport(dependency=name, attempts=1, breaker=False)
        async with httpx.AsyncClient(transport=transport, base_url=server.url) as client:
            await client.get("/ok")
            await client.get("/status/500")
        dead = AsyncResilientTransport(dependency=name, attempts=1, breaker=False)
        async with httpx.AsyncClient(transport=dead, base_url="http://127.0.0.1:9") as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("/x")

    asyncio.run(calls())
    outcomes = dependency_stats(name).reading().outcomes
    assert outcomes == {"success": 1, "error": 1, "transport_error": 1, "rejected": 0}


def test_caches_and_dependencies_reach_metrics(server: UvicornApp) -> None:
    name, cache_name = _name(), f"cache-{uuid.uuid4().hex[:8]}"
    with httpx.Client(transport=ResilientTransport(dependency=name), base_url=server.url) as c:
        c.get("/ok")
    cache = StaleCache(ttl=60, max_stale=600, name=cache_name)

    @cache
    def lookup(key: str) -> str:
        return key.upper()

    for key in ("a", "a", "a", "b"):
        lookup(key)
    own = cache_stats(f"{cache_name}-own")
    own.hit()
    own.miss()
    own.entries = 12
    registry = CollectorRegistry()
    install_metrics(registry)
    text = generate_latest(registry).decode()
    assert f'slokit_dependency_requests_total{{dependency="{name}",outcome="success"}} 1.0' in text
    assert f'slokit_dependency_request_duration_seconds_count{{dependency="{name}"}} 1.0' in text
    assert (
        f'slokit_dependency_request_duration_seconds_bucket{{dependency="{name}",le="2"}} 1.0'
        in text
    )
    assert f'slokit_cache_requests_total{{cache="{cache_name}",result="hit"}} 2.0' in text
    assert f'slokit_cache_requests_total{{cache="{cache_name}",result="miss"}} 2.0' in text
    assert f'slokit_cache_entries{{cache="{cache_name}"}} 2.0' in text
    assert f'slokit_cache_entries{{cache="{cache_name}-own"}} 12.0' in text


SPEC = """\
service: quizmentor
dependencies:
  openai: {kind: http, url: "https://api.openai.com", probe: false, latency: 2s,
           objective: 95%, errors: 5%}
  geocode: {kind: http, url: "https://geo.example", probe: false, latency: 1500ms}
caches:
  sessions: {hit_ratio: 70%, for: 15m}
"""


def test_dependency_and_cache_slos_become_tested_alerts(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    done = run_slokit("rules", str(spec), "--out", str(tmp_path / "rules.yml"), "--test")
    assert done.returncode == 0, done.stderr
    tool = promtool()
    tested = subprocess.run(
        [tool, "test", "rules", str(tmp_path / "rules.alerts.test.yml")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = [r for g in rule_groups(parse_spec(SPEC)) for r in g["rules"]]
    found = {(r["alert"], r["labels"].get("dependency") or r["labels"].get("cache")) for r in rules}
    assert found == {
        ("DependencyLatency", "openai"),
        ("DependencyErrors", "openai"),
        ("DependencyLatency", "geocode"),
        ("CacheHitRatioLow", "sessions"),
    }
    geocode = next(r for r in rules if r["labels"].get("dependency") == "geocode")
    assert "> 0.05" in geocode["expr"]  # 95 % within 1.5s when no objective is given
    assert 'le=~"1\\\\.5' in geocode["expr"]
    cache = next(r for r in rules if r["alert"] == "CacheHitRatioLow")
    assert cache["for"] == "15m"
    assert cache["expr"].endswith("< 0.7")


def test_a_dependency_that_is_not_probed_is_not_a_readiness_check() -> None:
    from slokit.asgi._checks import checks_from_spec

    spec = parse_spec(SPEC)
    assert checks_from_spec(spec.dependencies) == []
    with pytest.raises(SpecError) as caught:
        parse_spec(
            "service: s\ndependencies:\n  a: {kind: http, url: 'http://h', objective: 95%}\n"
        )
    assert "give latency too" in str(caught.value)


def test_the_dashboard_gets_dependency_and_cache_panels() -> None:
    from slokit.rules import dashboard

    model = dashboard(parse_spec(SPEC))
    titles = [p["title"] for p in model["panels"]]
    assert titles[titles.index("Dependencies") :] == [
        "Dependencies",
        "openai: latency p95",
        "openai: error rate",
        "geocode: latency p95",
        "geocode: error rate",
        "Caches",
        "sessions: hit ratio",
    ]
    latency = model["panels"][titles.index("openai: latency p95")]
    assert latency["targets"][0]["expr"].startswith("histogram_quantile(0.95, sum by (le)")
    steps = latency["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 2.0]
