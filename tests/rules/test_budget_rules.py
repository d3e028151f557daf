"""Budget rules: promtool accepts them, their generated unit tests pass for each cost source
(threshold alerts firing and not firing, week over week), the tests catch a broken rule, and
the Grafana dashboard gets a FinOps row."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from slokit.rules import FINOPS_ALERTS, FINOPS_SERIES, dashboard, render_finops_tests, rule_groups
from slokit.spec import parse_spec
from tests._support import run_slokit
from tests.rules.test_rules import promtool

SOURCES = {
    "hourly": "hourly: 'node_total_hourly_cost{namespace=\"orders\"}'",
    "spend": "spend: aws_estimated_charges",
    "per_million": "per_million: 0.25",
}


def _spec_text(source: str, extra: str = "") -> str:
    return (
        "service: orders-api\nprometheus: {selector: 'job=\"orders\"'}\n"
        f"cost: {{instance_hourly: 0.1, currency: EUR}}\n"
        f"budgets:\n  monthly: {{amount: 2000, {SOURCES[source]}{extra}}}\n"
    )


def _write(tmp_path: Path, text: str) -> tuple[Path, Path]:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(text, encoding="utf-8")
    done = run_slokit("rules", str(spec), "--out", str(tmp_path / "rules.yml"), "--test")
    assert done.returncode == 0, done.stderr
    return tmp_path / "rules.yml", tmp_path / "rules.budgets.test.yml"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("source", list(SOURCES))
def test_promtool_accepts_the_budget_rules_and_their_tests_pass(
    source: str, tmp_path: Path
) -> None:
    extra = ", thresholds: ['50%', {at: 90%, severity: page}, '150%']" if source == "spend" else ""
    rules, tests = _write(tmp_path, _spec_text(source, extra))
    checked = _promtool("check", "rules", str(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", str(tests))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    document = yaml.safe_load(tests.read_text(encoding="utf-8"))
    worlds = {t["name"].rsplit(": ", 1)[1]: t for t in document["tests"]}
    assert set(worlds) == {"within", "midway", "over", "step"}

    def fired(world: str, alert: str) -> set[str]:
        case = next(c for c in worlds[world]["alert_rule_test"] if c["alertname"] == alert)
        return {a["exp_labels"].get("threshold", "-") for a in case["exp_alerts"]}

    spent, projected = FINOPS_ALERTS["spent"], FINOPS_ALERTS["projected"]
    wow = FINOPS_ALERTS["week_over_week"]
    assert all(not fired("within", a) for a in FINOPS_ALERTS.values())
    # Between the two highest thresholds: the projection passed all but the top one; the
    # spend so far (600 of 744 hours) fewer. Above the highest: everything fires.
    if source == "spend":
        assert fired("midway", projected) == {"50%", "90%"}
        assert fired("midway", spent) == {"50%", "90%"}
        assert fired("over", spent) == {"50%", "90%", "150%"}
    else:
        assert fired("midway", projected) == {"80%", "100%"}
        assert fired("midway", spent) == {"80%"}
        assert fired("over", spent) == {"80%", "100%", "120%"}  # 1.8 x 600/744: 145 %
    assert fired("step", wow) == {"-"}
    assert not fired("over", wow)


def test_the_budget_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    rules, tests = _write(tmp_path, _spec_text("hourly"))
    text = rules.read_text(encoding="utf-8")
    # The 100 % alert reads the wrong series: the tests must notice.
    broken = text.replace(
        f'expr: {FINOPS_SERIES["month_to_date"]}{{service="orders-api",budget="monthly"}} >= 2000',
        f'expr: {FINOPS_SERIES["avg1d"]}{{service="orders-api",budget="monthly"}} >= 2000',
    )
    assert broken != text
    rules.write_text(broken, encoding="utf-8")
    assert _promtool("check", "rules", str(rules)).returncode == 0
    tested = _promtool("test", "rules", str(tests))
    assert tested.returncode != 0
    assert "FinOpsBudgetSpent" in tested.stdout + tested.stderr


def test_the_rules_read_each_source_as_it_is() -> None:
    spec = parse_spec(
        "service: s\nprometheus: {selector: 'job=\"s\"'}\nbudgets:\n"
        "  a: {amount: 100, spend: 'sum(billing_mtd{team=\"x\"})', week_over_week: null}\n"
        "  b: {amount: 100, hourly: cost_per_hour}\n"
        "  c: {amount: 100, per_million: 0.5, thresholds: [{at: 120%, severity: page}]}\n"
    )
    groups = {g["name"]: g["rules"] for g in rule_groups(spec)}
    assert list(groups) == ["slokit-s-budget-a", "slokit-s-budget-b", "slokit-s-budget-c"]

    def expr(group: str, record: str) -> str:
        return next(r["expr"] for r in groups[group] if r.get("record") == record)

    assert expr("slokit-s-budget-a", FINOPS_SERIES["month_to_date"]) == (
        'sum(sum(billing_mtd{team="x"}))'
    )
    # rate() reads the month's restart as a counter reset.
    assert "rate((sum(sum(billing_mtd" in expr("slokit-s-budget-a", FINOPS_SERIES["hourly"])
    assert "day_of_month()" in expr("slokit-s-budget-b", FINOPS_SERIES["month_to_date"])
    assert expr("slokit-s-budget-c", FINOPS_SERIES["hourly"]) == (
        'sum(rate(http_requests_total{job="s"}[1h])) * 3600 * 5e-07'
    )
    alerts_a = [r["alert"] for r in groups["slokit-s-budget-a"] if "alert" in r]
    assert FINOPS_ALERTS["week_over_week"] not in alerts_a  # week_over_week: null
    page = [r for r in groups["slokit-s-budget-c"] if r.get("alert") == FINOPS_ALERTS["spent"]]
    assert [(r["labels"]["severity"], r["labels"]["threshold"], r["expr"]) for r in page] == [
        ("page", "120%", 'slokit:finops_spend:month_to_date{service="s",budget="c"} >= 120'),
    ]
    # A source that is not a plain selector cannot be matched by synthetic series.
    rendered = render_finops_tests(spec, "rules.yml")
    assert rendered is not None
    tests, notes = rendered
    assert any("budget a" in n and "not tested" in n for n in notes)
    assert "budget b" in tests
    assert "budget a:" not in tests


def test_the_dashboard_gets_a_finops_row() -> None:
    spec = parse_spec(_spec_text("hourly"))
    model = dashboard(spec)
    titles = [p["title"] for p in model["panels"]]
    row = titles.index("FinOps: monthly")
    assert titles[row + 1 : row + 5] == [
        "Spend this month",
        "Cost per hour",
        "Projected month end",
        "Cost week over week",
    ]
    spend = model["panels"][row + 1]
    queries = [t["expr"] for t in spend["targets"]]
    matchers = '{service="orders-api",budget="monthly"}'
    assert queries[0] == FINOPS_SERIES["month_to_date"] + matchers
    assert spend["fieldConfig"]["defaults"]["unit"] == "currencyEUR"
    levels = [s["value"] for s in spend["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert levels == [None, 1600, 2000, 2400]
    json.dumps(model)  # serialisable for Grafana's import


def test_rules_from_budgets_alone(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text("service: s\nbudgets: {m: {amount: 10, per_million: 1}}\n", encoding="utf-8")
    done = run_slokit("rules", str(spec))
    assert done.returncode == 0, done.stderr
    assert "FinOpsBudgetProjected" in done.stdout
    spec.write_text("service: s\n", encoding="utf-8")
    none = run_slokit("rules", str(spec))
    assert none.returncode == 2
    assert "no SLOs, alerts or budgets" in none.stderr
