"""The rule file: its arithmetic, its PromQL, and promtool's verdict on it and its tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slokit.demo import spec_path
from slokit.errors import UsageError
from slokit.rules import render_rules, render_tests, rule_groups
from slokit.rules._rules import burn_conditions
from slokit.rules._sli import le_pattern, prom_duration, sli_queries
from slokit.spec import Spec, load_spec, parse_spec
from tests._support import run_slokit

SEED = parse_spec(
    """
service: horoscope-api
slos:
  availability: {objective: 99.9%, window: 30d}
  daily-latency: {route: GET /api/horoscopes/daily, objective: 95%, latency: 300ms}
  orders-latency: {route: POST /api/orders, objective: 95%, latency: 500ms}
  orders-errors: {route: POST /api/orders, objective: 99%}
"""
)

CUSTOM = parse_spec(
    """
service: legacy
prometheus: {selector: 'job="legacy",env="prod"'}
alerting: {runbook: "https://runbooks.example/legacy", labels: {team: core}}
slos:
  api:
    objective: 99.5%
    window: 7d
    sli:
      bad: 'sum(rate(legacy_errors_total[$window]))'
      total: 'sum(rate(legacy_requests_total[$window]))'
  fast: {route: "GET /v1/items/{id}", objective: 99%, latency: 250ms,
         alerting: {ticket: false, page_for: 5m, annotations: {dashboard: "https://grafana/x"}}}
