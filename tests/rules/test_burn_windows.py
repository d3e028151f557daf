"""Burn-rate alerts for every SLO window: promtool runs the generated rules over time.

For 1h, 1d, 7d, 28d, 30d and 365d, a 99.5 % SLO (availability, and a latency SLO whose bad
requests are fast 500s): errors at 0.1 % (burn rate 0.2) never alert, errors at twice the
fastest page factor page within the time that burns that tier's share of the budget.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from slokit.errors import UsageError
from slokit.rules import render_rules
from slokit.rules._promtool import render_burn_tests
from slokit.rules._rules import burn_conditions, left_out_conditions
from slokit.spec import parse_spec
from tests.rules.test_rules import promtool

WINDOWS = ["1h", "1d", "7d", "28d", "30d", "365d"]
SECONDS = {"1h": 3600, "1d": 86400, "7d": 7 * 86400, "28d": 28 * 86400, "30d": 30 * 86400,
           "365d": 365 * 86400}  # fmt: skip


def spec_for(window: str) -> str:
    return f"""
service: burn
slos:
  availability: {{objective: 99.5%, window: {window}}}
  fast: {{route: GET /items, objective: 99.5%, latency: 250ms, window: {window}}}
"""


@pytest.mark.parametrize("window", WINDOWS)
def test_factors_never_page_inside_the_budget(window: str) -> None:
    seconds = SECONDS[window]
    conditions = burn_conditions(seconds)
    assert {c.severity for c in conditions} == {"page", "ticket"}
    for c in conditions:
        assert c.factor >= 1.0  # a burn rate below 1 keeps within the budget
        assert 300 <= c.short <= c.long < seconds
        # The share of the budget spent at the factor over the long window, and below all of it.
        assert c.budget_share == pytest.approx(c.factor * c.long / seconds)
        assert c.budget_share < 1.0
    if seconds >= 7 * 86400:  # long enough for the Workbook's shares unchanged
        assert [round(c.budget_share, 3) for c in conditions] == [0.02, 0.05, 0.1, 0.1]
        assert [c.factor for c in conditions] == [14.4, 6.0, 3.0, 1.0]


def test_windows_scale_with_the_slo_window() -> None:
    def shape(seconds: float) -> list[tuple[str, float, float, float]]:
        return [(c.severity, c.long, c.short, c.factor) for c in burn_conditions(seconds)]

    assert shape(30 * 86400) == [
        ("page", 3600, 300, 14.4), ("page", 21600, 1800, 6.0),
        ("ticket", 86400, 7200, 3.0), ("ticket", 259200, 21600, 1.0),
    ]  # fmt: skip
    assert shape(28 * 86400)[0] == ("page", 56 * 60, 300, 14.4)  # Pyrra-like: 1h x 28/30
    assert shape(7 * 86400)[1] == ("page", 84 * 60, 7 * 60, 6.0)
    # 1h: 14.4 over the shortest window (5m) would be 120 % of the budget: left out.
    assert [(c.severity, c.factor) for c in left_out_conditions(3600)] == [("page", 14.4)]
    assert shape(3600)[0] == ("page", 300, 300, 6.0)


def test_the_old_factors_paged_inside_the_budget() -> None:
    """The threshold of 99.5 %/1h used to be 0.0001 (burn rate 0.02); now no page threshold
    is below the budget's own rate."""
    for window in WINDOWS:
        text = render_rules(parse_spec(spec_for(window)))
        thresholds = [float(t) for t in _thresholds(text)]
        assert thresholds, window
        assert min(thresholds) >= 0.005, window


def _thresholds(text: str) -> list[str]:
    import re

    return re.findall(r"> ([0-9.e-]+)", text)


def test_dropped_tiers_are_named_in_the_annotation() -> None:
    text = render_rules(parse_spec(spec_for("1h")))
    page = next(
        r for g in yaml.safe_load(text)["groups"] for r in g["rules"]
        if r.get("alert") == "SLOFastBurn"
    )  # fmt: skip
    note = page["annotations"]["burn_rates"]
    assert "fires at 6x the budget rate over 5m" in note
    assert "left out" in note
    assert "14.4x" in note


def test_a_window_too_short_for_a_page_is_refused() -> None:
    spec = parse_spec("service: s\nslos:\n  a: {objective: 99%, window: 30m}\n")
    with pytest.raises(
        UsageError, match=r"slos\.a\.window: 30m is too short .*longer than 30m.*page: false"
    ):
        render_rules(spec)
    quiet = parse_spec(
        "service: s\nslos:\n  a: {objective: 99%, window: 30m, alerting: {page: false}}\n"
    )
    assert "SLOSlowBurn" in render_rules(quiet)


@pytest.mark.parametrize("slo", ["availability", "fast"])
@pytest.mark.parametrize("window", WINDOWS)
def test_promtool_burn_alerts_over_time(window: str, slo: str, tmp_path: Path) -> None:
    tool = promtool()
    rules, tests = render_burn_tests(parse_spec(spec_for(window)), slo)
    (tmp_path / f"{slo}.rules.yml").write_text(rules, encoding="utf-8")
    (tmp_path / "t.yml").write_text(tests, encoding="utf-8")
    ran = subprocess.run(
        [tool, "test", "rules", "t.yml"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    document = yaml.safe_load(tests)
    fired = [a for t in document["tests"] for c in t["alert_rule_test"] for a in c["exp_alerts"]]
    assert len(fired) == 1  # the fast burn pages, once; nothing else fires


def test_the_burn_tests_catch_the_old_factors(tmp_path: Path) -> None:
    """The old 1h factor (0.02 x budget = 0.0001) pages at a burn rate of 0.2: the 'never
    alerts' test must fail on such a rule."""
    tool = promtool()
    rules, tests = render_burn_tests(parse_spec(spec_for("1h")), "availability")
    broken = rules.replace("> 0.03", "> 0.0001")
    assert broken != rules
    (tmp_path / "availability.rules.yml").write_text(broken, encoding="utf-8")
    (tmp_path / "t.yml").write_text(tests, encoding="utf-8")
    ran = subprocess.run([tool, "test", "rules", "t.yml"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)  # fmt: skip
    assert ran.returncode != 0
    assert "never alerts" in ran.stdout + ran.stderr
