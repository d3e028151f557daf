"""Verdicts: the spec's SLOs and ``gates:`` judged over one scenario's results.

An SLO is judged over the requests its route covers (all requests without a route), with the
warm-up already left out of ``ScenarioResults.requests``. SLOs are ratios of good events to
all events, exactly what the service's own Prometheus histograms will compute:

* availability: good = got a response that is not 5xx (4xx are the client's business);
* latency: good = answered within the threshold; requests without an answer are bad.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from slokit.results._format import format_count, format_ms, format_percent
from slokit.results._model import ScenarioResults, Verdict, merge_stats
from slokit.results._stats import RequestStats
from slokit.spec import SLO, Gate, Route, Spec, format_duration

__all__ = ["evaluate"]

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


def _judge_slo(name: str, slo: SLO, sc: ScenarioResults, gated: bool) -> Verdict | None:
    matched = [s for s in covered(slo.route, sc.requests.values()) if s.count > 0]
    if not matched:
        return None
    merged = merge_stats(name, matched)
    total = merged.count
    where = f" of {slo.route}" if slo.route is not None else ""
    if slo.latency is not None:
        good = merged.latency.count_at_or_below(slo.latency * 1e6)
        label, p = _percentile_label(slo.objective)
        pct_ms = merged.latency.percentile(p) / 1000.0 if merged.latency.count else None
        matching = f"; {label} = {format_ms(pct_ms)}" if pct_ms is not None else ""
        answered = "" if merged.latency.count == total else " (no answer counts as slow)"
        detail = (
            f"{format_percent(good / total)} of {format_count(total)} requests{where} within "
            f"{format_duration(slo.latency)}{answered} (objective "
            f"{format_percent(slo.objective)}){matching}"
        )
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
    if gate.request is None:
        return list(sc.requests.values())
    exact = sc.requests.get(gate.request)
    if exact is not None:
        return [exact]
    try:
        route = Route.parse(gate.request)
    except ValueError:
        return []
    return [s for s in covered(route, sc.requests.values()) if s.count or s.dropped]


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


def _judge_gate(gate: Gate, sc: ScenarioResults, gated: bool) -> Verdict:
    selected = _select(gate, sc)
    observed: float | None
    if gate.request is not None and not selected:
        names = ", ".join(sorted(sc.requests)) or "none"
        observed, reading = None, f"no request named or routed {gate.request!r} ran (ran: {names})"
    else:
        stats = merge_stats(gate.request or "total", selected)
        observed, reading = _observe(gate, stats, sc.measured_s)
    passed = observed is not None and gate.compare(observed)
    return Verdict(
        name=gate.text,
        kind="gate",
        scenario=sc.name,
        passed=passed,
        observed=observed,
        threshold=gate.threshold,
        op=gate.op,
        unit=gate.unit,
        detail=reading if observed is not None else f"cannot pass: {reading}",
        gated=gated,
    )


def evaluate(spec: Spec, results: ScenarioResults, *, gated: bool = True) -> list[Verdict]:
    """Judge every exercised SLO, then every gate, over one scenario's results.

    SLOs whose route no request hit are left out (the controller lists them in
    ``ScenarioResults.not_exercised``); a gate that
    names a request that never ran fails, so a typo cannot pass silently.
    """
    verdicts = []
    for name, slo in spec.slos.items():
        verdict = _judge_slo(name, slo, results, gated)
        if verdict is not None:
            verdicts.append(verdict)
    verdicts.extend(_judge_gate(gate, results, gated) for gate in spec.gates)
    return verdicts
