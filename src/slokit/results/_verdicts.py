"""Verdicts: the spec's SLOs and ``gates:`` judged over one scenario's results.

An SLO is judged over the requests its route covers (all requests without a route), with the
warm-up already left out of ``ScenarioResults.requests``. SLOs are ratios of good events to
all events, exactly what the service's own Prometheus histograms will compute:

* availability: good = got a response that is not 5xx (4xx are the client's business);
* latency: good = got a response with status < 500 within the threshold; 5xx responses
  (however fast: a shed 503 is not a fast answer), timeouts and transport errors are bad.
  The middleware's live SLOs and the Prometheus rules count the same way. ``pNN`` gates, by
  contrast, stay percentiles over every response's latency (k6 semantics).

An SLO with a custom PromQL ``sli:`` is measured by Prometheus from the service's own
metrics, which a load test does not see: it is reported as not judged, with the reason.

Gates come from two places. A scenario's own ``gates:`` are its promises: one naming a
request the scenario never ran fails, so a typo cannot pass. A spec-wide gate naming a
request that the scenario's flow does not send at all is "not judged" there (as SLOs are),
so ``-s abuse`` is not failed by a gate about the checkout flow; if the flow does send it
(or may: a Python journey) and it never ran, the gate fails as a scenario's would.
``slokit validate`` refuses a spec-wide gate that no scenario's flow can satisfy. A
scenario's ``slos:`` changes the objective the spec's SLO is held to in that scenario only.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from slokit.results._cost import read_cost_gate
from slokit.results._format import format_count, format_ms, format_percent
from slokit.results._model import ScenarioResults, Verdict, merge_stats
from slokit.results._soak import (
    NotJudged,
    Reading,
    Unmet,
    read_capacity_gate,
    read_drift_gate,
    read_recovery_gate,
    read_resource_gate,
)
from slokit.results._stats import RequestStats
from slokit.results._stream_gates import is_stream_gate, judge_stream_gate
from slokit.spec import SLO, Gate, Route, Scenario, Spec, format_duration
from slokit.spec._gates import DRIFT_METRICS
from slokit.spec._route import STREAM_METHODS

__all__ = ["CUSTOM_SLI", "evaluate", "gate_selects"]

_WHOLE_RUN = frozenset({"capacity", "recovery", "cost_per_million"})
"""Gates on what a whole run found, not on its requests."""

_GATE_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}


def _http_path(stats: RequestStats) -> str:
    path = stats.path
    if path.startswith(("http://", "https://")):
        return urlsplit(path).path or "/"
    return path


def _is_http(stats: RequestStats) -> bool:
    # Journey exceptions and named checks are recorded under method "-": not requests.
    return stats.method != "-"


def covered(route: Route | None, requests: Iterable[RequestStats]) -> list[RequestStats]:
    """The requests an SLO with ``route`` judges."""
    http = [s for s in requests if _is_http(s)]
    if route is None:
        return http
    return [s for s in http if route.matches(s.method, _http_path(s))]


def _percentile_label(objective: float) -> tuple[str, float]:
    p = round(objective * 100.0, 4)
    label = f"p{p:g}"
    return label, p


CUSTOM_SLI = "custom PromQL SLI: judged by Prometheus rules, not by a load test"
"""Why an SLO with ``sli:`` is not judged by a run."""


def _not_judged(name: str, slo: SLO, sc: ScenarioResults, reason: str) -> Verdict:
    return Verdict(
        name=name,
        kind="slo",
        scenario=sc.name,
        passed=True,
        observed=None,
        threshold=slo.objective,
        op=">=",
        unit="ratio",
        detail=f"not judged: {reason}",
        gated=False,
        judged=False,
    )


def _latency_detail(slo: SLO, merged: RequestStats, good: int, where: str) -> str:
    assert slo.latency is not None
    total = merged.count
    errors = merged.server_errors.count
    unanswered = total - merged.latency.count
    bad = [
        f"{format_count(n)} {what}"
        for n, what in ((errors, "5xx"), (unanswered, "without an answer"))
        if n
    ]
    counted = f"; bad whatever their latency: {', '.join(bad)}" if bad else ""
    label, p = _percentile_label(slo.objective)
    matching = ""
    if merged.latency.count:
        pct_ms = merged.latency.percentile(p) / 1000.0
        matching = f"; {label} = {format_ms(pct_ms)} (all responses)"
    return (
        f"{format_percent(good / total)} of {format_count(total)} requests{where} answered "
        f"with status < 500 within {format_duration(slo.latency)} (objective "
        f"{format_percent(slo.objective)}){counted}{matching}"
    )


def _judge_slo(name: str, slo: SLO, sc: ScenarioResults, gated: bool) -> Verdict | None:
    if slo.sli is not None:
        return _not_judged(name, slo, sc, CUSTOM_SLI)
    matched = [s for s in covered(slo.route, sc.requests.values()) if s.count > 0]
    if not matched:
        return None
    merged = merge_stats(name, matched)
    total = merged.count
    where = f" of {slo.route}" if slo.route is not None else ""
    if slo.latency is not None:
        # Good: a response with status < 500 within the threshold (the rule the middleware's
        # live SLOs and the Prometheus rules share). Taking the 5xx out of the histogram
        # bucket by bucket keeps the count exact; requests without an answer were never in it.
        good = merged.latency.count_at_or_below_without(slo.latency * 1e6, merged.server_errors)
        detail = _latency_detail(slo, merged, good, where)
    else:
        good = total - merged.unavailable
        detail = (
            f"{format_percent(good / total)} of {format_count(total)} requests{where} "
            f"available (objective {format_percent(slo.objective)})"
        )
    observed = good / total
    return Verdict(
        name=name,
        kind="slo",
        scenario=sc.name,
        passed=observed >= slo.objective,
        observed=observed,
        threshold=slo.objective,
        op=">=",
        unit="ratio",
        detail=detail,
        gated=gated,
        good=good,
        total=total,
    )


def _select(gate: Gate, sc: ScenarioResults) -> list[RequestStats]:
    if gate.request is None and gate.measure == "handshake":
        return [s for s in sc.requests.values() if s.method in STREAM_METHODS]
    if gate.request is None:
        return [*sc.requests.values(), *sc.checks.values()]
    if gate.metric == "checks" and gate.request in sc.checks:
        return [sc.checks[gate.request]]  # checks("item matches") >= 99%: a named check
    return gate_selects(gate.request, sc.requests, sent_only=True)


def gate_selects(
    request: str, requests: dict[str, RequestStats], *, sent_only: bool = False
) -> list[RequestStats]:
    """The requests a gate's ``(REQUEST)`` names: the one of that name, else those its route
    covers. ``slokit validate`` asks the same of the requests a flow will send."""
    exact = requests.get(request)
    if exact is not None:
        return [exact]
    try:
        route = Route.parse(request)
    except ValueError:
        return []
    return [s for s in covered(route, requests.values()) if not sent_only or s.count or s.dropped]


def _observe(gate: Gate, stats: RequestStats, seconds: float) -> tuple[float | None, str]:
    """The gate's metric in the threshold's unit, and how it reads; None when undefined."""
    metric = gate.metric
    if metric in _GATE_PERCENTILES or metric in ("max", "mean"):
        hist = stats.latency
        if hist.count == 0:
            return None, "no request got a response, so there is no latency to judge"
        if metric == "max":
            us = float(hist.max)
        elif metric == "mean":
            us = hist.mean
        else:
            us = hist.percentile(_GATE_PERCENTILES[metric])
        return us / 1e6, format_ms(us / 1000.0)
    if metric == "error_rate":
        if stats.count == 0:
            return None, "no requests were made"
        ratio = stats.failed / stats.count
        return ratio, f"{format_percent(ratio)} ({format_count(stats.failed)} of " + (
            f"{format_count(stats.count)})"
        )
    if metric == "checks":
        checks = stats.checks_passed + stats.checks_failed
        if checks == 0:
            return None, "no checks ran"
        ratio = stats.checks_passed / checks
        return ratio, f"{format_percent(ratio)} of {format_count(checks)} checks passed"
    if metric == "rps":
        if seconds <= 0:
            return None, "the run measured no time after its warm-up"
        rps = stats.count / seconds
        return rps, f"{format_count(round(rps, 1))} req/s"
    if metric == "requests":
        return float(stats.count), f"{format_count(stats.count)} requests"
    # dropped: a count, or a share of the scheduled arrivals when written as a percentage
    if gate.threshold_is_ratio:
        scheduled = stats.count + stats.dropped
        if scheduled == 0:
            return None, "no arrivals were scheduled"
        ratio = stats.dropped / scheduled
        return ratio, f"{format_percent(ratio)} of {format_count(scheduled)} arrivals dropped"
    return float(stats.dropped), f"{format_count(stats.dropped)} dropped"


def _ran(sc: ScenarioResults) -> str:
    # Only requests that were sent: a check counted against a name no request used is not one.
    names = sorted(n for n, s in sc.requests.items() if s.count or s.dropped)
    return ", ".join(names) or "none"


def judge_gate(gate: Gate, sc: ScenarioResults, *, own: bool = False) -> Verdict:
    """One gate over ``sc`` as the end of the run would judge it (``own``: a gate of the
    scenario's own ``gates:``). The controller judges ``abort_on_fail`` gates with it live."""
    return _judge_gate(gate, sc, True, own=own)


def _sent(flow: dict[str, RequestStats]) -> str:
    return ", ".join(dict.fromkeys(s.name for s in flow.values())) or "none"


def _judge_soak_gate(gate: Gate, sc: ScenarioResults, gated: bool, *, own: bool) -> Verdict:
    reading: Reading | NotJudged | Unmet
    if gate.resource is not None:
        reading = read_resource_gate(gate, sc.resources, sc.warmup_s)
    elif gate.metric == "capacity":
        reading = read_capacity_gate(gate, sc.capacity)
    elif gate.metric == "recovery":
        reading = read_recovery_gate(gate, sc.capacity, sc.spike)
    elif gate.metric == "cost_per_million":
        reading = read_cost_gate(sc.cost, sc.capacity)
    else:
        reading = read_drift_gate(gate, sc.drift)
    passed, observed, judged = True, None, True
    if isinstance(reading, Unmet):
        passed, detail = False, f"cannot pass: {reading.why}"
    elif isinstance(reading, NotJudged):
        # Measurable here but not measured (a source down, a run too short): reported as
        # such, never a silent pass. Only a scenario's own resource gate without any
        # resources: block fails (validate refuses that spec before it gets here).
        if own and gate.resource is not None and sc.resources is None:
            passed, detail = False, f"cannot pass: {reading.why}"
        else:
            judged, gated, detail = False, False, f"not judged: {reading.why}"
    else:
        observed, detail = reading.observed, reading.text
        passed = gate.compare(reading.observed)
    return Verdict.of_gate(
        gate,
        sc.name,
        passed=passed,
        observed=observed,
        detail=detail,
        gated=gated,
        judged=judged,
    )


def _judge_gate(
    gate: Gate,
    sc: ScenarioResults,
    gated: bool,
    *,
    flow: dict[str, RequestStats] | None = None,
    own: bool = False,
) -> Verdict:
    if gate.resource is not None or gate.metric in DRIFT_METRICS or gate.metric in _WHOLE_RUN:
        return _judge_soak_gate(gate, sc, gated, own=own)
    if is_stream_gate(gate):
        return judge_stream_gate(gate, sc, gated, own=own)
    selected = _select(gate, sc)
    observed: float | None
    if (
        gate.request is not None
        and not selected
        and flow is not None
        and not gate_selects(gate.request, flow)
    ):
        return Verdict.of_gate(
            gate,
            sc.name,
            passed=True,
            observed=None,
            detail=(
                f"not judged: this scenario sends no request named or routed "
                f"{gate.request!r} (its requests: {_sent(flow)})"
            ),
            gated=False,
            judged=False,
        )
    if gate.request is not None and not selected:
        observed, reading = (
            None,
            f"no request named or routed {gate.request!r} ran (ran: {_ran(sc)})",
        )
    else:
        stats = merge_stats(gate.request or "total", selected)
        if gate.metric == "checks":  # a stream step's checks ran on its events
            for stream in sc.streams.values():
                if gate.request is None or any(s.name == stream.name for s in selected):
                    stats.checks_passed += stream.checks_passed
                    stats.checks_failed += stream.checks_failed
        observed, reading = _observe(gate, stats, sc.measured_s)
    passed = observed is not None and gate.compare(observed)
    return Verdict.of_gate(
        gate,
        sc.name,
        passed=passed,
        observed=observed,
        detail=reading if observed is not None else f"cannot pass: {reading}",
        gated=gated,
    )


def evaluate(
    spec: Spec,
    results: ScenarioResults,
    *,
    gated: bool = True,
    scenario: Scenario | None = None,
    flow: dict[str, RequestStats] | None = None,
) -> list[Verdict]:
    """Judge every exercised SLO, then the spec's gates, then the scenario's, over one
    scenario's results.

    SLOs whose route no request hit are left out (the controller lists them in
    ``ScenarioResults.not_exercised``). ``flow`` is what the scenario's flow sends, by name
    (None when only the run knows: a journey): a spec-wide gate naming a request outside it
    is not judged here. Any other gate naming a request that never ran fails, so neither a
    typo nor a step that was never reached can pass silently.
    """
    if results.capacity is not None:
        # A capacity search pushes the target until it breaks: its SLOs and gates judge each
        # step (see CapacityResult.steps); the scenario itself is judged on its capacity.
        own = scenario.gates if scenario is not None else []
        return [
            _judge_gate(g, results, gated, own=g in own)
            for g in [*spec.gates, *own]
            if g.metric in _WHOLE_RUN
        ]
    overrides = scenario.slos if scenario is not None else {}
    verdicts = []
    for name, slo in spec.slos.items():
        if name in overrides:
            slo = slo.model_copy(update={"objective": overrides[name].objective})
        verdict = _judge_slo(name, slo, results, gated)
        if verdict is not None:
            verdicts.append(verdict)
    verdicts.extend(_judge_gate(g, results, gated, flow=flow) for g in spec.gates)
    if scenario is not None:
        verdicts.extend(_judge_gate(g, results, gated, own=True) for g in scenario.gates)
    return verdicts
