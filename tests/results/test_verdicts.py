"""SLOs and gates judged over hand-built results with known answers."""

from __future__ import annotations

import textwrap

import pytest

from slokit.results import Aggregator, RequestStats, ScenarioResults, Snapshot, evaluate
from slokit.spec import Spec, parse_spec


def spec(body: str) -> Spec:
    return parse_spec("service: t\n" + textwrap.dedent(body))


def stats(
    name: str,
    latencies_ms: list[float],
    *,
    method: str = "GET",
    path: str | None = None,
    failures: dict[str, int] | None = None,
    unanswered: int = 0,
    dropped: int = 0,
    checks: tuple[int, int] = (0, 0),
) -> RequestStats:
    s = RequestStats(name, method, path or name.split(" ", 1)[-1])
    for ms in latencies_ms:
        s.latency.record(int(ms * 1000))
    s.count = len(latencies_ms) + unanswered
    s.failures = dict(failures or {})
    s.dropped = dropped
    s.checks_passed, s.checks_failed = checks
    return s


def results(*items: RequestStats, seconds: float = 10.0, warmup: float = 0.0) -> ScenarioResults:
    return ScenarioResults(
        name="sc",
        executor="constant-vus",
        requests={s.name: s for s in items},
        timeline=[],
        duration_s=seconds,
        warmup_s=warmup,
        workers=1,
    )


def by_name(verdicts: list) -> dict:  # type: ignore[type-arg]
    return {v.name: v for v in verdicts}


def test_latency_slo_counts_good_events_and_reports_the_matching_percentile() -> None:
    s = spec("slos:\n  fast: {route: GET /a, objective: 90%, latency: 100ms}\n")
    # 95 fast, 5 slow: 95% within 100 ms >= 90%.
    r = results(stats("GET /a", [10.0] * 95 + [500.0] * 5))
    (v,) = evaluate(s, r)
    assert v.passed
    assert v.kind == "slo"
    assert v.observed == pytest.approx(0.95)
    assert (v.good, v.total) == (95, 100)
    assert "p90 = 10.0ms" in v.detail


def test_unanswered_requests_are_slow_for_a_latency_slo() -> None:
    s = spec("slos:\n  fast: {route: GET /a, objective: 95%, latency: 100ms}\n")
    r = results(stats("GET /a", [10.0] * 94, unanswered=6, failures={"timeout": 6}))
    (v,) = evaluate(s, r)
    assert not v.passed
    assert v.observed == pytest.approx(0.94)
    assert "bad whatever their latency: 6 without an answer" in v.detail


def test_availability_counts_5xx_and_lost_requests_but_not_4xx() -> None:
    s = spec("slos:\n  availability: {objective: 90%}\n")
    r = results(
        stats("GET /a", [1.0] * 100, failures={"4xx": 30, "5xx": 5}),
        stats("GET /b", [1.0] * 0, unanswered=5, failures={"connect": 5}),
    )
    (v,) = evaluate(s, r)
    assert (v.good, v.total) == (95, 105)
    assert v.passed


def test_route_templates_select_the_requests_an_slo_judges() -> None:
    s = spec(
        """
        slos:
          items: {route: "GET /items/{id}", objective: 99%}
          writes: {route: "POST /items", objective: 99%}
        """
    )
    r = results(
        stats("GET /items/{id}", [1.0] * 10, path="/items/3", failures={"5xx": 1}),
        stats("named by user", [1.0] * 10, path="/items/4"),
        stats("GET /other", [1.0] * 10, failures={"5xx": 10}),
    )
    verdicts = evaluate(s, r)
    assert [v.name for v in verdicts] == ["items"]  # nothing POSTed: not judged
    assert (verdicts[0].good, verdicts[0].total) == (19, 20)


def test_journey_exceptions_are_not_requests_for_slos() -> None:
    s = spec("slos:\n  availability: {objective: 99%}\n")
    exc = stats("(journey exceptions)", [], method="-", path="-", unanswered=3)
    exc.failures = {"exception": 3}
    (v,) = evaluate(s, results(stats("GET /a", [1.0] * 10), exc))
    assert v.total == 10


@pytest.mark.parametrize(
    ("gate", "passed", "observed"),
    [
        ("p95 < 50ms", True, 0.010),
        ("p99 < 50ms", False, 0.200),
        ("max <= 200ms", True, 0.200),
        ("mean < 20ms", True, (0.010 * 96 + 0.2 * 4) / 100),
        ("error_rate < 5%", True, 4 / 120),
        ("error_rate < 3%", False, 4 / 120),
        ("rps >= 12", True, 12.0),
        ("rps > 12", False, 12.0),
        ("requests == 120", True, 120.0),
        ("dropped == 0", False, 30.0),
        ("dropped < 25%", True, 30 / 150),
        ("checks >= 90%", True, 0.9),
        ("checks > 90%", False, 0.9),
        ("p95(GET /a) < 50ms", True, 0.010),
        ("requests(GET /b) == 20", True, 20.0),
        ("requests(/b) == 20", True, 20.0),
    ],
)
def test_gates(gate: str, passed: bool, observed: float) -> None:
    s = spec(f"gates: [{gate!r}]\n")
    r = results(
        stats("GET /a", [10.0] * 96 + [200.0] * 4, dropped=30, checks=(90, 10)),
        stats("GET /b", [], unanswered=20, failures={"timeout": 4}),
    )
    (v,) = evaluate(s, r)
    assert v.passed is passed, v.detail
    assert v.observed == pytest.approx(observed, rel=1e-3)  # histogram precision


