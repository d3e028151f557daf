"""Comparing runs, regression gates and --fail-after, on results built by hand."""

from __future__ import annotations

import math

import pytest

from slokit.errors import UsageError
from slokit.results import CapacityResult, RunResults
from slokit.store import (
    RegressionLimits,
    StoredVerdict,
    apply_fail_after,
    compare,
    error_rate_change,
    regression_verdicts,
)
from slokit.store._compare import _two_proportion_p, small_sample
from tests.store.conftest import gate, make_run


def uniform(ms: float, n: int) -> list[int]:
    return [round(ms * 1000)] * n


def test_compare_reports_absolute_and_relative_changes_per_request_and_total() -> None:
    base = make_run(
        {"GET /a": (uniform(10, 1000), {"5xx": 10}), "GET /b": (uniform(1, 1000), {})},
        measured_s=10,
    )
    new = make_run(
        {"GET /a": (uniform(12, 1000), {"5xx": 40}), "GET /c": (uniform(1, 10), {})},
        measured_s=8,
    )
    result = compare(base, new)
    assert [r.name for r in result.requests] == ["GET /a", "total"]
    assert result.only_base == ("GET /b",)
    assert result.only_new == ("GET /c",)
    a = result.request("GET /a")
    assert (a.base_count, a.new_count) == (1000, 1000)
    p50 = a.metric("p50")
    assert p50.base == pytest.approx(10.0, rel=1e-3)
    assert p50.new == pytest.approx(12.0, rel=1e-3)
    assert p50.change == pytest.approx(2.0, rel=1e-2)
    assert p50.relative == pytest.approx(0.2, rel=1e-2)
    assert p50.reading == "changed by +20.0%"
    assert not p50.small_sample
    errors = a.metric("error_rate")
    assert errors.base == pytest.approx(0.01)
    assert errors.change == pytest.approx(0.03)
    assert errors.reading == "likely a real change"
    assert errors.p_value is not None
    assert errors.p_value < 1e-4
    rps = a.metric("rps")
    assert (rps.base, rps.new) == (pytest.approx(100.0), pytest.approx(125.0))
    assert rps.reading == "changed by +25.0%"
    data = result.to_dict()
    assert data["requests"][0]["metrics"]["p95"]["reading"] == "changed by +20.0%"
    assert data["only_new"] == ["GET /c"]


def test_one_request_has_no_separate_total() -> None:
    result = compare(make_run(), make_run())
    assert [r.name for r in result.requests] == ["GET /a"]
    assert result.requests[0].metric("p95").reading == "unchanged"


def test_error_rate_wording_does_not_over_claim() -> None:
    assert error_rate_change(10, 1000, 40, 1000)[0] == "likely a real change"
    assert error_rate_change(10, 1000, 14, 1000)[0] == "within noise"
    assert error_rate_change(0, 10, 5, 10) == ("too few requests to tell", None)
    assert error_rate_change(0, 5000, 0, 4000) == ("no errors in either run", None)
    # 0 failures of 50 then 3 of 50: could easily be chance
    assert error_rate_change(0, 50, 3, 50)[0] == "within noise"


