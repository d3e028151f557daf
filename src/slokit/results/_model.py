"""The results of a run: per scenario, per request name, per second, and the verdicts.

:meth:`RunResults.to_dict` is the ``results.json`` document (its schema is in README.md);
:meth:`RunResults.from_dict` reads it back losslessly, histograms included, so reports can be
rebuilt and runs compared long after they ran.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from slokit._records import load_record, plain_record
from slokit.results._capacity import CapacityResult
from slokit.results._cost import CostFigures
from slokit.results._drift import Drift
from slokit.results._format import encodable, format_time, parse_time
from slokit.results._histogram import Histogram
from slokit.results._resources import ResourceTimeline
from slokit.results._spike import Spike
from slokit.results._stats import RequestStats
from slokit.results._streams import StreamStats

if TYPE_CHECKING:
    from slokit.spec import Gate

__all__ = [
    "GeneratorSecond",
    "RESULTS_FORMAT",
    "RunResults",
    "STALL_MS",
    "ScenarioResults",
    "TimelinePoint",
    "Verdict",
]

RESULTS_FORMAT = 1
"""Version of the results.json layout; bumped on any incompatible change."""


@dataclass(frozen=True)
class Verdict:
    """One pass/fail judgement: an SLO over the run, or a ``gates:`` threshold."""

    name: str
    """The SLO's name, or the gate's text (``p95(GET /x) < 300ms``)."""
    kind: Literal["slo", "gate"]
    scenario: str
    passed: bool
    observed: float | None
    """In ``unit``: a ratio for SLOs, error_rate and checks; seconds for latency gates."""
    threshold: float
    op: str
    unit: str
    detail: str
    """One line for people: what was measured against what."""
    gated: bool = True
    """False when the scenario has ``gate: false``: reported, never fails the run."""
    good: int | None = None
    total: int | None = None
    judged: bool = True
    """False when a load test cannot measure it (an SLO with a custom PromQL ``sli:``): shown
    as not judged with the reason in ``detail``; then ``passed`` is True, ``gated`` False and
    ``observed`` None, so it never fails, holds back or passes anything."""
    held_back: int | None = None
    """N when ``--fail-after N`` held this failure back: reported, not failing the run yet."""

    @classmethod
    def of_gate(
        cls,
        gate: Gate,
        scenario: str,
        *,
        passed: bool,
        observed: float | None,
        detail: str,
        gated: bool,
        judged: bool = True,
    ) -> Verdict:
        """A ``gates:`` verdict; one that is not judged neither passes nor fails anything."""
        if not judged:
            passed, gated, observed = True, False, None
        return cls(
            name=gate.text,
            kind="gate",
            scenario=scenario,
            passed=passed,
            observed=observed,
            threshold=gate.threshold,
            op=gate.op,
            unit=gate.unit,
            detail=detail,
            gated=gated,
            judged=judged,
        )

    @property
    def blocking(self) -> bool:
        """True when this verdict fails the run."""
        return self.gated and not self.passed

    @property
    def soft_failure(self) -> bool:
        """Failed without failing the run for a reason other than ``--fail-after``: a
        ``gate: false`` scenario."""
        return self.judged and not self.gated and not self.passed and self.held_back is None

    def to_dict(self) -> dict[str, Any]:
        return plain_record(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        kind = "slo" if data.get("kind") == "slo" else "gate"
        return load_record(cls, data, kind=kind, held_back=_held_back(data), judged=_judged(data))


_HELD = re.compile(r"\[held back by --fail-after (\d+):")


def _judged(data: Mapping[str, Any]) -> bool:
    """``judged``, or where it is not written (the store, older results), what it was: a
    verdict not judged is kept as passed, not gated and without a value, which no judged
    verdict ever is (a judged one without a value always fails)."""
    judged = data.get("judged")
    if isinstance(judged, bool):
        return judged
    passed, gated = bool(data.get("passed")), bool(data.get("gated", True))
    return not (passed and not gated and data.get("observed") is None)


def _held_back(data: Mapping[str, Any]) -> int | None:
    """``held_back``, or for results written before it existed, the N its detail names."""
    held = data.get("held_back")
    if held is not None:
        return int(held)
    found = _HELD.search(str(data.get("detail", "")))
    return int(found.group(1)) if found and not data.get("gated", True) else None


LAGGED_SHARE = 0.1
"""A generator whose loop ran ``STALL_MS`` late in more than this share of the measured
seconds was saturated, whatever its CPU said (a machine too busy to run it on time)."""
STALL_MS = 50.0
"""An event-loop delay this long in a measured second is reported: every latency measured
across it carries up to that much of the generator's own time."""


