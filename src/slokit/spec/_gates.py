"""Gates: pass/fail conditions on a run, written as ``"p95(GET /x) < 300ms"``."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any, Literal, get_args

from pydantic import ConfigDict

from slokit.spec._base import INTEGER, SpecModel, describe, suggest
from slokit.spec._units import parse_duration, parse_percent, parse_rate

__all__ = ["GATE_GRAMMAR", "Gate", "Metric", "Op"]

Metric = Literal[
    "p50",
    "p90",
    "p95",
    "p99",
    "p99_9",
    "max",
    "mean",
    "error_rate",
    "rps",
    "dropped",
    "requests",
    "checks",
]
Op = Literal["<", "<=", ">", ">=", "=="]

METRICS: tuple[str, ...] = get_args(Metric)
LATENCY_METRICS = frozenset({"p50", "p90", "p95", "p99", "p99_9", "max", "mean"})
_ALIASES = {"p999": "p99_9", "p99.9": "p99_9"}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
GATE_GRAMMAR = (
    "expected METRIC[(REQUEST)] OP VALUE, e.g. 'p95(GET /api/orders) < 300ms' or 'error_rate < 1%'"
)
_GATE_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*)\s*"
    r"(?:\((?P<request>[^()]*)\))?\s*"
    r"(?P<op><=|>=|==|!=|=|<|>)?\s*"
    r"(?P<value>[^<>=!]*?)\s*$"
)


def _threshold(metric: str, value: str) -> tuple[float, bool]:
    """The threshold in the metric's unit and whether it is a share; ValueError if bad."""
    if metric in LATENCY_METRICS:
        return parse_duration(value), False  # a bare number is refused: ms or s?
    if metric in ("error_rate", "checks"):
        return parse_percent(value), True
    if metric == "rps":
        return parse_rate(value), False
    if value.strip().endswith("%"):
        return parse_percent(value), True
    if INTEGER.match(value) and not value.strip().startswith(("-", "+")):
        return float(int(value)), False
    raise ValueError(
        f"invalid {metric} threshold {value!r}; expected a whole count such as 0 or a "
        "percentage such as 1%"
    )


def _problem(text: str, what: str) -> ValueError:
    return ValueError(f"invalid gate {text!r}: {what}; {GATE_GRAMMAR}")


def parse_gate(text: str) -> dict[str, Any]:
    """The fields of a :class:`Gate` from its text; ValueError naming the grammar."""
    match = _GATE_RE.match(text)
    if match is None:
        raise _problem(text, "it does not follow the gate grammar")
    raw_metric, request, op, value = match.group("metric", "request", "op", "value")
    metric = _ALIASES.get(raw_metric.lower(), raw_metric.lower())
    if metric not in METRICS:
        hint = suggest(metric, list(METRICS))
        hint_text = f" (did you mean '{hint}'?)" if hint else ""
        raise _problem(
            text, f"unknown metric {raw_metric!r}{hint_text}; metrics: {', '.join(METRICS)}"
        )
    if request is not None and not request.strip():
        raise _problem(text, "the parentheses are empty; put a request name or route inside")
    if op is None:
        raise _problem(text, "the comparison operator is missing (one of <, <=, >, >=, ==)")
    if op in ("=", "!="):
        raise _problem(text, f"{op!r} is not an operator here; use one of <, <=, >, >=, ==")
    if not value:
        raise _problem(text, "the value after the operator is missing")
    try:
        threshold, is_ratio = _threshold(metric, value)
    except ValueError as exc:  # the grammar was right: only the value needs fixing
        raise ValueError(f"invalid gate {text!r}: {exc}") from None
    return {
        "metric": metric,
        "request": request.strip() if request is not None else None,
        "op": op,
        "threshold": threshold,
        "threshold_is_ratio": is_ratio,
        "text": text.strip(),
    }


def _string_schema(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update(
        type="string",
        description=(
            "A gate: METRIC[(REQUEST)] OP VALUE. Metrics: "
            + ", ".join(METRICS)
            + ". Examples: 'p95(GET /api/orders) < 300ms', 'error_rate < 1%', 'rps >= 200'."
        ),
        examples=["p95 < 300ms", "error_rate < 1%", "rps >= 200/s", "dropped == 0"],
    )


class Gate(SpecModel):
    """A condition the run must meet, e.g. ``p95(GET /x) < 300ms``.

    ``threshold`` is in the metric's unit: seconds for latency metrics, a ratio for
    ``error_rate``/``checks`` (and for ``dropped``/``requests`` written as a percentage,
    flagged by ``threshold_is_ratio``), per second for ``rps``, a count otherwise.
    """

    model_config = ConfigDict(json_schema_extra=_string_schema)

    metric: Metric
    request: str | None = None
    op: Op
    threshold: float
    threshold_is_ratio: bool = False
    text: str

    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        if isinstance(data, str):
            return parse_gate(data)
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            return parse_gate(data["text"])  # the stored form: its text is the source of truth
        if isinstance(data, Gate):
            return data
        raise ValueError(f"a gate is a string, got {describe(data)}; {GATE_GRAMMAR}")

    @property
    def unit(self) -> Literal["s", "ratio", "per_second", "count"]:
        """How to read ``threshold``."""
        if self.metric in LATENCY_METRICS:
            return "s"
        if self.threshold_is_ratio:
            return "ratio"
        return "per_second" if self.metric == "rps" else "count"

    def compare(self, value: float) -> bool:
        """True when ``value`` (in the threshold's unit) passes the gate."""
        return _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return self.text