def test_rps_is_measured_over_the_run_without_its_warmup() -> None:
    s = spec("gates: ['rps >= 10']\n")
    (v,) = evaluate(s, results(stats("GET /a", [1.0] * 100), seconds=12.0, warmup=2.0))
    assert v.observed == pytest.approx(10.0)


def test_a_gate_on_a_request_that_never_ran_fails_and_says_so() -> None:
    s = spec("gates: ['p95(GET /typo) < 1s']\n")
    (v,) = evaluate(s, results(stats("GET /a", [1.0])))
    assert not v.passed
    assert v.judged
    assert v.observed is None
    assert "GET /typo" in v.detail
    assert "GET /a" in v.detail


def test_a_spec_wide_gate_is_not_judged_where_the_flow_never_sends_its_request() -> None:
    s = spec("gates: ['p95(POST /checkout) < 1s', 'p95 < 1s']\n")
    flow = {"GET /a": RequestStats("GET /a", "GET", "/a")}
    other, total = evaluate(s, results(stats("GET /a", [1.0])), flow=flow)
    assert other.passed
    assert not other.judged
    assert not other.gated
    assert other.detail.startswith("not judged: this scenario sends no request")
    assert "GET /a" in other.detail
    assert total.passed
    assert total.judged


def test_a_spec_wide_gate_on_a_step_of_the_flow_that_never_ran_fails() -> None:
    # The flow sends POST /checkout, but every iteration stopped before it: that is a fail.
    s = spec("gates: ['p95(POST /checkout) < 1s']\n")
    flow = {
        "GET /a": RequestStats("GET /a", "GET", "/a"),
        "POST /checkout": RequestStats("POST /checkout", "POST", "/checkout"),
    }
    (v,) = evaluate(s, results(stats("GET /a", [1.0])), flow=flow)
    assert not v.passed
    assert v.judged
    # A journey's requests are known only at run time: never ran means fail there too.
    (v,) = evaluate(s, results(stats("GET /a", [1.0])), flow=None)
    assert not v.passed
    assert v.judged


def test_a_scenarios_own_gate_is_judged_there_only_and_fails_on_an_unsent_request() -> None:
    s = spec(
        """
        target: http://127.0.0.1:1
        scenarios:
          stress:
            executor: constant-vus
            vus: 1
            duration: 1s
            flow: [{get: /a}]
            gates: ['p95(GET /a) < 1ms', 'p95(POST /nope) < 1s']
        """
    )
    flow = {"GET /a": RequestStats("GET /a", "GET", "/a")}
    own = evaluate(s, results(stats("GET /a", [5.0])), scenario=s.scenarios["stress"], flow=flow)
    assert [(v.name, v.passed, v.judged) for v in own] == [
        ("p95(GET /a) < 1ms", False, True),
        ("p95(POST /nope) < 1s", False, True),
    ]
    assert evaluate(s, results(stats("GET /a", [5.0])), flow=flow) == []


def test_a_scenario_slo_override_changes_only_the_objective() -> None:
    s = spec(
        """
        target: http://127.0.0.1:1
        slos:
          avail: {objective: 99%}
        scenarios:
          stress:
            executor: constant-vus
            vus: 1
            duration: 1s
            flow: [{get: /a}]
            slos: {avail: {objective: 90%}}
        """
    )
    r = results(stats("GET /a", [1.0] * 95, failures={"5xx": 5}))
    (strict,) = evaluate(s, r)
    (loose,) = evaluate(s, r, scenario=s.scenarios["stress"])
    assert not strict.passed  # 95 % against 99 %
    assert loose.passed  # 95 % against the stress scenario's 90 %
    assert strict.observed == loose.observed


@pytest.mark.parametrize("gate", ["p95 < 1s", "error_rate < 1%", "checks >= 99%"])
def test_undefined_metrics_fail_rather_than_pass(gate: str) -> None:
    s = spec(f"gates: [{gate!r}]\n")
    (v,) = evaluate(s, results(stats("GET /a", [], unanswered=0)))
    assert not v.passed
    assert v.detail.startswith("cannot pass")


