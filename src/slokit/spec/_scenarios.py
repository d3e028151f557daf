"""Scenarios: one model per executor, told apart by the ``executor`` key."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator

from slokit.errors import UsageError
from slokit.spec._base import Headers, Issue, SpecModel, Url, integer, issue
from slokit.spec._steps import DataSource, Step
from slokit.spec._units import Duration, PositiveDuration, PositiveRate, Rate

__all__ = [
    "EXECUTORS",
    "ConstantArrivalRate",
    "ConstantVUs",
    "PerVUIterations",
    "RampingArrivalRate",
    "RampingVUs",
    "RateStage",
    "Scenario",
    "VUStage",
]

VUs = Annotated[
    int,
    BeforeValidator(integer(1, "the number of virtual users")),
    WithJsonSchema({"type": "integer", "minimum": 1}),
]
StageVUs = Annotated[
    int,
    BeforeValidator(integer(0, "the number of virtual users")),
    WithJsonSchema({"type": "integer", "minimum": 0}),
]
Iterations = Annotated[
    int,
    BeforeValidator(integer(1, "the number of iterations")),
    WithJsonSchema({"type": "integer", "minimum": 1}),
]
_SOURCE = (
    "a scenario needs exactly one of 'flow' (a list of steps) or 'script' (\"file.py:function\")"
)


def _positive_seconds(seconds: float) -> float:
    if not seconds > 0:
        raise UsageError(f"a scenario duration must be greater than 0, got {seconds}")
    return float(seconds)


class _ScenarioBase(SpecModel):
    """What every executor shares: what each iteration does and how requests are sent."""

    flow: list[Step] | None = None
    script: str | None = None
    warmup: Duration | None = None
    think: Duration = 0.0
    timeout: PositiveDuration = 10.0
    target: Url | None = None
    data: DataSource | None = None
    gate: bool = True
    follow_redirects: bool = False
    headers: Headers = Field(default_factory=dict)

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
    def _flow(cls, value: list[Step] | None) -> list[Step] | None:
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
    duration: PositiveDuration

    def with_duration(self, seconds: float) -> Self:
        return self.model_copy(update={"duration": _positive_seconds(seconds)})


class VUStage(SpecModel):
    """Move linearly to ``to`` virtual users over ``over`` seconds."""

    to: StageVUs
    over: PositiveDuration


class RampingVUs(_ScenarioBase):
    """Closed model whose number of users follows ``stages`` from ``start_vus``."""

    executor: Literal["ramping-vus"] = "ramping-vus"
    start_vus: StageVUs = 0
    stages: list[VUStage] = Field(min_length=1)

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
    max_duration: PositiveDuration = 600.0

    @property
    def duration(self) -> float:
        return self.max_duration

    def with_duration(self, seconds: float) -> Self:
        return self.model_copy(update={"max_duration": _positive_seconds(seconds)})


class ConstantArrivalRate(_ScenarioBase):
    """Open model: ``rate`` iterations per second start for ``duration``, whatever the
    server does; at most ``max_vus`` run at once (the rest are counted as dropped)."""

    executor: Literal["constant-arrival-rate"] = "constant-arrival-rate"
    rate: PositiveRate
    duration: PositiveDuration
    max_vus: VUs = 100

    def with_duration(self, seconds: float) -> Self:
        return self.model_copy(update={"duration": _positive_seconds(seconds)})


class RateStage(SpecModel):
    """Move linearly to ``to`` iterations per second over ``over`` seconds."""

    to: Rate
    over: PositiveDuration


_S = TypeVar("_S", VUStage, RateStage)


class RampingArrivalRate(_ScenarioBase):
    """Open model whose arrival rate follows ``stages`` from ``start_rate``."""

    executor: Literal["ramping-arrival-rate"] = "ramping-arrival-rate"
    start_rate: Rate = 0.0
    stages: list[RateStage] = Field(min_length=1)
    max_vus: VUs = 100

    @property
    def duration(self) -> float:
        return sum(stage.over for stage in self.stages)

    def with_duration(self, seconds: float) -> Self:
        stages = _scale(self.stages, self.duration, _positive_seconds(seconds))
        return self.model_copy(update={"stages": stages})


def _scale(stages: list[_S], total: float, seconds: float) -> list[_S]:
    """Stages stretched so they add up to ``seconds`` exactly, keeping their proportions."""
    factor = seconds / total
    scaled = [stage.model_copy(update={"over": stage.over * factor}) for stage in stages]
    head = sum(stage.over for stage in scaled[:-1])
    if seconds > head:
        scaled[-1] = scaled[-1].model_copy(update={"over": seconds - head})
    return scaled


Scenario = Annotated[
    ConstantVUs | RampingVUs | PerVUIterations | ConstantArrivalRate | RampingArrivalRate,
    Field(discriminator="executor"),
]
"""One scenario; the ``executor`` key picks the model."""

EXECUTORS: tuple[str, ...] = (
    "constant-vus",
    "ramping-vus",
    "per-vu-iterations",
    "constant-arrival-rate",
    "ramping-arrival-rate",
)
