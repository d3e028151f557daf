"""``slokit rules --alertmanager``: amtool accepts the configuration, every generated alert
routes to the receiver its severity names, and bad routing blocks get located errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slokit.errors import SpecError
from slokit.rules import FINOPS_ALERTS, alertmanager_config, rule_groups
from slokit.rules._rules import ALERTS
from slokit.spec import parse_spec
from tests._support import run_slokit

SPEC = """\
service: orders-api
slos:
  availability: {objective: 99.9%}
  latency: {route: GET /api/orders, objective: 95%, latency: 300ms}
alerts:
  HighLatency: {when: "p95(GET /api/orders) > 300ms", for: 5m, severity: high}
  DiskFull: {when: "disk_free(/) < 10%", for: 15m, severity: low}
budgets:
  monthly:
    amount: 2000
    hourly: cost_per_hour
    thresholds: ["80%", "100%", {at: 120%, severity: page}]
alertmanager:
  receivers:
    pagerduty-critical: {pagerduty: {routing_key: "0123456789abcdef0123456789abcdef"}}
    slack-oncall:
      slack: {api_url: "https://hooks.slack.com/services/T0/B0/X0", channel: "#on-call"}
    audit: {webhook: {url: "http://127.0.0.1:9/hook"}}
  routes: {page: pagerduty-critical, ticket: slack-oncall}
  default: audit
  repeat_interval: {page: 30m, ticket: 4h, info: 1d}
"""


def amtool() -> str:
    found = shutil.which("amtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("amtool is missing: .ci/run installs Debian's prometheus-alertmanager")
        pytest.skip("amtool not installed (apt-get install prometheus-alertmanager)")
    return found


def _routes(config: Path, **labels: str) -> str:
    done = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}",
         *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.fixture
def written(tmp_path: Path) -> Path:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    config = tmp_path / "alertmanager.yml"
    done = run_slokit(
        "rules", str(spec), "--out", str(tmp_path / "rules.yml"), "--alertmanager", str(config)
    )
    assert done.returncode == 0, done.stderr
    return config


def test_amtool_accepts_the_configuration(written: Path) -> None:
    done = subprocess.run(
        [amtool(), "check-config", str(written)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    assert "3 receivers" in done.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("page", "pagerduty-critical"), ("ticket", "slack-oncall"), ("info", "audit")],
)
def test_each_severity_routes_to_its_receiver(written: Path, severity: str, receiver: str) -> None:
    assert _routes(written, severity=severity, service="orders-api", slo="latency") == receiver


def test_every_generated_alert_reaches_the_receiver_of_its_severity(written: Path) -> None:
    spec = parse_spec(SPEC)
    wanted = {"page": "pagerduty-critical", "ticket": "slack-oncall", "info": "audit"}
    alerts = [r for g in rule_groups(spec) for r in g["rules"] if "alert" in r]
    names = {r["alert"] for r in alerts}
    assert {ALERTS["page"], ALERTS["ticket"], ALERTS["absent"], *FINOPS_ALERTS.values()} <= names
    assert {"HighLatency", "DiskFull"} <= names  # threshold alerts: high pages, low tickets
    for rule in alerts:
        labels = {k: v for k, v in rule["labels"].items() if k != "service"}
        got = _routes(written, alertname=rule["alert"], service="orders-api", **labels)
        assert got == wanted[rule["labels"]["severity"]], rule["alert"]
    # Another service's alerts are not this spec's to route: the root receiver.
    assert _routes(written, severity="page", service="billing") == "audit"


def test_repeat_intervals_and_inhibitions() -> None:
    config = alertmanager_config(parse_spec(SPEC))
    children = config["route"]["routes"][0]["routes"]
    assert [(c["matchers"], c["repeat_interval"]) for c in children] == [
        (['severity="page"'], "30m"),
        (['severity="ticket"'], "4h"),
        (['severity="info"'], "1d"),
    ]
    inhibit = config["inhibit_rules"]
    burn = inhibit[0]
    assert burn["source_matchers"][0] == f'alertname="{ALERTS["page"]}"'
    assert burn["target_matchers"][0] == f'alertname="{ALERTS["ticket"]}"'
    assert burn["equal"] == ["slo", "service"]
    # The 120 % spend alert mutes the 80 % and 100 % ones of the same budget.
    spent = [r for r in inhibit if f'alertname="{FINOPS_ALERTS["spent"]}"' in r["source_matchers"]]
    assert ['threshold="120%"' in r["source_matchers"] for r in spent] == [False, True]
    assert 'threshold=~"80%|100%"' in spent[1]["target_matchers"]
    yaml.safe_dump(config)


@pytest.mark.parametrize(
    ("block", "where", "says"),
    [
        ("alertmanager: {receivers: {}}\n", "alertmanager.receivers", ""),
        ("alertmanager: {receivers: {a: {webhook: {url: 'http://h/x'}}}, routes: {page: b}}\n",
         "alertmanager.routes.page", "no receiver named 'b'"),
        ("alertmanager: {receivers: {oncall: {webhook: {url: 'http://h/x'}}}, default: oncal}\n",
         "alertmanager.default", "did you mean 'oncall'"),
        ("alertmanager: {receivers: {a: {webhook: {url: 'http://h/x'}, slack: {api_url: "
         "'http://h/y', channel: '#x'}}}}\n", "alertmanager.receivers.a", "exactly one of"),
        ("alertmanager: {receivers: {a: {pagerduty: {}}}}\n", "alertmanager.receivers.a.pagerduty",
         "routing_key"),
        ("alertmanager: {receivers: {a: {webhook: {url: 'http://h/x'}}}, routes: {warn: a}}\n",
         "alertmanager.routes.warn", ""),
    ],
)  # fmt: skip
def test_bad_routing_is_located(block: str, where: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("service: s\n" + block)
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith(where) and says in p for p in problems), problems


def test_no_alertmanager_block_is_a_clear_error(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text("service: s\nslos: {availability: {objective: 99%}}\n", encoding="utf-8")
    done = run_slokit("rules", str(spec), "--alertmanager", str(tmp_path / "am.yml"))
    assert done.returncode == 2
    assert "no alertmanager: block" in done.stderr