def test_ungated_scenarios_report_failures_without_blocking() -> None:
    s = spec("gates: ['error_rate < 1%']\n")
    (v,) = evaluate(s, results(stats("GET /a", [1.0] * 10, failures={"5xx": 5})), gated=False)
    assert not v.passed
    assert not v.blocking


def test_aggregator_leaves_warmup_out_of_totals_but_keeps_it_in_the_timeline() -> None:
    agg = Aggregator("sc", "constant-vus", warmup_seconds=1.0, workers=2)
    for worker in (0, 1):
        for second in (0, 1, 2):
            agg.add(
                Snapshot(
                    worker=worker,
                    second=second,
                    warmup=second < 1,
                    requests={"GET /a": stats("GET /a", [float(second + 1)] * 10)},
                    vus=3,
                )
            )
    res = agg.finish(duration_s=3.0)
    assert res.requests["GET /a"].count == 40
    assert res.requests["GET /a"].latency.min == 2000
    assert [p.requests for p in res.timeline] == [20, 20, 20]
    assert [p.warmup for p in res.timeline] == [True, False, False]
    assert [p.vus for p in res.timeline] == [6, 6, 6]
    assert res.measured_s == pytest.approx(2.0)


def test_a_fast_5xx_is_bad_for_a_latency_slo() -> None:
    """Good for a latency SLO: a response with status < 500 within the threshold. 58 fast 503s
    (an adaptive limiter shedding) and 42 fast 200s are 42 % good, however fast the 503s were."""
    s = spec("slos:\n  fast: {route: GET /a, objective: 95%, latency: 100ms}\n")
    a = stats("GET /a", [1.0] * 58 + [5.0] * 42, failures={"5xx": 58})
    for _ in range(58):
        a.server_errors.record(1000)
    (v,) = evaluate(s, results(a))
    assert (v.good, v.total, v.passed) == (42, 100, False)
    assert "with status < 500 within 100ms" in v.detail
    assert "bad whatever their latency: 58 5xx" in v.detail
    # The p95 gate stays a percentile over every response, as in k6.
    (gate,) = evaluate(spec("gates: [p95 < 100ms]\n"), results(a))
    assert gate.passed


def test_5xx_are_taken_out_of_the_histogram_bucket_by_bucket() -> None:
    s = spec("slos:\n  fast: {route: GET /a, objective: 50%, latency: 100ms}\n")
    a = stats("GET /a", [50.0, 50.0, 150.0, 150.0, 99.9])
    a.failures = {"5xx": 2}
    a.server_errors.record(50_000)  # one 5xx within the threshold, one beyond it
    a.server_errors.record(150_000)
    (v,) = evaluate(s, results(a))
    assert (v.good, v.total) == (2, 5)  # 50 ms and 99.9 ms with status < 500


def test_an_slo_with_a_custom_sli_is_not_judged_by_a_load_test() -> None:
    s = spec(
        """
        slos:
          workflow-timeout:
            objective: 99%
            sli: {bad: 'sum(rate(bad[$window]))', total: 'sum(rate(all[$window]))'}
        """
    )
    (v,) = evaluate(s, results(stats("GET /a", [1.0] * 100)))
    assert (v.kind, v.judged, v.passed, v.gated, v.observed) == ("slo", False, True, False, None)
    assert "custom PromQL SLI: judged by Prometheus rules, not by a load test" in v.detail
    assert not v.blocking
    assert not v.soft_failure
    back = type(v).from_dict(v.to_dict())
    assert back == v


def test_an_expected_5xx_is_still_unavailable() -> None:
    """A journey may accept a 503 (``expect=503``, ``status: [200, 503]``) to go on with its
    iteration: that is no failure of the request, but the service was not available."""
    s = spec("slos:\n  availability: {objective: 90%}\n")
    a = stats("GET /a", [1.0] * 100)  # no failures: every status was expected
    for _ in range(20):
        a.server_errors.record(1000)
    (v,) = evaluate(s, results(a))
    assert (v.good, v.total, v.passed) == (80, 100, False)


def test_a_named_check_is_not_a_request_but_counts_for_checks_gates() -> None:
    named = RequestStats("item matches", "-", "-")
    named.checks_passed, named.checks_failed = 9, 1
    r = results(stats("GET /a", [1.0] * 10, checks=(10, 0)), named)
    assert list(r.requests) == ["GET /a"]
    assert r.checks == {"item matches": named}
    s = spec("gates: ['checks >= 99%', 'checks(item matches) >= 95%', 'checks(GET /a) >= 99%']\n")
    every, one, request = evaluate(s, r)
    assert (every.passed, every.observed) == (False, 0.95)  # 19 of 20
    assert (one.passed, one.observed) == (False, 0.9)
    assert request.passed
    back = ScenarioResults.from_dict(r.to_dict())
    assert back.checks["item matches"].checks_failed == 1
    assert "item matches" not in back.requests