def test_fisher_exact_and_z_test_p_values() -> None:
    # Fisher's classic tea-tasting-style table (1 of 12 vs 9 of 12): two-sided p = 0.00276
    assert _two_proportion_p(1, 12, 9, 12) == pytest.approx(0.002759, abs=1e-5)
    assert _two_proportion_p(3, 100, 3, 100) == pytest.approx(1.0)
    # thousands of failures: the z-test, which agrees with a hand computation
    f1, n1, f2, n2 = 30_000, 1_000_000, 30_500, 1_000_000
    pooled = (f1 + f2) / (n1 + n2)
    z = (f2 / n2 - f1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert _two_proportion_p(f1, n1, f2, n2) == pytest.approx(math.erfc(z / math.sqrt(2)))
    # the exact test agrees with the z-test where both apply
    pooled = 240 / 20_000
    z = 0.004 / math.sqrt(pooled * (1 - pooled) * 2 / 10_000)
    approx = math.erfc(z / math.sqrt(2))
    assert _two_proportion_p(100, 10_000, 140, 10_000) == pytest.approx(approx, rel=0.25)


def test_small_sample_rule() -> None:
    assert small_sample(50, 99)
    assert not small_sample(50, 100)
    assert small_sample(95, 199)
    assert not small_sample(95, 200)
    assert small_sample(99, 999)
    assert not small_sample(99, 1000)


def test_max_regression_parsing() -> None:
    limits = RegressionLimits.parse("p95=10%, rps=5%,error_rate=0.5pp,p99=20 %")
    assert limits.limits == {"p95": 0.10, "rps": 0.05, "error_rate": 0.005, "p99": 0.20}
    assert RegressionLimits.parse("error_rate=1%").limits == {"error_rate": 0.01}
    for bad, hint in (
        ("p97=10%", "METRIC one of p50, p90, p95, p99, error_rate, rps, capacity"),
        ("p95", "expected METRIC=N%"),
        ("p95=10", "the limit is a percentage"),
        ("p95=10pp", "the limit is a percentage"),
        ("p95=-3%", "the limit is a percentage"),
        (" , ", "is empty"),
    ):
        with pytest.raises(UsageError, match=hint):
            RegressionLimits.parse(bad)


def test_regression_verdicts_per_request_and_total() -> None:
    base = make_run({"GET /a": (uniform(10, 300), {}), "GET /b": (uniform(2, 300), {})})
    new = make_run(
        {"GET /a": (uniform(13, 300), {"5xx": 30}), "GET /b": (uniform(2, 300), {})},
        measured_s=12.0,
    )
    limits = RegressionLimits.parse("p95=10%,rps=5%,error_rate=1%")
    verdicts = regression_verdicts(base, new, limits, baseline_id=12)
    by_name = {v.name: v for v in verdicts}
    assert list(by_name) == [
        "regression p95(GET /a) <= +10% vs run 12",
        "regression error_rate(GET /a) <= +1pp vs run 12",
        "regression rps(GET /a) >= -5% vs run 12",
        "regression p95(GET /b) <= +10% vs run 12",
        "regression error_rate(GET /b) <= +1pp vs run 12",
        "regression rps(GET /b) >= -5% vs run 12",
        "regression p95 <= +10% vs run 12",
        "regression error_rate <= +1pp vs run 12",
        "regression rps >= -5% vs run 12",
    ]
    p95 = by_name["regression p95(GET /a) <= +10% vs run 12"]
    assert (p95.kind, p95.scenario, p95.passed, p95.gated) == ("gate", "smoke", False, True)
    assert p95.observed == pytest.approx(0.3, rel=1e-2)
    assert (p95.op, p95.threshold, p95.unit) == ("<=", 0.10, "ratio")
    assert "10.0ms in run 12 -> 13.0ms now (+30.0%)" in p95.detail
    errors = by_name["regression error_rate(GET /a) <= +1pp vs run 12"]
    assert not errors.passed
    assert errors.observed == pytest.approx(0.1)
    assert "likely a real change" in errors.detail
    assert by_name["regression p95(GET /b) <= +10% vs run 12"].passed
    # 300 requests in 12 s against 300 in 10 s: -16.7 % req/s
    slower = by_name["regression rps(GET /b) >= -5% vs run 12"]
    assert (slower.passed, slower.op, slower.threshold) == (False, ">=", -0.05)
    assert slower.observed == pytest.approx(-1 / 6)
    assert "30 req/s in run 12 -> 25 req/s now (-16.7%)" in slower.detail


def test_regressions_skip_what_cannot_be_compared() -> None:
    limits = RegressionLimits.parse("p95=10%")
    aborted = make_run(partial=True)
    assert regression_verdicts(aborted, make_run(), limits, baseline_id=1) == []
    assert regression_verdicts(make_run(), aborted, limits, baseline_id=1) == []
    other = make_run(scenarios=("steady",))
    assert regression_verdicts(other, make_run(), limits, baseline_id=1) == []
    soft = regression_verdicts(make_run(), make_run(gated=False), limits, baseline_id=1)
    assert [(v.passed, v.gated) for v in soft] == [(True, False)]
    few = regression_verdicts(
        make_run({"GET /a": (uniform(1, 20), {})}),
        make_run({"GET /a": (uniform(2, 20), {})}),
        limits,
        baseline_id=3,
    )
    assert "small sample: 20 responses" in few[0].detail


def stored(name: str, passed: bool, scenario: str = "smoke") -> StoredVerdict:
    return StoredVerdict(
        scenario=scenario,
        kind="gate",
        name=name,
        passed=passed,
        gated=True,
        observed=0.2,
        op="<",
        threshold=0.1,
        unit="s",
        detail="",
    )


def test_fail_after_holds_back_until_n_failures_in_a_row() -> None:
    failing = [gate("p95 < 1ms", False), gate("rps > 1", True)]
    run = make_run(verdicts=failing)
    report = apply_fail_after(run, [], 2)
    assert [(v.name, streak) for v, streak in report.held] == [("p95 < 1ms", 1)]
    assert report.failing == ()
    assert run.passed
    assert run.exit_code == 0
    held = run.scenarios[0].verdicts[0]
    assert (held.passed, held.gated) == (False, False)
    assert "held back by --fail-after 2: failed 1 run(s) in a row" in held.detail

    run = make_run(verdicts=failing)
    report = apply_fail_after(run, [[stored("p95 < 1ms", False)]], 2)
    assert [(v.name, s) for v, s in report.failing] == [("p95 < 1ms", 2)]
    assert run.exit_code == 1

    # a pass in between resets the streak; another gate's failure does not count
    run = make_run(verdicts=failing)
    history = [[stored("p95 < 1ms", False)], [stored("p95 < 1ms", True)]]
    assert [s for _, s in apply_fail_after(run, history, 3).held] == [2]
    run = make_run(verdicts=failing)
    assert apply_fail_after(run, [[stored("other", False)]], 2).held
    assert run.exit_code == 0


def test_fail_after_matches_regressions_whatever_their_baseline() -> None:
    name = "regression p95(GET /a) <= +10% vs run {}"
    run = make_run(verdicts=[gate(name.format(8), False)])
    report = apply_fail_after(run, [[stored(name.format(7), False)]], 2)
    assert len(report.failing) == 1


def test_fail_after_1_and_aborted_runs_change_nothing() -> None:
    run = make_run(verdicts=[gate("g", False)])
    assert len(apply_fail_after(run, [], 1).failing) == 1
    assert run.exit_code == 1
    aborted = make_run(verdicts=[gate("g", False)], partial=True)
    apply_fail_after(aborted, [], 3)
    assert aborted.scenarios[0].verdicts[0].gated


def _with_capacity(run: RunResults, sustainable: float | None) -> RunResults:
    run.scenarios[0].capacity = CapacityResult(
        steps=[],
        sustainable=sustainable,
        breaking=None if sustainable is None else sustainable * 1.2,
        broke_first=["fast"],
        limit="target",
        limit_detail="",
    )
    return run


def test_a_capacity_regression_is_a_gate_and_shows_in_compare() -> None:
    base = _with_capacity(make_run(), 400.0)
    slower = _with_capacity(make_run(), 340.0)
    limits = RegressionLimits.parse("capacity=10%")
    (verdict,) = regression_verdicts(base, slower, limits, baseline_id=7)
    assert verdict.name == "regression capacity >= -10% vs run 7"
    assert not verdict.passed
    assert verdict.observed == pytest.approx(-0.15)
    assert "400/s in run 7 -> 340/s now (-15.0%)" in verdict.detail
    (fine,) = regression_verdicts(base, _with_capacity(make_run(), 380.0), limits, baseline_id=7)
    assert fine.passed
    (broken,) = regression_verdicts(base, _with_capacity(make_run(), None), limits, baseline_id=7)
    assert not broken.passed
    assert regression_verdicts(make_run(), slower, limits, baseline_id=7) == []
    ((scenario, change),) = compare(base, slower).capacity
    assert scenario == "smoke"
    assert (change.base, change.new) == (400.0, 340.0)
    assert change.shown_change() == "-60.0 (-15.0%)"
    assert compare(base, slower).to_dict()["capacity"]["smoke"]["relative"] == pytest.approx(-0.15)
