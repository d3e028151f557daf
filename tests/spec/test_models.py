"""The models: what each accepts, what it stores, and how it says no."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from slokit.errors import UsageError
from slokit.spec import (
    SLO,
    Check,
    ConstantArrivalRate,
    ConstantVUs,
    DataSource,
    Dependency,
    Guards,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    RateLimit,
    Route,
    Spec,
    Step,
)

FLOW = [{"get": "/"}]


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [
        (".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.value.errors(include_url=False)
    ]


def raises(model: Any, data: Any, fragment: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        model.model_validate(data)


# --- steps -----------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_step_verb_key_becomes_method_and_path(verb: str) -> None:
    step = Step.model_validate({verb: "/api/x"})
    assert (step.method, step.path) == (verb.upper(), "/api/x")


def test_step_fields() -> None:
    step = Step.model_validate(
        {
            "post": "/api/orders/{{id}}",
            "name": "order",
            "headers": {"X-Retry": 5, "Accept": "application/json"},
            "json": {"sku": "A1"},
            "status": 201,
            "checks": [{"status": [200, 201]}],
            "think": "250ms",
        }
    )
    assert step.path == "/api/orders/{{id}}"
    assert step.name == "order"
    assert step.headers == {"X-Retry": "5", "Accept": "application/json"}
    assert step.json_body == {"sku": "A1"}
    assert step.body is None
    assert step.status == [201]
    assert step.checks == [Check(status=[200, 201])]
    assert step.think == 0.25


def test_step_defaults() -> None:
    step = Step.model_validate({"get": "https://example.com/x?y=1"})
    assert step.path == "https://example.com/x?y=1"
    assert (step.name, step.json_body, step.body, step.status, step.think) == (None,) * 5
    assert (step.headers, step.checks) == ({}, [])


def test_step_status_list_and_text() -> None:
    assert Step.model_validate({"get": "/", "status": [200, "204"]}).status == [200, 204]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"name": "x"}, "a step needs exactly one of get, post, put, patch, delete, head, options"),
        ({"get": "/", "post": "/"}, "got get and post"),
        ({"get": "/", "json": {}, "body": "x"}, "give either 'json' or 'body', not both"),
        ({"get": "api"}, "a step path starts with '/'"),
        ({"get": None}, "Input should be a valid string"),
        ({"get": "/", "status": 99}, "status 99 is not an HTTP status code"),
        ({"get": "/", "status": "ok"}, "invalid status 'ok'"),
        ({"get": "/", "status": True}, "invalid status true"),
        ({"get": "/", "think": "soon"}, "invalid duration 'soon'"),
        ({"get": "/", "jsn": {}}, "unknown field 'jsn'; did you mean 'json'?"),
        ({"gt": "/"}, "unknown field 'gt'; did you mean 'get'?"),
        ({"get": "/", "method": "POST"}, "write the verb key alone"),
    ],
)
def test_step_rejects(data: dict[str, Any], fragment: str) -> None:
    raises(Step, data, fragment)


def test_step_accepts_its_stored_form() -> None:
    assert Step.model_validate({"method": "get", "path": "/x"}) == Step.model_validate(
        {"get": "/x"}
    )


def test_step_reports_every_problem_together() -> None:
    with pytest.raises(ValidationError) as info:
        Step.model_validate({"get": "/", "post": "/", "nmae": "x", "status": 700})
    found = errors(info)
    assert len(found) == 3, found
    assert {loc for loc, _ in found} == {"post", "nmae", "status"}


# --- checks ----------------------------------------------------------------------------


def test_check_kinds() -> None:
    assert Check.model_validate({"status": 200}).status == [200]
    assert Check.model_validate({"body_contains": "ok"}).body_contains == "ok"
    check = Check.model_validate({"json": "$.a.b[0]", "equals": None})
    assert check.json_path == "$.a.b[0]"
    assert "equals" in check.model_fields_set
    assert "equals" not in Check.model_validate({"json": "$.a", "exists": True}).model_fields_set
    assert Check.model_validate({"json": "$.a", "exists": False}).exists is False


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            {},
            "a check needs exactly one of status, body_contains, json (or event, on a stream "
            "step); got none",
        ),
        ({"status": 200, "json": "$.a"}, "got status and json"),
        ({"json": "a.b"}, "invalid JSON path 'a.b'; it starts with '$'"),
        ({"status": 200, "equals": 1}, "'equals' only applies to a 'json' check"),
        ({"body_contains": "x", "exists": True}, "'exists' only applies to a 'json' check"),
        ({"json": "$.a", "exists": "perhaps"}, "Input should be a valid boolean"),
    ],
)
def test_check_rejects(data: dict[str, Any], fragment: str) -> None:
    raises(Check, data, fragment)


# --- data sources ----------------------------------------------------------------------


def test_data_source() -> None:
    assert DataSource.model_validate({"file": "users.csv"}).mode == "sequential"
    assert DataSource.model_validate({"file": "u.csv", "mode": "unique"}).mode == "unique"
    raises(DataSource, {"file": "u.csv", "mode": "shuffled"}, "Input should be 'sequential'")
    raises(DataSource, {"file": " "}, "expected a non-empty string")


# --- scenarios -------------------------------------------------------------------------


def test_constant_vus() -> None:
    sc = ConstantVUs.model_validate(
        {"executor": "constant-vus", "vus": "10", "duration": "10m", "flow": FLOW}
    )
    assert (sc.executor, sc.vus, sc.duration) == ("constant-vus", 10, 600.0)
    assert (sc.warmup, sc.think, sc.timeout, sc.target, sc.data) == (None, 0.0, 10.0, None, None)
    assert (sc.gate, sc.follow_redirects, sc.headers, sc.script) == (True, False, {}, None)
    assert sc.flow == [Step.model_validate({"get": "/"})]


def test_common_scenario_fields() -> None:
    sc = ConstantVUs.model_validate(
        {
            "vus": 1,
            "duration": "1s",
            "script": "journeys.py:checkout",
            "warmup": "5s",
            "think": "100ms",
            "timeout": "2s",
            "target": "https://api.example.com",
            "data": {"file": "users.csv", "mode": "random"},
            "gate": False,
            "follow_redirects": True,
            "headers": {"Authorization": "Bearer x"},
        }
    )
    assert sc.script == "journeys.py:checkout"
    assert (sc.warmup, sc.think, sc.timeout) == (5.0, 0.1, 2.0)
    assert sc.target == "https://api.example.com"
    assert sc.data == DataSource(file="users.csv", mode="random")
    assert (sc.gate, sc.follow_redirects) == (False, True)
    assert sc.headers == {"Authorization": "Bearer x"}


def test_ramping_vus() -> None:
    sc = RampingVUs.model_validate(
        {
            "executor": "ramping-vus",
            "stages": [{"to": 10, "over": "30s"}, {"to": 0, "over": "10s"}],
            "flow": FLOW,
        }
    )
    assert sc.start_vus == 0
    assert [(s.to, s.over) for s in sc.stages] == [(10, 30.0), (0, 10.0)]
    assert sc.duration == 40.0


def test_per_vu_iterations() -> None:
    sc = PerVUIterations.model_validate({"vus": 2, "iterations": 5, "flow": FLOW})
    assert (sc.vus, sc.iterations, sc.max_duration, sc.duration) == (2, 5, 600.0, 600.0)


def test_constant_arrival_rate() -> None:
    sc = ConstantArrivalRate.model_validate({"rate": "3/min", "duration": "1h", "flow": FLOW})
    assert (sc.rate, sc.duration, sc.max_vus) == (0.05, 3600.0, 100)


def test_ramping_arrival_rate() -> None:
    sc = RampingArrivalRate.model_validate(
        {
            "stages": [
                {"to": "50/s", "over": "1m"},
                {"to": "500/s", "over": "5m"},
                {"to": 0, "over": "1m"},
            ],
            "max_vus": 500,
            "script": "j.py:run",
        }
    )
    assert sc.start_rate == 0.0
    assert [s.to for s in sc.stages] == [50.0, 500.0, 0.0]
    assert sc.duration == 420.0
    assert sc.max_vus == 500


@pytest.mark.parametrize(
    ("model", "data", "fragment"),
    [
        (ConstantVUs, {"vus": 0, "duration": "1s", "flow": FLOW}, "must be at least 1, got 0"),
        (ConstantVUs, {"vus": 1.5, "duration": "1s", "flow": FLOW}, "expected an integer"),
        (ConstantVUs, {"vus": True, "duration": "1s", "flow": FLOW}, "got true"),
        (ConstantVUs, {"vus": 1, "duration": 0, "flow": FLOW}, "must be greater than 0"),
        (ConstantVUs, {"vus": 1, "duration": "1s", "flow": []}, "the flow is empty"),
        (ConstantVUs, {"vus": 1, "duration": "1s"}, "got neither"),
        (ConstantVUs, {"vus": 1, "duration": "1s", "flow": FLOW, "script": "a.py:f"}, "got both"),
        (ConstantVUs, {"vus": 1, "duration": "1s", "script": "a.py"}, "invalid script 'a.py'"),
        (ConstantVUs, {"vus": 1, "duration": "1s", "script": "a.py:1f"}, "invalid script"),
        (ConstantVUs, {"vus": 1, "duration": "1s", "flow": FLOW, "timeout": 0}, "greater than 0"),
        (ConstantVUs, {"vus": 1, "duration": "1s", "flow": FLOW, "target": "x"}, "invalid URL 'x'"),
        (
            ConstantVUs,
            {"vus": 1, "duration": "1s", "flow": FLOW, "duraton": 1},
            "did you mean 'duration'",
        ),
        (RampingVUs, {"stages": [], "flow": FLOW}, "at least 1 item"),
        (RampingVUs, {"stages": [{"to": -1, "over": "1s"}], "flow": FLOW}, "must be at least 0"),
        (RampingVUs, {"stages": [{"to": 1, "over": "0s"}], "flow": FLOW}, "greater than 0"),
        (RampingVUs, {"stages": [{"to": 1}], "flow": FLOW}, "Field required"),
        (PerVUIterations, {"vus": 1, "iterations": 0, "flow": FLOW}, "must be at least 1"),
        (ConstantArrivalRate, {"rate": "0/s", "duration": "1s", "flow": FLOW}, "greater than 0"),
        (
            ConstantArrivalRate,
            {"rate": "5/s", "duration": "1s", "flow": FLOW, "max_vus": 0},
            "at least 1",
        ),
        (
            RampingArrivalRate,
            {"stages": [{"to": "x", "over": "1s"}], "flow": FLOW},
            "invalid rate 'x'",
        ),
    ],
)
def test_scenarios_reject(model: Any, data: dict[str, Any], fragment: str) -> None:
    raises(model, data, fragment)


# --- with_duration ---------------------------------------------------------------------


def test_with_duration_replaces_constant_durations() -> None:
    cv = ConstantVUs.model_validate({"vus": 1, "duration": "10m", "flow": FLOW})
    assert cv.with_duration(30).duration == 30.0
    assert cv.duration == 600.0  # the original is unchanged
    car = ConstantArrivalRate.model_validate({"rate": 5, "duration": "10m", "flow": FLOW})
    scaled = car.with_duration(12.5)
    assert (scaled.duration, scaled.rate) == (12.5, 5.0)
    pvi = PerVUIterations.model_validate({"vus": 1, "iterations": 3, "flow": FLOW})
    assert pvi.with_duration(60).max_duration == 60.0


def test_with_duration_scales_ramping_stages_proportionally() -> None:
    rv = RampingVUs.model_validate(
        {
            "start_vus": 2,
            "stages": [{"to": 10, "over": "1m"}, {"to": 50, "over": "2m"}, {"to": 0, "over": "1m"}],
            "flow": FLOW,
        }
    )
    short = rv.with_duration(60)
    assert [s.over for s in short.stages] == pytest.approx([15.0, 30.0, 15.0])
    assert [s.to for s in short.stages] == [10, 50, 0]
    assert short.duration == 60.0
    assert short.start_vus == 2
    rar = RampingArrivalRate.model_validate(
        {"stages": [{"to": "10/s", "over": "7s"}, {"to": "20/s", "over": "3s"}], "flow": FLOW}
    )
    odd = rar.with_duration(1)
    assert odd.duration == 1.0
    assert [s.over for s in odd.stages] == pytest.approx([0.7, 0.3])
    assert [s.to for s in odd.stages] == [10.0, 20.0]


@pytest.mark.parametrize("seconds", [0, -1])
def test_with_duration_rejects_non_positive(seconds: float) -> None:
    sc = ConstantVUs.model_validate({"vus": 1, "duration": "1m", "flow": FLOW})
    with pytest.raises(UsageError, match="greater than 0"):
        sc.with_duration(seconds)


# --- SLOs, dependencies, guards ---------------------------------------------------------


def test_availability_slo() -> None:
    slo = SLO.model_validate({"objective": "99.9%"})
    assert (slo.objective, slo.window, slo.route, slo.latency) == (0.999, 2_592_000.0, None, None)
    assert slo.kind == "availability"


def test_latency_slo() -> None:
    slo = SLO.model_validate(
        {
            "objective": 0.95,
            "latency": "500ms",
            "route": "POST /api/orders",
            "window": "7d",
            "description": "orders are fast",
        }
    )
    assert (slo.objective, slo.latency, slo.window) == (0.95, 0.5, 604_800.0)
    assert slo.route == Route(method="POST", path="/api/orders")
    assert slo.kind == "latency"
    assert slo.description == "orders are fast"


@pytest.mark.parametrize(
    ("objective", "fragment"),
    [
        ("100%", "leaves no error budget"),
        (1, "leaves no error budget"),
        ("0%", "is zero"),
        (0, "is zero"),
        (99.9, "write '99.9%'"),
        ("high", "invalid percentage 'high'"),
    ],
)
def test_slo_objective_is_strictly_between_0_and_100(objective: Any, fragment: str) -> None:
    raises(SLO, {"objective": objective}, fragment)


def test_slo_rejects() -> None:
    raises(SLO, {"objective": "99%", "latency": "0ms"}, "greater than 0")
    raises(SLO, {"objective": "99%", "window": "a month"}, "invalid duration 'a month'")
    raises(SLO, {"objective": "99%", "route": "POSTT /x"}, "method must be one of")
    raises(SLO, {}, "Field required")


def test_dependency() -> None:
    dep = Dependency.model_validate({"kind": "postgres", "url": "postgresql://db/app"})
    assert (dep.kind, dep.url, dep.timeout, dep.critical) == (
        "postgres",
        "postgresql://db/app",
        1.0,
        True,
    )
    cache = Dependency.model_validate(
        {"kind": "redis", "url": "redis://127.0.0.1:6379/0", "timeout": "250ms", "critical": False}
    )
    assert (cache.timeout, cache.critical) == (0.25, False)
    raises(Dependency, {"kind": "mysql", "url": "x"}, "Input should be 'postgres'")
    raises(Dependency, {"kind": "http", "url": "api:80"}, "for an http dependency")
    raises(Dependency, {"kind": "tcp", "url": ""}, "expected a non-empty string")


def test_guards() -> None:
    guards = Guards.model_validate(
        {
            "max_body": "1MiB",
            "rate_limits": [
                {"route": "POST /api/orders", "limit": "15/hour", "key": "header:X-User-Id"},
                {"route": "/login", "limit": 5},
            ],
            "concurrency": "adaptive",
        }
    )
    assert guards.max_body == 1024**2
    first, second = guards.rate_limits
    assert first.route == Route(method="POST", path="/api/orders")
    assert first.limit == pytest.approx(15 / 3600)
    assert (first.limit_text, first.key) == ("15/hour", "header:X-User-Id")
    assert (second.limit, second.limit_text, second.key) == (5.0, "5/s", "ip")
    assert guards.concurrency == "adaptive"
    assert Guards().concurrency == "off"
    assert Guards.model_validate({"concurrency": 64}).concurrency == 64
    assert Guards.model_validate({"concurrency": False}).concurrency == "off"  # YAML `off`
    assert Guards.model_validate({"concurrency": "OFF"}).concurrency == "off"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"concurrency": 0}, "invalid concurrency 0"),
        ({"concurrency": "lots"}, "expected a number of concurrent requests (at least 1)"),
        ({"concurrency": True}, "invalid concurrency true"),
        ({"max_body": "0B"}, "the size must be greater than 0"),
        ({"max_body": "huge"}, "invalid size 'huge'"),
        ({"rate_limits": [{"route": "/x", "limit": "0/s"}]}, "greater than 0"),
        ({"rate_limits": [{"route": "/x", "limit": 1, "key": "cookie"}]}, "expected 'ip' or"),
        ({"rate_limits": [{"route": "/x", "limit": 1, "key": "header:"}]}, "header:<Name>"),
        ({"rate_limits": [{"limit": 1}]}, "Field required"),
    ],
)
def test_guards_reject(data: dict[str, Any], fragment: str) -> None:
    raises(Guards, data, fragment)


def test_rate_limit_keeps_its_text_through_a_dump() -> None:
    limit = RateLimit.model_validate({"route": "/x", "limit": "15/hour"})
    assert RateLimit.model_validate(limit.model_dump()) == limit


# --- the spec --------------------------------------------------------------------------


def test_spec_defaults() -> None:
    spec = Spec.model_validate({"service": "orders"})
    assert (spec.version, spec.service, spec.target, spec.warmup) == (1, "orders", None, 0.0)
    assert (spec.slos, spec.gates, spec.dependencies, spec.scenarios) == ({}, [], {}, {})
    assert spec.guards == Guards()
    assert spec.base_dir == "."


def test_spec_reads_null_sections_as_empty() -> None:
    spec = Spec.model_validate(
        {"service": "x", "slos": None, "gates": None, "guards": None, "scenarios": None}
    )
    assert (spec.slos, spec.gates, spec.guards, spec.scenarios) == ({}, [], Guards(), {})


def test_spec_scenarios_keep_order_and_pick_their_model() -> None:
    spec = Spec.model_validate(
        {
            "service": "x",
            "scenarios": {
                "z": {
                    "executor": "ramping-arrival-rate",
                    "stages": [{"to": 1, "over": 1}],
                    "flow": FLOW,
                },
                "a": {"executor": "constant-vus", "vus": 1, "duration": 1, "flow": FLOW},
                "m": {"executor": "per-vu-iterations", "vus": 1, "iterations": 1, "flow": FLOW},
            },
        }
    )
    assert list(spec.scenarios) == ["z", "a", "m"]
    assert isinstance(spec.scenario("z"), RampingArrivalRate)
    assert isinstance(spec.scenario("a"), ConstantVUs)
    assert isinstance(spec.scenario("m"), PerVUIterations)


def test_spec_scenario_lookup_names_the_known_ones() -> None:
    spec = Spec.model_validate(
        {
            "service": "x",
            "scenarios": {
                "baseline": {"executor": "constant-vus", "vus": 1, "duration": 1, "flow": FLOW},
                "steady": {"executor": "constant-vus", "vus": 1, "duration": 1, "flow": FLOW},
            },
        }
    )
    with pytest.raises(UsageError, match=r"did you mean 'baseline'\? scenarios: baseline, steady"):
        spec.scenario("baselin")
    with pytest.raises(UsageError, match="scenarios: baseline, steady"):
        spec.scenario("zzz")
    with pytest.raises(UsageError, match="the spec has no scenarios"):
        Spec.model_validate({"service": "x"}).scenario("any")


def test_spec_rejects() -> None:
    raises(Spec, {"service": "x", "version": 2}, "unsupported spec version 2")
    raises(Spec, {"service": "x", "target": "127.0.0.1:8000"}, "invalid URL")
    raises(Spec, {"service": "x", "warmup": "-1s"}, "cannot be negative")
    raises(Spec, {"service": "x", "scenarios": {" ": {}}}, "a name here is empty")
    raises(Spec, {}, "Field required")


def test_models_are_frozen() -> None:
    spec = Spec.model_validate({"service": "x"})
    with pytest.raises(ValidationError, match="frozen"):
        spec.service = "y"


def test_spec_round_trips_through_model_dump() -> None:
    spec = Spec.model_validate(
        {
            "service": "orders",
            "target": "http://127.0.0.1:8000",
            "slos": {"lat": {"objective": "95%", "latency": "300ms", "route": "GET /x"}},
            "gates": ["p95(GET /x) < 300ms", "error_rate < 1%"],
            "guards": {"rate_limits": [{"route": "/x", "limit": "15/hour"}]},
            "scenarios": {
                "s": {
                    "executor": "constant-vus",
                    "vus": 1,
                    "duration": "1s",
                    "flow": [
                        {"post": "/x", "json": {"a": 1}, "checks": [{"json": "$.a", "equals": 1}]}
                    ],
                }
            },
        }
    )
    dumped = spec.model_dump(mode="json", by_alias=True)
    assert "base_dir" not in dumped
    assert Spec.model_validate(dumped) == spec


def test_rules_fields_parse_with_their_defaults() -> None:
    from slokit.spec import parse_spec

    spec = parse_spec(
        """
