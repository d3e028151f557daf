"""Scenarios: one model per executor, told apart by the ``executor`` key."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from slokit.errors import UsageError
from slokit.spec._base import Headers, Issue, SpecModel, Url, integer, issue
from slokit.spec._cost import CostPrices
from slokit.spec._flow import FlowItem, Pick  # Pick: FlowItem names it
from slokit.spec._gates import Gate
from slokit.spec._resources import Resources
from slokit.spec._steps import DataSource, Step
from slokit.spec._units import (
    Duration,
    Objective,
    PositiveDuration,
    PositiveRate,
    Rate,
    format_duration,
)

__all__ = [
    "EXECUTORS",
    "MAX_CAPACITY_STEPS",
    "MAX_DURATION",
    "MAX_ITERATIONS",
    "MAX_RATE",
    "MAX_VUS",
    "Capacity",
    "ConstantArrivalRate",
    "ConstantVUs",
    "PerVUIterations",
    "RampingArrivalRate",
    "RampingVUs",
    "RateStage",
    "SLOOverride",
    "Scenario",
    "VUStage",
]

MAX_VUS = 1_000_000
"""Virtual users per scenario: each is a coroutine with its own state in a worker's memory,
so a million is already several GB spread over the workers; more only hangs the run."""
MAX_RATE = 1_000_000.0
"""Arrivals per second: far above what one machine's workers can start, let alone send."""
MAX_ITERATIONS = 1_000_000_000
"""Iterations per VU (``per-vu-iterations``): more would not finish in any test window."""
MAX_DURATION = 366 * 86400.0
"""A scenario runs at most a year: longer is a typo (``10000d``), and sleeps overflow."""

_VU_WHY = " (each virtual user holds memory in a worker; split bigger loads over machines)"
VUs = Annotated[
    int,
    BeforeValidator(integer(1, "the number of virtual users", MAX_VUS, _VU_WHY)),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_VUS}),
]
StageVUs = Annotated[
    int,
    BeforeValidator(integer(0, "the number of virtual users", MAX_VUS, _VU_WHY)),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_VUS}),
]
Iterations = Annotated[
    int,
    BeforeValidator(
        integer(1, "the number of iterations", MAX_ITERATIONS, " per virtual user"),
    ),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_ITERATIONS}),
]


def _at_most(limit: float, what: str, why: str) -> AfterValidator:
    def check(value: float) -> float:
        if value > limit:
            raise ValueError(f"{what} must be at most {_show_limit(limit, what)}{why}")
        return value

    return AfterValidator(check)


def _show_limit(limit: float, what: str) -> str:
    return f"{limit:,.0f}/s" if "rate" in what else format_duration(limit)


_RATE_LIMIT = _at_most(
    MAX_RATE, "the arrival rate", " (a worker starts each arrival; no machine starts more)"
)
_DURATION_LIMIT = _at_most(MAX_DURATION, "a scenario duration", " (366d)")
ArrivalRate = Annotated[PositiveRate, _RATE_LIMIT]
StageRate = Annotated[Rate, _RATE_LIMIT]
RunDuration = Annotated[PositiveDuration, _DURATION_LIMIT]
BoundedDuration = Annotated[Duration, _DURATION_LIMIT]
_SOURCE = (
    "a scenario needs exactly one of 'flow' (a list of steps) or 'script' (\"file.py:function\")"
)


def _positive_seconds(seconds: float) -> float:
    if not seconds > 0:
        raise UsageError(f"a scenario duration must be greater than 0, got {seconds}")
    if seconds > MAX_DURATION:
        raise UsageError(
            f"a scenario duration must be at most 366d, got {format_duration(seconds)}"
        )
    return float(seconds)


class SLOOverride(SpecModel):
    """What one scenario changes of a spec SLO when it judges it: its objective.

    A stress scenario may hold ``orders-availability`` to 95 % while the baseline holds it
    to 99.9 %; the SLO's route, latency and window stay the spec's.
    """

    objective: Objective


