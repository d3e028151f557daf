"""Threshold alerts from the spec (seed 002's HighLatency / HighErrorRate / CircuitBreakerOpen,
seed 003's latency, memory, CPU, disk and DB-pool alerts): promtool accepts them, their
generated tests (firing past the threshold, silent inside it) pass and catch a broken rule,
the severity matrix labels them, bad alerts are located, and the service's histogram gets
every alert threshold as a bucket edge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from slokit.errors import SpecError
from slokit.rules import rule_groups
from slokit.spec import parse_spec
from tests._support import run_slokit
from tests.asgi._service import call, service
from tests.rules.test_rules import promtool

SEEDS = """\
service: horoscope-api
prometheus: {selector: 'job="horoscope"'}
alerting:
  severities: {critical: page, high: page, medium: ticket, low: info}
  runbook: https://runbooks.example/horoscope
alerts:
  HighLatency: {when: "p95(GET /api/horoscopes/daily) > 300ms", for: 5m, severity: high}
  LatencyWarning: {when: "p95 > 250ms", for: 5m, severity: medium}
  LatencyCritical: {when: "p99(GET /api/horoscopes/daily) >= 1s", for: 2m, severity: critical}
  HighErrorRate: {when: "error_rate(POST /api/orders) > 1%", for: 5m, severity: critical}
  CircuitBreakerOpen: {when: "breaker_open(pricing) > 1m", severity: high}
  RateLimited: {when: "rate_limited(POST /api/orders) > 1/s", for: 10m, severity: low}
  MemoryHigh: {when: "rss > 512MiB", for: 10m}
  CPUHigh: {when: "cpu > 80%", for: 10m, over: 10m}
  DiskFull: {when: "disk_free(/var/lib/postgresql) < 10%", for: 15m, severity: critical}
  DBPool: {when: 'value(db_pool_in_use{pool="main"}) > 80', for: 5m, labels: {team: db}}
"""


def _write(tmp_path: Path, text: str = SEEDS) -> tuple[Path, Path]:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(text, encoding="utf-8")
    done = run_slokit("rules", str(spec), "--out", str(tmp_path / "rules.yml"), "--test")
    assert done.returncode == 0, done.stderr
    return tmp_path / "rules.yml", tmp_path / "rules.alerts.test.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_alerts_and_their_tests_pass(tmp_path: Path) -> None:
    rules, tests = _write(tmp_path)
    checked = _promtool("check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "10 rules found" in checked.stdout
    tested = _promtool("test", "rules", str(tests))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    document = yaml.safe_load(tests.read_text(encoding="utf-8"))
    fired = {t["name"]: bool(t["alert_rule_test"][0]["exp_alerts"]) for t in document["tests"]}
    # Every alert in two worlds: it fires past its threshold, and only there.
    assert len(fired) == 20
    assert all(v == n.endswith(": breached") for n, v in fired.items())


@pytest.mark.parametrize(
    ("find", "broken"),
    [
        ("> 0.05", "> 0.95"),  # HighLatency would never fire
        ("== 1", "== 2"),  # CircuitBreakerOpen would never fire
        ("< 0.1", "> 0.1"),  # DiskFull would fire on a half-empty disk
    ],
)
def test_the_tests_catch_a_broken_rule(tmp_path: Path, find: str, broken: str) -> None:
    rules, tests = _write(tmp_path)
    text = rules.read_text(encoding="utf-8")
    assert find in text
    rules.write_text(text.replace(find, broken, 1), encoding="utf-8")
    assert _promtool("check", "rules", str(rules)).returncode == 0
    assert _promtool("test", "rules", str(tests)).returncode != 0


def test_the_severity_matrix_and_labels() -> None:
    spec = parse_spec(SEEDS)
    [group] = [g for g in rule_groups(spec) if g["name"].endswith("threshold-alerts")]
    rules = {r["alert"]: r for r in group["rules"]}
    labels = {name: (r["labels"]["severity"], r["labels"]["priority"]) for name, r in rules.items()}
    assert labels["HighLatency"] == ("page", "high")
    assert labels["LatencyWarning"] == ("ticket", "medium")
    assert labels["RateLimited"] == ("info", "low")
    assert labels["MemoryHigh"] == ("ticket", "medium")  # medium when not given
    assert rules["DBPool"]["labels"]["team"] == "db"
    assert rules["CircuitBreakerOpen"]["for"] == "1m"  # the duration in when: is the hold
    assert rules["CPUHigh"]["expr"] == (
        'max(rate(process_cpu_seconds_total{job="horoscope"}[10m])) > 0.8'
    )
    assert (
        rules["HighLatency"]["annotations"]["runbook_url"] == "https://runbooks.example/horoscope"
    )
    assert rules["HighLatency"]["annotations"]["summary"] == (
        "horoscope-api: p95(GET /api/horoscopes/daily) > 300ms for 5m"
    )


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("p95(GET /x) > fast", "invalid duration"),
        ("p95(GIT /x) > 300ms", "GIT"),
        ("latency > 300ms", "unknown metric 'latency'"),
        ("error_rate > 1", "percentage"),
        ("breaker_open > 1m", "breaker_open(NAME) > DURATION"),
        ("breaker_open(x) < 1m", "breaker_open(NAME) > DURATION"),
        ("value(not a selector) > 1", "metric selector"),
        ("cpu > 0.8", "a percentage"),
        ("rss > 512", "unit"),
        ("p95(GET /x)", "expected METRIC"),
    ],
)
def test_bad_alerts_are_located(when: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(f"service: s\nalerts:\n  A: {{when: '{when}'}}\n")
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("alerts.A.when") and says in p for p in problems), problems


def test_bad_alert_fields_are_located() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(
            "service: s\nalerts:\n  A: {when: 'rss > 1GiB', severity: urgent, fro: 5m}\n"
            "alerting: {severities: {critical: pager}}\n"
        )
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("alerts.A.severity") for p in problems), problems
    assert any(p.startswith("alerts.A.fro") and "did you mean 'for'" in p for p in problems)
    assert any(p.startswith("alerting.severities.critical") for p in problems), problems


def test_alert_thresholds_are_bucket_edges_of_the_service(tmp_path: Path) -> None:
    spec = "service: edges\nalerts:\n  Slow: {when: 'p95(GET /slow) > 270ms', for: 5m}\n"
    with service(tmp_path, spec, access_log=False) as srv:
        call(srv.url, "/slow?ms=1")
        status, _, body = call(srv.url, "/metrics")
    assert status == 200
    edges = {
        line.split('le="')[1].split('"')[0]
        for line in body.decode().splitlines()
        if line.startswith("http_request_duration_seconds_bucket")
    }
    assert "0.27" in edges