service: orders
prometheus: {selector: 'job="orders",env="prod"'}
alerting: {runbook: "https://wiki.example/slo", labels: {team: payments}}
slos:
  custom:
    objective: 99.5%
    sli: {bad: 'sum(rate(errors_total[$window]))', total: 'sum(rate(requests_total[$window]))'}
    alerting: {ticket: false, page_for: 5m}
  plain: {objective: 99%}
"""
    )
    assert spec.prometheus.selector == 'job="orders",env="prod"'
    assert spec.alerting.labels == {"team": "payments"}
    assert spec.alerting.page_for == 120.0
    custom = spec.slos["custom"]
    assert custom.sli is not None
    assert custom.sli.good is None
    assert custom.alerting is not None
    assert (custom.alerting.ticket, custom.alerting.page_for) == (False, 300.0)
    assert spec.slos["plain"].alerting is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("slos: {a: {objective: 99%, sli: {total: 't[$window]'}}}", "exactly one of good and bad"),
        ("slos: {a: {objective: 99%, sli: {good: 'g[5m]', total: 't[$window]'}}}", "no $window"),
        ("prometheus: {selector: '{job=\"x\"}'}", "without braces"),
        ("alerting: {page_for: soon}", "invalid duration"),
    ],
)
def test_rules_fields_reject_what_cannot_work(body: str, fragment: str) -> None:
    from slokit.errors import SpecError
    from slokit.spec import parse_spec

    with pytest.raises(SpecError) as info:
        parse_spec("service: s\n" + body + "\n")
    assert fragment in str(info.value)
