"""Gates over the run history: regressions against a baseline run, and ``--fail-after N``.

**Regressions** (``--max-regression p95=10%,rps=5%``): per scenario, for every request name
both runs made (and their total, when there are several), the new run may be at most 10 %
slower at p95 than the baseline and have at most 5 % fewer requests per second; a capacity
search's sustainable rate may drop by at most ``capacity=10%``, and a priced scenario's cost
per million may rise by at most ``cost_per_million=10%``. Latency
percentiles and req/s are relative to the baseline; ``error_rate=1%`` (or ``1pp``) is in
percentage points, because a baseline without errors would make any relative change
infinite. Each limit becomes a gate verdict such as ``regression p95(GET /x) <= +10% vs run
12``, so it shows in every report and sets the exit code.

**Fail after N** (``--fail-after 2``): a failing gate fails the run only when the same gate
(same scenario and name; a regression's "vs run N" does not count) also failed in each of the
previous N-1 complete runs of the same service and scenarios. Until then it is reported as
failed but not gated, so the run exits 0 with a warning.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from slokit.errors import UsageError
from slokit.results import (
    RequestStats,
    RunResults,
    ScenarioResults,
    Verdict,
    format_count,
    format_ms,
    format_percent,
)
from slokit.store._compare import PERCENTILES, error_rate_change, small_sample
from slokit.store._costs import money
from slokit.store._model import StoredVerdict

__all__ = [
    "FailAfter",
    "REGRESSION_METRICS",
    "RegressionLimits",
    "apply_fail_after",
    "regression_verdicts",
]

REGRESSION_METRICS = (
    "p50",
    "p90",
    "p95",
    "p99",
    "error_rate",
    "rps",
    "capacity",
    "cost_per_million",
)
_WHOLE = frozenset({"capacity", "cost_per_million"})
_LIMIT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(%|pp)\s*")
_VS_RUN = re.compile(r" vs run \d+$")


@dataclass(frozen=True)
class RegressionLimits:
    """How much worse than the baseline each metric may get: ``{"p95": 0.10, "rps": 0.05}``.

    Latency and rps limits are relative (0.10 = 10 %); the error_rate limit is absolute, in
    ratio points (0.01 = one percentage point).
    """

    limits: dict[str, float]

    @classmethod
    def parse(cls, text: str) -> RegressionLimits:
        """``p95=10%,rps=5%,error_rate=1pp``; a UsageError says what is accepted."""
        limits: dict[str, float] = {}
        accepted = ", ".join(REGRESSION_METRICS)
        for part in (p for p in text.split(",") if p.strip()):
            metric, sep, value = part.partition("=")
            metric = metric.strip().lower()
            if not sep or metric not in REGRESSION_METRICS:
                raise UsageError(
                    f"--max-regression {part.strip()!r}: expected METRIC=N% with METRIC one of "
                    f"{accepted}, e.g. p95=10%,rps=5%"
                )
            match = _LIMIT.fullmatch(value)
            if match is None or (match.group(2) == "pp" and metric != "error_rate"):
                raise UsageError(
                    f"--max-regression {part.strip()!r}: the limit is a percentage, e.g. "
                    f"{metric}=10% (error_rate also takes percentage points: error_rate=1pp)"
                )
            limits[metric] = float(match.group(1)) / 100.0
        if not limits:
            raise UsageError("--max-regression is empty: give e.g. p95=10%,rps=5%")
        return cls(limits)


def _pct(ratio: float) -> str:
    return f"{ratio * 100:g}"


def _http_total(requests: dict[str, RequestStats]) -> RequestStats:
    total = RequestStats("total")
    for stats in requests.values():
        total.merge(stats)
    return total


def _verdict(
    sc: ScenarioResults,
    name: str,
    observed: float | None,
    passed: bool,
    *,
    op: str,
    threshold: float,
    detail: str,
) -> Verdict:
    return Verdict(
        name=name,
        kind="gate",
        scenario=sc.name,
        passed=passed,
        observed=observed,
        threshold=threshold,
        op=op,
        unit="ratio",
        detail=detail,
        gated=sc.gated,
    )


def _judge(
    metric: str,
    limit: float,
    label: str,
    base: RequestStats,
    new: RequestStats,
    seconds: tuple[float, float],
    sc: ScenarioResults,
    run: int,
) -> Verdict | None:
    vs = f" vs run {run}"
    if metric in PERCENTILES:
        if not base.latency.count:
            return None
        name = f"regression {metric}{label} <= +{_pct(limit)}%{vs}"
        if not new.latency.count:
            return _verdict(
                sc,
                name,
                None,
                False,
                op="<=",
                threshold=limit,
                detail=("cannot pass: no request got a response in this run"),
            )
        q = PERCENTILES[metric]
        b, n = base.latency.percentile(q) / 1000.0, new.latency.percentile(q) / 1000.0
        rel = n / b - 1.0
        fewest = min(base.latency.count, new.latency.count)
        note = f" (small sample: {fewest:,} responses)" if small_sample(q, fewest) else ""
        detail = f"{metric} {format_ms(b)} in run {run} -> {format_ms(n)} now ({rel:+.1%}){note}"
        return _verdict(sc, name, rel, rel <= limit, op="<=", threshold=limit, detail=detail)
    if metric == "error_rate":
        if not base.count:
            return None
        name = f"regression error_rate{label} <= +{_pct(limit)}pp{vs}"
        if not new.count:
            return _verdict(
                sc,
                name,
                None,
                False,
                op="<=",
                threshold=limit,
                detail=("cannot pass: no requests were made in this run"),
            )
        b, n = base.failed / base.count, new.failed / new.count
        reading, _ = error_rate_change(base.failed, base.count, new.failed, new.count)
        detail = (
            f"error rate {format_percent(b)} ({format_count(base.failed)} of "
            f"{format_count(base.count)}) in run {run} -> {format_percent(n)} "
            f"({format_count(new.failed)} of {format_count(new.count)}) now: "
            f"{(n - b) * 100:+.2f} points, {reading}"
        )
        return _verdict(sc, name, n - b, n - b <= limit, op="<=", threshold=limit, detail=detail)
    base_s, new_s = seconds
    if base_s <= 0 or not base.count:
        return None
    name = f"regression rps{label} >= -{_pct(limit)}%{vs}"
    b = base.count / base_s
    n = new.count / new_s if new_s > 0 else 0.0
    rel = n / b - 1.0
    detail = (
        f"{format_count(round(b, 1))} req/s in run {run} -> {format_count(round(n, 1))} req/s "
        f"now ({rel:+.1%})"
    )
    return _verdict(sc, name, rel, rel >= -limit, op=">=", threshold=-limit, detail=detail)


def regression_verdicts(
    baseline: RunResults, current: RunResults, limits: RegressionLimits, *, baseline_id: int
) -> list[Verdict]:
    """Gate verdicts of ``current`` against ``baseline``, per scenario both ran.

    Request names only one run made are skipped (the spec's own gates catch missing ones);
    an aborted run (either side) is not judged.
    """
    if baseline.partial or current.partial:
        return []
    base_scenarios = {sc.name: sc for sc in baseline.scenarios}
    verdicts: list[Verdict] = []
    for sc in current.scenarios:
        base_sc = base_scenarios.get(sc.name)
        if base_sc is None:
            continue
        new_http = {n: r for n, r in sc.requests.items() if r.method != "-"}
        base_http = {n: r for n, r in base_sc.requests.items() if r.method != "-"}
        pairs = [(f"({n})", base_http[n], r) for n, r in new_http.items() if n in base_http]
        if len(new_http) > 1 and base_http:
            pairs.append(("", _http_total(base_http), _http_total(new_http)))
        if "capacity" in limits.limits:
            capacity = _capacity_verdict(base_sc, sc, limits.limits["capacity"], baseline_id)
            if capacity is not None:
                verdicts.append(capacity)
        if "cost_per_million" in limits.limits:
            cost = _cost_verdict(base_sc, sc, limits.limits["cost_per_million"], baseline_id)
            if cost is not None:
                verdicts.append(cost)
        seconds = (base_sc.measured_s, sc.measured_s)
        for label, base, new in pairs:
            for metric in REGRESSION_METRICS:
                if metric in limits.limits and metric not in _WHOLE:
                    verdict = _judge(
                        metric, limits.limits[metric], label, base, new, seconds, sc, baseline_id
                    )
                    if verdict is not None:
                        verdicts.append(verdict)
    return verdicts


def _capacity_verdict(
    base: ScenarioResults, new: ScenarioResults, limit: float, run: int
) -> Verdict | None:
    if base.capacity is None or new.capacity is None or base.capacity.sustainable is None:
        return None
    name = f"regression capacity >= -{_pct(limit)}% vs run {run}"
    b = base.capacity.sustainable
    n = new.capacity.sustainable
    if n is None:
        detail = f"sustained {format_count(round(b, 1))}/s in run {run}; now no step held"
        return _verdict(new, name, -1.0, False, op=">=", threshold=-limit, detail=detail)
    rel = n / b - 1.0
    detail = (
        f"sustained {format_count(round(b, 1))}/s in run {run} -> "
        f"{format_count(round(n, 1))}/s now ({rel:+.1%})"
    )
    return _verdict(new, name, rel, rel >= -limit, op=">=", threshold=-limit, detail=detail)


def _cost_verdict(
    base: ScenarioResults, new: ScenarioResults, limit: float, run: int
) -> Verdict | None:
    """``cost_per_million=10%``: the new cost per million at most 10 % above the baseline's
    (None when the baseline was not priced)."""
    before = base.cost
    if before is None or before.judged_per_million is None:
        return None
    b = before.judged_per_million
    name = f"regression cost_per_million <= +{_pct(limit)}% vs run {run}"
    cost = new.cost
    n = None if cost is None else cost.judged_per_million
    if cost is None or n is None:
        why = "not priced" if cost is None else (cost.missing or "nothing served")
        detail = f"cannot pass: this run's cost per million is unknown ({why})"
        return _verdict(new, name, None, False, op="<=", threshold=limit, detail=detail)
    rel = n / b - 1.0 if b > 0 else 0.0
    detail = (
        f"{money(b, before.currency)} per million in run {run} -> {money(n, cost.currency)} "
        f"now ({rel:+.1%})"
    )
    if before.currency != cost.currency:
        detail = f"cannot pass: {detail}: different currencies"
        return _verdict(new, name, None, False, op="<=", threshold=limit, detail=detail)
    return _verdict(new, name, rel, rel <= limit, op="<=", threshold=limit, detail=detail)


def _key(scenario: str, name: str) -> tuple[str, str]:
    return scenario, _VS_RUN.sub("", name)


@dataclass(frozen=True)
class FailAfter:
    """What ``--fail-after N`` did: failures held back, and failures that now fail the run."""

    held: tuple[tuple[Verdict, int], ...]
    """(verdict, consecutive failures so far, this run included) not failing the run yet."""
    failing: tuple[tuple[Verdict, int], ...]
    """(verdict, consecutive failures) that reached N and fail the run."""


def apply_fail_after(
    results: RunResults, previous: Sequence[Sequence[StoredVerdict]], fail_after: int
) -> FailAfter:
    """Hold back failing gates of ``results`` that have not failed ``fail_after`` runs in a row.

    ``previous`` is the verdicts of the previous complete runs of the same service and
    scenarios, newest first. A held-back verdict becomes not gated (reported as failed,
    never failing the run) and says why in its detail. ``results`` is changed in place.
    """
    held: list[tuple[Verdict, int]] = []
    failing: list[tuple[Verdict, int]] = []
    if fail_after <= 1 or results.partial:
        return FailAfter((), tuple((v, 1) for v in results.verdicts if v.blocking))
    failed_before = [{_key(v.scenario, v.name) for v in run if not v.passed} for run in previous]
    for sc in results.scenarios:
        updated = []
        for v in sc.verdicts:
            if v.blocking:
                streak = 1
                for failed in failed_before[: fail_after - 1]:
                    if _key(v.scenario, v.name) not in failed:
                        break
                    streak += 1
                if streak < fail_after:
                    v = dataclasses.replace(
                        v,
                        gated=False,
                        held_back=fail_after,
                        detail=f"{v.detail} [held back by --fail-after {fail_after}: failed "
                        f"{streak} run(s) in a row]",
                    )
                    held.append((v, streak))
                else:
                    failing.append((v, streak))
            updated.append(v)
        sc.verdicts = updated
    return FailAfter(tuple(held), tuple(failing))