"""
)


def test_burn_factors_are_the_workbooks_for_30_days_and_scale_with_the_window() -> None:
    thirty = [(c.severity, c.long, c.short, c.factor) for c in burn_conditions(30 * 86400)]
    assert thirty == [
        ("page", 3600, 300, pytest.approx(14.4)),
        ("page", 21600, 1800, pytest.approx(6.0)),
        ("ticket", 86400, 7200, pytest.approx(3.0)),
        ("ticket", 259200, 21600, pytest.approx(1.0)),
    ]
    # Other windows scale the alert windows, never the factors (tests/rules/test_burn_windows.py).
    seven = [(c.long, c.factor, round(c.budget_share, 6)) for c in burn_conditions(7 * 86400)]
    assert seven[0] == (14 * 60, 14.4, 0.02)  # still 2 % of the budget, now within 14m
    assert [c.long for c in burn_conditions(86400)] == [300, 720, 2880, 8640]  # 5m 12m 48m 144m


def test_prom_durations() -> None:
    assert [prom_duration(s) for s in (300, 1800, 3600, 86400, 30 * 86400, 604800, 90, 0.25)] == [
        "5m", "30m", "1h", "1d", "30d", "7d", "90s", "250ms",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("threshold", "matches", "not_matches"),
    [
        (0.3, ["0.3", "0.30", "0.300"], ["0.03", "3", "0x3"]),
        (1.0, ["1", "1.0", "1.00"], ["10", "0.1"]),
        (0.05, ["0.05", "0.050"], ["0.5"]),
    ],
)
def test_le_pattern_matches_every_spelling_of_the_edge(
    threshold: float, matches: list[str], not_matches: list[str]
) -> None:
    import re

    # The pattern sits in a PromQL string: undo its escaping as PromQL would.
    pattern = le_pattern(threshold).replace("\\\\", "\\")
    for text in matches:
        assert re.fullmatch(pattern, text), text
    for text in not_matches:
        assert not re.fullmatch(pattern, text), text


def test_a_threshold_that_is_not_a_bucket_edge_is_refused_clearly() -> None:
    with pytest.raises(UsageError, match=r"300ms is not a bucket edge .* Add 0.3"):
        rule_groups(SEED, buckets=[0.1, 0.25, 0.5])
    rule_groups(SEED, buckets=[0.1, 0.3, 0.5])  # both thresholds are edges


def test_queries_use_the_middlewares_metrics_routes_and_the_selector() -> None:
    q = sli_queries(SEED, "orders-errors", SEED.slos["orders-errors"])
    assert q.kind == "availability"
    assert 'route="/api/orders"' in q.total
    assert 'method="POST"' in q.total
    assert 'status=~"5.."' in q.bad
    assert "or vector(0)" in q.bad
    latency = sli_queries(SEED, "daily-latency", SEED.slos["daily-latency"])
    assert "http_request_duration_seconds_bucket" in latency.bad
    assert "le=~" in latency.bad
    fast = sli_queries(CUSTOM, "fast", CUSTOM.slos["fast"])
    assert 'job="legacy",env="prod"' in fast.total
    assert fast.absent_labels == {"job": "legacy", "env": "prod", "route": "/v1/items/{id}",
                                  "method": "GET"}  # fmt: skip


def test_error_ratios_are_event_weighted_for_every_window() -> None:
    groups = rule_groups(SEED)
    records = [r for g in groups for r in g["rules"] if "record" in r]
    names = {r["record"] for r in records}
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        assert f"slokit:sli_error:ratio_rate{window}" in names
    ratio = next(
        r for r in records
        if r["record"] == "slokit:sli_error:ratio_rate1h" and r["labels"]["slo"] == "availability"
    )  # fmt: skip
    # A ratio of sums of increases, never an average of shorter ratios.
    assert ratio["expr"].count("increase(") == 2
    assert "avg" not in ratio["expr"]
    assert "[1h]" in ratio["expr"]


def test_custom_sli_window_selector_labels_and_annotations() -> None:
    groups = {g["name"]: g["rules"] for g in rule_groups(CUSTOM)}
    sli = groups["slokit-legacy-api-sli"]
    seven = next(r for r in sli if r["record"] == "slokit:sli_error:ratio_rate7d")
    assert seven["expr"] == (
        "(sum(rate(legacy_errors_total[7d]))) / (sum(rate(legacy_requests_total[7d])))"
    )
    api_alerts = {r["alert"]: r for r in groups["slokit-legacy-api-alerts"]}
    # 7 days: no 3-day... 3 d fits in 7 d, so both ticket conditions stay.
    assert set(api_alerts) == {"SLOFastBurn", "SLOSlowBurn", "SLOMetricsAbsent"}
    assert api_alerts["SLOFastBurn"]["labels"]["team"] == "core"
    assert api_alerts["SLOFastBurn"]["annotations"]["runbook_url"] == (
        "https://runbooks.example/legacy"
    )
    fast = {r["alert"]: r for r in groups["slokit-legacy-fast-alerts"]}
    assert "SLOSlowBurn" not in fast  # ticket: false
    assert fast["SLOFastBurn"]["for"] == "5m"
    assert fast["SLOFastBurn"]["annotations"]["dashboard"] == "https://grafana/x"
    assert "runbook_url" not in fast["SLOFastBurn"]["annotations"]  # its own alerting wins


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return found


@pytest.mark.parametrize(
    "spec", [load_spec(spec_path()), SEED, CUSTOM], ids=["demo", "seed", "custom"]
)
def test_promtool_accepts_the_rules_and_their_tests_pass(spec: Spec, tmp_path: Path) -> None:
    tool = promtool()
    rules = tmp_path / "slo.rules.yml"
    rules.write_text(render_rules(spec), encoding="utf-8")
    checked = subprocess.run([tool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    tests, _notes = render_tests(spec, rules.name)
    test_file = tmp_path / "slo.rules.test.yml"
    test_file.write_text(tests, encoding="utf-8")
    ran = subprocess.run(
        [tool, "test", "rules", str(test_file)], capture_output=True, text=True, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # The tests are not empty: the burning world expects alerts to fire.
    document = yaml.safe_load(tests)
    burning = next(t for t in document["tests"] if t["name"].endswith("burning"))
    expected = [a for case in burning["alert_rule_test"] for a in case["exp_alerts"]]
    assert expected or all(s.sli is not None for s in spec.slos.values())


def test_the_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """promtool tests must fail when an alert's threshold is wrong (they are not vacuous)."""
    tool = promtool()
    # Availability (budget 0.1 %): both page conditions made impossible, so it never fires.
    text = render_rules(SEED).replace("> 0.0144", "> 2").replace("> 0.006", "> 2")
    assert "> 2" in text
    rules = tmp_path / "slo.rules.yml"
    rules.write_text(text, encoding="utf-8")
    tests, _ = render_tests(SEED, rules.name)
    (tmp_path / "t.yml").write_text(tests, encoding="utf-8")
    ran = subprocess.run([tool, "test", "rules", "t.yml"], capture_output=True, text=True,
                         cwd=tmp_path)  # fmt: skip
    assert ran.returncode != 0