@dataclass(slots=True)
class GeneratorSecond:
    """The load generator's own health in one second, over its workers: the busiest worker's
    CPU share, the worst event-loop lag, and (open model) the send lag of every arrival."""

    cpu: float | None = None
    loop_lag_ms: float = 0.0
    schedule: Histogram | None = None

    def add(self, cpu: float | None, loop_lag_ms: float, schedule: Histogram | None) -> None:
        if cpu is not None:
            self.cpu = cpu if self.cpu is None else max(self.cpu, cpu)
        self.loop_lag_ms = max(self.loop_lag_ms, loop_lag_ms)
        if schedule is not None:
            if self.schedule is None:
                self.schedule = schedule.copy()
            else:
                self.schedule.merge(schedule)


def _ms(us: float) -> float:
    return round(us / 1000.0, 3)


@dataclass(frozen=True)
class TimelinePoint:
    """All requests of one second of a scenario, merged across workers."""

    second: int
    warmup: bool
    requests: int
    failures: int
    dropped: int
    vus: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    generator_cpu: float | None = None
    """The busiest worker's CPU share in this second (``None``: not measured)."""
    loop_lag_ms: float | None = None
    """The worst event-loop delay of any worker in this second."""
    schedule_lag_p99_ms: float | None = None
    """Open model: p99 of how late this second's arrivals were written after their time."""

    @classmethod
    def of(
        cls,
        second: int,
        warmup: bool,
        stats: RequestStats,
        vus: int,
        generator: GeneratorSecond | None = None,
    ) -> TimelinePoint:
        p50, p95, p99 = (v / 1000.0 for v in stats.latency.percentiles([50.0, 95.0, 99.0]))
        cpu = lag = sched = None
        if generator is not None:
            cpu = None if generator.cpu is None else round(generator.cpu, 3)
            lag = round(generator.loop_lag_ms, 3) if generator.cpu is not None else None
            if generator.schedule is not None and generator.schedule.count:
                sched = _ms(generator.schedule.percentile(99.0))
        return cls(
            generator_cpu=cpu,
            loop_lag_ms=lag,
            schedule_lag_p99_ms=sched,
            second=second,
            warmup=warmup,
            requests=stats.count,
            failures=stats.failed,
            dropped=stats.dropped,
            vus=vus,
            p50_ms=round(p50, 3),
            p95_ms=round(p95, 3),
            p99_ms=round(p99, 3),
            max_ms=round(stats.latency.max / 1000.0, 3),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "second": self.second,
            "warmup": self.warmup,
            "requests": self.requests,
            "failures": self.failures,
            "dropped": self.dropped,
            "vus": self.vus,
            "latency_ms": {
                "p50": self.p50_ms,
                "p95": self.p95_ms,
                "p99": self.p99_ms,
                "max": self.max_ms,
            },
            **self._generator_dict(),
        }

    def _generator_dict(self) -> dict[str, Any]:
        if self.generator_cpu is None and self.schedule_lag_p99_ms is None:
            return {}
        return {
            "generator": {
                "cpu": self.generator_cpu,
                "loop_lag_ms": self.loop_lag_ms,
                "schedule_lag_p99_ms": self.schedule_lag_p99_ms,
            }
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TimelinePoint:
        latency = data.get("latency_ms", {})
        generator = data.get("generator") or {}
        return cls(
            generator_cpu=_float_or_none(generator.get("cpu")),
            loop_lag_ms=_float_or_none(generator.get("loop_lag_ms")),
            schedule_lag_p99_ms=_float_or_none(generator.get("schedule_lag_p99_ms")),
            second=int(data["second"]),
            warmup=bool(data["warmup"]),
            requests=int(data.get("requests", 0)),
            failures=int(data.get("failures", 0)),
            dropped=int(data.get("dropped", 0)),
            vus=int(data.get("vus", 0)),
            p50_ms=float(latency.get("p50", 0.0)),
            p95_ms=float(latency.get("p95", 0.0)),
            p99_ms=float(latency.get("p99", 0.0)),
            max_ms=float(latency.get("max", 0.0)),
        )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def merge_stats(name: str, items: Iterable[RequestStats]) -> RequestStats:
    total = RequestStats(name)
    for stats in items:
        total.merge(stats)
    return total


LATE_SHARE = 0.05
"""Open model: this share of arrivals launched late means the generator fell behind."""
BUSY_SHARE = 0.9
"""Closed model: a worker this busy (share of its one core) set the pace itself."""


@dataclass(frozen=True)
class WorkerStats:
    """One worker of a scenario: where it ran, what it sent, and whether it was lost."""

    worker: int
    node: str
    """The machine: this host's name, or a Ray node's address."""
    requests: int
    """Requests it sent after warm-up."""
    busy: float | None
    """Its share of one core over the load window (None: it never reported it)."""
    lost_at: float | None = None
    """Seconds after second 0 it was lost (a dead actor or node); None: it finished."""

    def to_dict(self) -> dict[str, Any]:
        busy = None if self.busy is None else round(self.busy, 3)
        lost = None if self.lost_at is None else round(self.lost_at, 3)
        return plain_record(self, busy=busy, lost_at=lost, lost=self.lost_at is not None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerStats:
        return load_record(cls, data)


@dataclass
class ScenarioResults:
    """One scenario's measurements, warm-up excluded from ``requests``, and its verdicts."""

    name: str
    executor: str
    requests: dict[str, RequestStats]
    timeline: list[TimelinePoint]
    duration_s: float
    """Seconds the scenario ran (its measured window, warm-up included)."""
    warmup_s: float
    workers: int
    partial: bool = False
    abort_reason: str | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    verdicts: list[Verdict] = field(default_factory=list)
    gated: bool = True
    not_exercised: list[str] = field(default_factory=list)
    """SLOs whose route no request of this scenario hit (so they were not judged)."""
    notes: list[str] = field(default_factory=list)
    """What the engine decided that changes how to read the numbers (a warm-up not applied)."""
    seconds: dict[int, RequestStats] = field(default_factory=dict, repr=False, compare=False)
    """Every request of each second (warm-up included), merged; kept in memory only, for
    callers that judge slices of a run (chaos experiments' before/during/after)."""
    checks: dict[str, RequestStats] = field(default_factory=dict)
    """Checks a journey counted under a name no request has (``s.check(ok, name="...")``):
    they count toward the ``checks`` gate, but they are not requests."""
    resources: ResourceTimeline | None = None
    """What the system under test used while this scenario ran (``resources:``)."""
    drift: Drift | None = None
    """The last fifth of the measured seconds against the first (None for short runs)."""
    capacity: CapacityResult | None = None
    """A capacity search's steps and answer (``executor: capacity`` only)."""
    spike: Spike | None = None
    """A ramping scenario whose load rose and fell back: its degradation and recovery."""
    generator_busy: float | None = None
    """The busiest worker's CPU over the load window, as a share of its one core: near 1.0
    in a closed model the load generator, not the target, set the pace (None: not measured).
    An open model's workers spin before each arrival, so there it is ``generator_late``."""
    generator_late: float | None = None
    """Open model: the share of arrivals launched over 10 ms behind their intended time. A
    few percent or more: the generator could not keep the schedule."""
    schedule_lag: Histogram | None = field(default=None, compare=False)
    """Open model: how late each measured arrival's first request was written (us)."""
    runner: str | None = None
    """How the workers drove the VUs: ``callbacks`` (a flow of ready-made requests, run from
    the protocol callbacks) or ``tasks`` (a coroutine per VU); None: not recorded."""

    streams: dict[str, StreamStats] = field(default_factory=dict)
    """SSE and WebSocket streams by name (their opening requests are in ``requests``)."""
    iterations: int = 0
    """Flow or journey iterations finished after warm-up (k6's ``iterations``)."""
    stopped_by_gate: str | None = None
    """The ``abort_on_fail`` gate that failed while the load ran and stopped the run."""
    alongside: list[str] = field(default_factory=list)
    """Scenarios that ran at the same time as this one (``start_time``, ``--parallel``)."""
    start_time: float | None = None
    """Seconds after the side-by-side group began that this scenario was due to start."""
    worker_stats: list[WorkerStats] = field(default_factory=list)
    """Each worker: its node, requests, CPU and whether it was lost (``per_worker``)."""
    cost: CostFigures | None = None
    """The scenario priced at the spec's ``cost:`` (None without prices)."""

    @property
    def lost_workers(self) -> list[WorkerStats]:
        return [w for w in self.worker_stats if w.lost_at is not None]

    def __post_init__(self) -> None:
        # Workers count a named check in a stats entry of its own; one that no request ever
        # used is moved here, so it never shows as a request that ran 0 times.
        for name in [n for n, s in self.requests.items() if _check_only(s)]:
            self.checks[name] = self.requests.pop(name)

    def between(self, start: float, end: float) -> RequestStats:
        """All requests of the seconds in ``[start, end)``, merged exactly (histograms too)."""
        return merge_stats(
            "total", (s for second, s in self.seconds.items() if start <= second < end)
        )

    @property
    def generator_saturated(self) -> bool:
        """The load generator, not (only) the target, set the pace of this scenario: its
        CPU was full, an open model's arrivals left late, or its event loop ran late in
        more than ``LAGGED_SHARE`` of the seconds (the machine could not run it on time)."""
        if self.lagged_seconds[0] > LAGGED_SHARE * self.lagged_seconds[1]:
            return True
        if self.generator_late is not None:
            return self.generator_late >= LATE_SHARE
        return self.generator_busy is not None and self.generator_busy >= BUSY_SHARE

    @property
    def lagged_seconds(self) -> tuple[int, int]:
        """(measured seconds whose event-loop lag reached ``STALL_MS``, seconds watched)."""
        watched = [p for p in self.timeline if not p.warmup and p.loop_lag_ms is not None]
        lagged = sum(1 for p in watched if p.loop_lag_ms is not None and p.loop_lag_ms >= STALL_MS)
        return lagged, len(watched)

    @property
    def loop_stall(self) -> tuple[float, int] | None:
        """(worst event-loop delay in ms, its second) over the measured seconds; None when
        the generator was not watched."""
        worst: tuple[float, int] | None = None
        for p in self.timeline:
            if p.warmup or p.loop_lag_ms is None:
                continue
            if worst is None or p.loop_lag_ms > worst[0]:
                worst = (p.loop_lag_ms, p.second)
        return worst

    @property
    def generator_stalled(self) -> bool:
        """The generator's event loop stopped for ``STALL_MS`` or more in a measured second."""
        stall = self.loop_stall
        return stall is not None and stall[0] >= STALL_MS

    def generator_summary(self) -> dict[str, Any]:
        """results.json's ``generator``: the load generator watching itself."""
        stall = self.loop_stall
        sched = self.schedule_lag
        schedule = None
        if sched is not None and sched.count:
            p50, p99 = sched.percentiles([50.0, 99.0])
            schedule = {
                "count": sched.count,
                "p50": _ms(p50),
                "p99": _ms(p99),
                "max": _ms(sched.max),
            }
        cpus = [p.generator_cpu for p in self.timeline if not p.warmup and p.generator_cpu]
        return {
            "runner": self.runner,
            "saturated": self.generator_saturated,
            "busy": None if self.generator_busy is None else round(self.generator_busy, 3),
            "late": self.generator_late,
            "cpu_max": max(cpus) if cpus else None,
            "loop_lag_max_ms": None if stall is None else stall[0],
            "loop_lag_max_at_s": None if stall is None else stall[1],
            "stalled": self.generator_stalled,
            "schedule_lag_ms": schedule,
        }

    @property
    def measured_s(self) -> float:
        """Seconds that count for rates: the run minus its warm-up."""
        return max(self.duration_s - self.warmup_s, 0.0)

    @property
    def total(self) -> RequestStats:
        return merge_stats("total", [*self.requests.values(), *self.checks.values()])

    @property
    def passed(self) -> bool:
        return not any(v.blocking for v in self.verdicts)

    @property
    def alongside_text(self) -> str | None:
        """ "ran alongside quotes, sse; due at +10s": how it shared the run, for reports."""
        if not self.alongside:
            return None
        text = "ran alongside " + ", ".join(self.alongside)
        if self.start_time:
            text += f"; due at +{self.start_time:g}s"
        return text

    def to_dict(self) -> dict[str, Any]:
        seconds = self.measured_s
        return {
            "name": self.name,
            "executor": self.executor,
            "started": format_time(self.started),
            "duration_s": round(self.duration_s, 3),
            "warmup_s": self.warmup_s,
            "workers": self.workers,
            "partial": self.partial,
            "abort_reason": self.abort_reason,
            "stopped_by_gate": self.stopped_by_gate,
            "alongside": list(self.alongside),
            "start_time": self.start_time,
            "per_worker": [w.to_dict() for w in self.worker_stats],
            "gated": self.gated,
            "passed": self.passed,
            "total": self.total.summary(seconds),
            "iterations": self.iterations,
            "iterations_per_s": round(self.iterations / seconds, 3) if seconds > 0 else 0.0,
            "requests": {n: s.summary(seconds) for n, s in self.requests.items()},
            "checks": {
                n: {"passed": s.checks_passed, "failed": s.checks_failed}
                for n, s in self.checks.items()
            },
            "resources": None if self.resources is None else self.resources.to_dict(self.warmup_s),
            "drift": None if self.drift is None else self.drift.to_dict(),
            "capacity": None if self.capacity is None else self.capacity.to_dict(),
            "spike": None if self.spike is None else self.spike.to_dict(),
            "cost": None if self.cost is None else self.cost.to_dict(),
            "generator_busy": None
            if self.generator_busy is None
            else round(self.generator_busy, 3),
            "generator_late": self.generator_late,
            "generator": self.generator_summary(),
            "schedule_histogram": None
            if self.schedule_lag is None
            else self.schedule_lag.to_dict(),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "not_exercised": list(self.not_exercised),
            "notes": list(self.notes),
            "timeline": [p.to_dict() for p in self.timeline],
            "histograms": {n: s.to_dict() for n, s in self.requests.items()},
            "streams": {n: s.summary(seconds) for n, s in self.streams.items()},
            "stream_histograms": {n: s.to_dict() for n, s in self.streams.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioResults:
        requests = {n: RequestStats.from_dict(d) for n, d in data.get("histograms", {}).items()}
        checks = {}
        for name, counts in data.get("checks", {}).items():
            checks[name] = RequestStats(name, "-", "-")
            checks[name].checks_passed = int(counts.get("passed", 0))
            checks[name].checks_failed = int(counts.get("failed", 0))
        return cls(
            name=str(data["name"]),
            executor=str(data.get("executor", "")),
            requests=requests,
            timeline=[TimelinePoint.from_dict(p) for p in data.get("timeline", [])],
            duration_s=float(data.get("duration_s", 0.0)),
            warmup_s=float(data.get("warmup_s", 0.0)),
            workers=int(data.get("workers", 1)),
            partial=bool(data.get("partial", False)),
            abort_reason=data.get("abort_reason"),
            started=parse_time(str(data["started"])),
            verdicts=[Verdict.from_dict(v) for v in data.get("verdicts", [])],
            gated=bool(data.get("gated", True)),
            not_exercised=[str(n) for n in data.get("not_exercised", [])],
            notes=[str(n) for n in data.get("notes", [])],
            checks=checks,
            resources=ResourceTimeline.from_dict(res) if (res := data.get("resources")) else None,
            drift=Drift.from_dict(found) if (found := data.get("drift")) else None,
            capacity=CapacityResult.from_dict(cap) if (cap := data.get("capacity")) else None,
            spike=Spike.from_dict(found_spike) if (found_spike := data.get("spike")) else None,
            generator_busy=None if (busy := data.get("generator_busy")) is None else float(busy),
            generator_late=None if (late := data.get("generator_late")) is None else float(late),
            runner=None if (gen := data.get("generator")) is None else gen.get("runner"),
            schedule_lag=Histogram.from_dict(hist)
            if (hist := data.get("schedule_histogram"))
            else None,
            streams={
                n: StreamStats.from_dict(d) for n, d in data.get("stream_histograms", {}).items()
            },
            iterations=int(data.get("iterations", 0)),
            stopped_by_gate=data.get("stopped_by_gate"),
            alongside=[str(n) for n in data.get("alongside", [])],
            start_time=None if (at := data.get("start_time")) is None else float(at),
            worker_stats=[WorkerStats.from_dict(w) for w in data.get("per_worker", [])],
            cost=CostFigures.from_dict(priced) if (priced := data.get("cost")) else None,
        )


def _check_only(stats: RequestStats) -> bool:
    return stats.method == "-" and not stats.count and not stats.dropped


@dataclass
class RunResults:
    """A whole ``slokit run``: one or more scenarios, in the order they ran."""

    service: str
    target: str | None
    started: datetime
    duration_s: float
    partial: bool
    scenarios: list[ScenarioResults]

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for sc in self.scenarios for v in sc.verdicts]

    @property
    def passed(self) -> bool:
        return not any(v.blocking for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        """0 every gate passed, 1 a gate failed, 3 the run was aborted (partial results).
        A run an ``abort_on_fail`` gate stopped is a failed gate: 1, its results partial."""
        if self.partial:
            stopped = [sc for sc in self.scenarios if sc.partial]
            return 1 if stopped and all(sc.stopped_by_gate for sc in stopped) else 3
        return 0 if self.passed else 1

    @property
    def requests(self) -> dict[str, RequestStats]:
        """Each request name merged across every scenario."""
        merged: dict[str, RequestStats] = {}
        for sc in self.scenarios:
            for name, stats in sc.requests.items():
                if name in merged:
                    merged[name].merge(stats)
                else:
                    merged[name] = stats.copy()
        return merged

    @property
    def measured_s(self) -> float:
        """Seconds that count for the run's rates: scenarios that ran side by side count
        their shared time once."""
        alone = sum(sc.measured_s for sc in self.scenarios if not sc.alongside)
        windows = sorted(
            (sc.started.timestamp() + sc.warmup_s, sc.started.timestamp() + sc.duration_s)
            for sc in self.scenarios
            if sc.alongside
        )
        together, reach = 0.0, float("-inf")
        for start, end in windows:
            start = max(start, reach)
            if end > start:
                together += end - start
                reach = end
        return alone + together

    def to_dict(self) -> dict[str, Any]:
        seconds = self.measured_s
        requests = self.requests
        return {
            "format": RESULTS_FORMAT,
            "service": self.service,
            "target": self.target,
            "started": format_time(self.started),
            "duration_s": round(self.duration_s, 3),
            "partial": self.partial,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "total": merge_stats("total", [sc.total for sc in self.scenarios]).summary(seconds),
            "requests": {n: s.summary(seconds) for n, s in requests.items()},
            "verdicts": [v.to_dict() for v in self.verdicts],
            "scenarios": {sc.name: sc.to_dict() for sc in self.scenarios},
        }

    def encodable(self) -> RunResults:
        """The run as read back from its own results.json document, with every string made
        writable as UTF-8 (a lone surrogate in a name becomes a visible ``\\ud800``). Every
        report and the store are written from this: names from any source, a Python journey
        included, never make a writer raise."""
        return RunResults.from_dict(encodable(self.to_dict()))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResults:
        return cls(
            service=str(data["service"]),
            target=data.get("target"),
            started=parse_time(str(data["started"])),
            duration_s=float(data.get("duration_s", 0.0)),
            partial=bool(data.get("partial", False)),
            scenarios=[ScenarioResults.from_dict(s) for s in data.get("scenarios", {}).values()],
        )
