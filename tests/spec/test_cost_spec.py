"""The cost: and budgets: blocks: located errors for bad input, and how a target's and a
scenario's prices lay over the spec's."""

from __future__ import annotations

import re

import pytest

from slokit.errors import SpecError
from slokit.spec import parse_spec
from tests._support import ROOT

HEAD = "service: shop\ntarget: http://127.0.0.1:8000\n"
FLOW = "    executor: constant-vus\n    vus: 1\n    duration: 1s\n    flow: [{get: /}]\n"


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(HEAD + text)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("block", "where", "says"),
    [
        ("cost: {currency: USD}\n", "cost (line 3)", "the cost block prices nothing"),
        ("cost: {instance_hourly: -1}\n", "cost.instance_hourly", "expected a number >= 0"),
        ("cost: {instance_hourly: cheap}\n", "cost.instance_hourly", "a plain number"),
        ("cost: {instance_hourly: 1, vcpu_hourly: 0.04}\n", "cost.instance_hourly",
         "not both"),
        ("cost: {vcpu_hourly: 0.04, memory: 4GiB}\n", "cost.memory", "give gib_hourly too"),
        ("cost: {instance_hourly: 1, replicas: 0}\n", "cost.replicas", "replicas"),
        ("cost: {instance_hourly: 1, headroom: 0.5}\n", "cost.headroom", "a factor >= 1"),
        ("cost: {instance_hourly: 1, currency: US Dollars}\n", "cost.currency", "USD or EUR"),
        ("cost: {instance_hourly: 1, per_request: 2}\n", "cost.per_request", "unknown"),
        ("cost: {instance_hourly: 1, targets: {'not a url': {instance_hourly: 1}}}\n",
         "cost.targets", ""),
        ("gates: ['cost_per_million < 0.40']\n", "gates[0]", "needs prices"),
        ("gates: ['cost_per_million < cheap']\n", "gates[0]", "expected a number"),
        ("scenarios:\n  a:\n" + FLOW + "    gates: ['cost_per_million < 1']\n",
         "scenarios.a.gates[0]", "needs prices"),
        ("scenarios:\n  a:\n" + FLOW + "    cost: {replicas: 2}\n", "scenarios.a.cost",
         "prices nothing"),
    ],
)  # fmt: skip
def test_bad_cost_blocks_are_located(block: str, where: str, says: str) -> None:
    problems = _problems(block)
    assert any(p.startswith(where) and says in p for p in problems), problems


@pytest.mark.parametrize(
    ("block", "where", "says"),
    [
        ("budgets: {m: {amount: 100}}\n", "budgets.m (line 3)", "exactly one cost source"),
        ("budgets: {m: {amount: 100, spend: a, hourly: b}}\n", "budgets.m", "got spend, hourly"),
        ("budgets: {m: {amount: 0, spend: a}}\n", "budgets.m.amount", "above 0"),
        ("budgets: {m: {amount: 100, spend: a, thresholds: [0.8]}}\n", "budgets.m.thresholds[0]",
         "as a percentage"),
        ("budgets: {m: {amount: 100, spend: a, thresholds: [{at: 90%, severity: loud}]}}\n",
         "budgets.m.thresholds[0].severity", ""),
        ("budgets: {m: {amount: 100, spend: a, week_over_week: 20}}\n",
         "budgets.m.week_over_week", "as a percentage"),
        ("budgets: {m: {amount: 100, hourly: 'rate(x[$window])'}}\n", "budgets.m.hourly",
         "no $window"),
        ("budgets: {m: {amount: 100, per_million: 0.2, alert_for: 10s}}\n",
         "budgets.m.alert_for", "1m or more"),
    ],
)  # fmt: skip
def test_bad_budgets_are_located(block: str, where: str, says: str) -> None:
    problems = _problems(block)
    assert any(p.startswith(where) and says in p for p in problems), problems


def test_a_targets_entry_and_a_scenarios_cost_lay_over_the_spec() -> None:
    spec = parse_spec(
        HEAD + "cost:\n  instance_hourly: 0.0832\n  replicas: 2\n  currency: EUR\n"
        "  targets:\n    'http://127.0.0.1:9000/': {instance_hourly: 0.0672}\n"
        "scenarios:\n  x86:\n" + FLOW + "  arm:\n" + FLOW + "    target: http://127.0.0.1:9000\n"
        "  sized:\n" + FLOW + "    cost: {vcpu_hourly: 0.04, vcpus: 2}\n"
    )
    x86 = spec.cost_for(spec.scenarios["x86"], "http://127.0.0.1:8000")
    arm = spec.cost_for(spec.scenarios["arm"], "http://127.0.0.1:9000")
    sized = spec.cost_for(spec.scenarios["sized"], "http://127.0.0.1:8000")
    assert x86 is not None
    assert arm is not None
    assert sized is not None
    assert (x86.instance_hourly, x86.replicas, x86.currency) == (0.0832, 2, "EUR")
    assert (arm.instance_hourly, arm.replicas, arm.currency) == (0.0672, 2, "EUR")
    # A per-vCPU price changes the basis: the instance price does not stay beside it.
    assert (sized.instance_hourly, sized.vcpu_hourly, sized.vcpus) == (None, 0.04, 2.0)
    unpriced = parse_spec(HEAD + "scenarios:\n  a:\n" + FLOW)
    assert unpriced.cost_for(unpriced.scenarios["a"], None) is None


def test_budget_defaults() -> None:
    spec = parse_spec(HEAD + "budgets: {monthly: {amount: 2000, hourly: 'sum(cost_hourly)'}}\n")
    budget = spec.budgets["monthly"]
    assert [(t.at, t.severity) for t in budget.thresholds] == [
        (0.8, "ticket"), (1.0, "ticket"), (1.2, "ticket"),
    ]  # fmt: skip
    assert budget.week_over_week == pytest.approx(0.2)
    assert budget.source == "hourly"
    assert budget.alert_for == 3600.0


def test_the_readmes_cost_and_budget_blocks_are_valid_specs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Cost: what a million requests cost at SLO", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for block in blocks:
        spec = parse_spec("service: orders-api\n" + block)
        assert spec.cost is not None or spec.budgets