class _ScenarioBase(SpecModel):
    """What every executor shares: what each iteration does and how requests are sent."""

    flow: list[FlowItem] | None = None
    script: str | None = None
    warmup: BoundedDuration | None = None
    think: BoundedDuration = 0.0
    timeout: RunDuration = 10.0
    target: Url | None = None
    data: DataSource | None = None
    gate: bool = True
    follow_redirects: bool = False
    headers: Headers = Field(default_factory=dict)
    gates: Annotated[list[Gate], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list
    )
    """Judged in this scenario only, beside the spec's ``gates:``."""
    slos: Annotated[dict[str, SLOOverride], BeforeValidator(lambda v: {} if v is None else v)] = (
        Field(default_factory=dict)
    )
    """Objective overrides for the spec's SLOs, by SLO name, in this scenario only."""
    resources: Resources | None = None
    """What to sample on the target while this scenario runs; replaces the spec's."""
    cost: CostPrices | None = None
    """Prices for this scenario, laid over the spec's ``cost:`` field by field."""
    start_time: BoundedDuration | None = None
    """k6's ``startTime``: the scenarios that set it run side by side, each starting this long
    after the first of them; the others run one after another, as listed."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        has_flow = data.get("flow") is not None
        has_script = data.get("script") is not None
        if has_flow and has_script:
            return data, [issue(("script",), f"{_SOURCE}; got both", data["script"])]
        if not has_flow and not has_script:
            return data, [issue((), f"{_SOURCE}; got neither", data)]
        return data, []

    @field_validator("flow")
    @classmethod
    def _flow(cls, value: list[Step | Pick] | None) -> list[Step | Pick] | None:
        if value is not None and not value:
            raise ValueError("the flow is empty; expected at least one step such as {get: /}")
        return value

    @field_validator("script")
    @classmethod
    def _script(cls, value: str | None) -> str | None:
        if value is None:
            return None
        file_part, sep, func = value.strip().rpartition(":")
        if not sep or not file_part or not func.isidentifier():
            raise ValueError(
                f"invalid script {value!r}; expected 'path/to/file.py:function' (relative to "
                "the spec file)"
            )
        return value.strip()


class ConstantVUs(_ScenarioBase):
    """Closed model: ``vus`` users loop over the flow for ``duration``."""

    executor: Literal["constant-vus"] = "constant-vus"
    vus: VUs
    duration: RunDuration

    def with_duration(self, seconds: float) -> Self:
        return self.model_copy(update={"duration": _positive_seconds(seconds)})


class VUStage(SpecModel):
    """Move linearly to ``to`` virtual users over ``over`` seconds."""

    to: StageVUs
    over: RunDuration


class RampingVUs(_ScenarioBase):
    """Closed model whose number of users follows ``stages`` from ``start_vus``."""

    executor: Literal["ramping-vus"] = "ramping-vus"
    start_vus: StageVUs = 0
    stages: list[VUStage] = Field(min_length=1)
    recovery_hold: RunDuration = 5.0
    """After a spike, how long p95 and errors must stay within the SLOs to count as recovered."""

    @property
    def duration(self) -> float:
        return sum(stage.over for stage in self.stages)

    def with_duration(self, seconds: float) -> Self:
        stages = _scale(self.stages, self.duration, _positive_seconds(seconds))
        return self.model_copy(update={"stages": stages})


class PerVUIterations(_ScenarioBase):
    """Each of ``vus`` users runs the flow ``iterations`` times (or until ``max_duration``)."""

    executor: Literal["per-vu-iterations"] = "per-vu-iterations"
    vus: VUs
    iterations: Iterations
    max_duration: RunDuration = 600.0

    @property
    def duration(self) -> float:
        return self.max_duration

    def with_duration(self, seconds: float) -> Self:
        return self.model_copy(update={"max_duration": _positive_seconds(seconds)})


class ConstantArrivalRate(_ScenarioBase):
    """Open model: ``rate`` iterations per second start for ``duration``, whatever the
    server does; at most ``max_vus`` run at once (the rest are counted as dropped)."""

    executor: Literal["constant-arrival-rate"] = "constant-arrival-rate"
    rate: ArrivalRate
    duration: RunDuration
    max_vus: VUs = 100

    def with_duration(self, seconds: float) -> Self:
        return self.model_copy(update={"duration": _positive_seconds(seconds)})


class RateStage(SpecModel):
    """Move linearly to ``to`` iterations per second over ``over`` seconds."""

    to: StageRate
    over: RunDuration


_S = TypeVar("_S", VUStage, RateStage)


class RampingArrivalRate(_ScenarioBase):
    """Open model whose arrival rate follows ``stages`` from ``start_rate``."""

    executor: Literal["ramping-arrival-rate"] = "ramping-arrival-rate"
    start_rate: StageRate = 0.0
    stages: list[RateStage] = Field(min_length=1)
    max_vus: VUs = 100
    recovery_hold: RunDuration = 5.0
    """After a spike, how long p95 and errors must stay within the SLOs to count as recovered."""

    @property
    def duration(self) -> float:
        return sum(stage.over for stage in self.stages)

    def with_duration(self, seconds: float) -> Self:
        stages = _scale(self.stages, self.duration, _positive_seconds(seconds))
        return self.model_copy(update={"stages": stages})


MAX_CAPACITY_STEPS = 100
"""Steps a capacity search may plan: more is a step size typo (1/s from 1/s to 10000/s)."""


def _factor(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"invalid factor {value!r}; expected a number such as 1.5")
    if not 1.05 <= value <= 10:
        raise ValueError(
            f"factor {value:g} is out of range: each step multiplies the rate by 1.05 to 10"
        )
    return float(value)


class Capacity(_ScenarioBase):
    """Stress: open-model steps of rising arrival rate until the scenario breaks.

    Each step runs ``settle`` + ``step_duration`` at one rate and is judged, after its settle
    time, on the scenario's SLOs and gates (and dropped arrivals). The search stops at the
    first failing step that ``confirm`` more steps confirm, or at ``max_rate``; ``refine``
    bisects between the last passing and the first failing rate; ``recovery`` then runs at
    ``start_rate`` to see whether, and how fast, the target comes back.
    """

    executor: Literal["capacity"] = "capacity"
    start_rate: ArrivalRate
    step: ArrivalRate | None = None
    """Added to the rate each step (``50/s``); or give ``factor``."""
    factor: Annotated[float | None, BeforeValidator(lambda v: v if v is None else _factor(v))] = (
        None
    )
    """The rate is multiplied by this each step (``1.5``)."""
    max_rate: ArrivalRate
    step_duration: RunDuration = 20.0
    settle: BoundedDuration = 5.0
    """The start of each step left out of its verdicts: queues fill, pools grow."""
    confirm: Annotated[int, BeforeValidator(integer(0, "confirm", 5, " (confirmation steps)"))] = 1
    refine: Annotated[int, BeforeValidator(integer(0, "refine", 8, " (bisection steps)"))] = 0
    recovery: BoundedDuration | None = None
    """Seconds at ``start_rate`` after the search, to measure recovery (None: skip)."""
    recovery_hold: RunDuration = 5.0
    """How long p95 and errors must stay within the SLOs to count as recovered."""
    max_vus: VUs = 1000

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        data, issues = super()._prepare(data)
        if (data.get("step") is None) == (data.get("factor") is None):
            issues.append(
                issue(
                    (),
                    "a capacity search needs exactly one of step (50/s: added each step) "
                    "or factor (1.5: multiplied each step)",
                    data,
                )
            )
        return data, issues

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.max_rate <= self.start_rate:
            raise ValueError(
                f"max_rate ({self.max_rate:g}/s) must be above start_rate ({self.start_rate:g}/s)"
            )
        if self.settle >= self.step_duration:
            raise ValueError(
                f"settle ({format_duration(self.settle)}) must be shorter than step_duration "
                f"({format_duration(self.step_duration)}): nothing of the step would be judged"
            )
        if (self.step is not None or self.factor is not None) and len(
            self.rates()
        ) > MAX_CAPACITY_STEPS:
            raise ValueError(
                f"this search plans {len(self.rates()):,} steps from {self.start_rate:g}/s to "
                f"{self.max_rate:g}/s; at most {MAX_CAPACITY_STEPS}: take a bigger step or factor"
            )
        return self

    def rates(self) -> list[float]:
        """The rates of the rising steps, ``start_rate`` up to ``max_rate`` (always included)."""
        rates: list[float] = []
        rate = self.start_rate
        while rate < self.max_rate - 1e-9 and len(rates) <= MAX_CAPACITY_STEPS:
            rates.append(rate)
            rate = rate + self.step if self.step is not None else rate * (self.factor or 2.0)
        return [*rates, self.max_rate]

    @property
    def duration(self) -> float:
        """The longest the search can take: every step, the bisection and the recovery."""
        steps = len(self.rates()) + self.refine
        return steps * (self.settle + self.step_duration) + (self.recovery or 0.0)

    def with_duration(self, seconds: float) -> Self:
        """``-d`` sets each step's length (the settle time is kept below it)."""
        seconds = _positive_seconds(seconds)
        return self.model_copy(
            update={"step_duration": seconds, "settle": min(self.settle, seconds / 2)}
        )


def _scale(stages: list[_S], total: float, seconds: float) -> list[_S]:
    """Stages stretched so they add up to ``seconds`` exactly, keeping their proportions."""
    factor = seconds / total
    scaled = [stage.model_copy(update={"over": stage.over * factor}) for stage in stages]
    head = sum(stage.over for stage in scaled[:-1])
    if seconds > head:
        scaled[-1] = scaled[-1].model_copy(update={"over": seconds - head})
    return scaled


Scenario = Annotated[
    ConstantVUs
    | RampingVUs
    | PerVUIterations
    | ConstantArrivalRate
    | RampingArrivalRate
    | Capacity,
    Field(discriminator="executor"),
]
"""One scenario; the ``executor`` key picks the model."""

EXECUTORS: tuple[str, ...] = (
    "constant-vus",
    "ramping-vus",
    "per-vu-iterations",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "capacity",
)