def test_fast_5xx_make_the_latency_sli_bad(tmp_path: Path) -> None:
    """A latency SLO's good events exclude 5xx: in the fast-5xx world (every request a 503
    within every threshold) its burn alerts fire, and without the status_class matcher the
    generated tests fail."""
    tool = promtool()
    latency = sli_queries(SEED, "daily-latency", SEED.slos["daily-latency"])
    assert 'status_class!="5xx"' in latency.bad
    assert "status_class" not in latency.total  # every request counts in the total
    tests, _ = render_tests(SEED, "slo.rules.yml")
    world = next(t for t in yaml.safe_load(tests)["tests"] if t["name"].endswith("fast-5xx"))
    paged = {a["exp_labels"]["slo"] for c in world["alert_rule_test"] for a in c["exp_alerts"]}
    assert {"daily-latency", "orders-latency"} <= paged
    (tmp_path / "t.yml").write_text(tests, encoding="utf-8")
    for text, passes in (
        (render_rules(SEED), True),
        (render_rules(SEED).replace('status_class!="5xx",', ""), False),
    ):
        (tmp_path / "slo.rules.yml").write_text(text, encoding="utf-8")
        ran = subprocess.run([tool, "test", "rules", "t.yml"], capture_output=True, text=True,
                             cwd=tmp_path)  # fmt: skip
        assert (ran.returncode == 0) is passes, ran.stdout + ran.stderr
        if not passes:
            assert "fast-5xx" in ran.stdout + ran.stderr


def test_cli_writes_rules_and_tests(tmp_path: Path) -> None:
    out = tmp_path / "rules" / "demo.yml"
    done = run_slokit("rules", str(spec_path()), "--out", str(out), "--test")
    assert done.returncode == 0, done.stderr
    assert out.exists()
    assert (tmp_path / "rules" / "demo.test.yml").exists()
    stdout = run_slokit("rules", str(spec_path()))
    assert stdout.returncode == 0
    assert stdout.stdout.startswith("# Generated by `slokit rules`")
    bad = run_slokit("rules", str(spec_path()), "--buckets", "0.05,0.2")
    assert bad.returncode == 2
    assert "not a bucket edge" in bad.stderr
    assert run_slokit("rules", str(spec_path()), "--test").returncode == 2


def test_cli_grafana_and_openslo_round_trip(tmp_path: Path) -> None:
    import json

    board = run_slokit("grafana", str(spec_path()), "--out", str(tmp_path / "board.json"))
    assert board.returncode == 0, board.stderr
    assert json.loads((tmp_path / "board.json").read_text())["title"] == "demo-orders SLOs"
    exported = run_slokit("openslo", "export", str(spec_path()), "-o", str(tmp_path / "o.yaml"))
    assert exported.returncode == 0, exported.stderr
    imported = run_slokit("openslo", "import", str(tmp_path / "o.yaml"), "-o",
                          str(tmp_path / "back.yaml"))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert "not mapped" in imported.stderr  # e.g. the notification targets, said plainly
    back = load_spec(tmp_path / "back.yaml")
    original = load_spec(spec_path())
    assert {n: s.objective for n, s in back.slos.items()} == {
        n: s.objective for n, s in original.slos.items()
    }
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("kind: [unclosed\n")
    failed = run_slokit("openslo", "import", str(garbage))
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
