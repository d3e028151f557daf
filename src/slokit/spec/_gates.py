"""Gates: pass/fail conditions on a run, written as ``"p95(GET /x) < 300ms"``."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any, Literal, get_args

from pydantic import ConfigDict

from slokit.spec._base import INTEGER, SpecModel, describe, suggest
from slokit.spec._resources import BUILTIN_RESOURCES
from slokit.spec._units import parse_duration, parse_percent, parse_rate, parse_size

__all__ = [
    "DRIFT_METRICS",
    "GATE_GRAMMAR",
    "STREAM_GATE_MEASURES",
    "STREAM_METRICS",
    "Gate",
    "Metric",
    "Op",
    "Unit",
]

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
    "slope",
    "p50_drift",
    "p95_drift",
    "p99_drift",
    "error_rate_drift",
    "capacity",
    "recovery",
    "stream_uptime",
    "stream_errors",
    "cost_per_million",
]
Op = Literal["<", "<=", ">", ">=", "=="]
Unit = Literal[
    "s", "ratio", "per_second", "count", "bytes", "cores", "per_hour", "bytes_per_hour", "currency"
]

METRICS: tuple[str, ...] = get_args(Metric)
LATENCY_METRICS = frozenset({"p50", "p90", "p95", "p99", "p99_9", "max", "mean"})
DURATION_METRICS = LATENCY_METRICS | {"recovery"}
DRIFT_METRICS = frozenset({"p50_drift", "p95_drift", "p99_drift", "error_rate_drift"})
STREAM_METRICS = frozenset({"stream_uptime", "stream_errors"})
STREAM_GATE_MEASURES = ("handshake", "first_event", "gap", "reconnect", "lifetime")
"""``p95(handshake SSE /events)``: what of a stream a latency gate is about. The handshake
is the opening request's latency; the others are the stream's own histograms."""
_ALIASES = {"p999": "p99_9", "p99.9": "p99_9"}
# `rss_slope < 10MiB/h` is `slope(rss) < 10MiB/h`, the spelling runbooks use.
_SLOPES = {f"{name}_slope": name for name in BUILTIN_RESOURCES} | {"fd_slope": "fds"}
_RESOURCE_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
_PER = {"s": 3600.0, "sec": 3600.0, "min": 60.0, "m": 60.0, "h": 1.0, "hour": 1.0, "d": 1 / 24}
_CPU = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*\Z")
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
    if metric in DURATION_METRICS:
        return parse_duration(value), False  # a bare number is refused: ms or s?
    if metric in ("error_rate", "checks", "stream_uptime"):
        return parse_percent(value), True
    if metric in ("rps", "capacity"):
        return parse_rate(value), False
    if metric == "cost_per_million":
        amount = _plain_float(value, metric)
        if amount < 0:
            raise ValueError(f"invalid cost_per_million threshold {value!r}; expected >= 0")
        return amount, False  # in the cost block's currency
    if value.strip().endswith("%"):
        return parse_percent(value), True
    if INTEGER.match(value) and not value.strip().startswith(("-", "+")):
        return float(int(value)), False
    raise ValueError(
        f"invalid {metric} threshold {value!r}; expected a whole count such as 0 or a "
        "percentage such as 1%"
    )


def _resource_threshold(metric: str, resource: str, value: str) -> float:
    """A resource gate's threshold: bytes, a share of one core, a count, or those per hour
    for ``slope``; ValueError if bad."""
    if metric == "slope":
        amount, slash, per = value.rpartition("/")
        if not slash or per.strip() not in _PER:
            raise ValueError(
                f"invalid slope threshold {value!r}; expected an amount per time, such as "
                "10MiB/h, 1/h or 0/h"
            )
        text = amount.strip() or "1"
        if resource == "rss":
            return parse_size(text) * _PER[per.strip()]
        return _plain_float(text, f"slope({resource})") * _PER[per.strip()]
    kind = BUILTIN_RESOURCES.get(resource)
    if kind == "bytes":
        if INTEGER.match(value) and int(value) != 0:
            raise ValueError(
                f"invalid {resource} threshold {value!r}: bytes or more? write the unit, "
                f"such as {value}MiB, {value}MB or {value}B"
            )
        return float(parse_size(value))
    if kind == "cores":
        match = _CPU.match(value)
        if match is None:
            raise ValueError(
                f"invalid cpu threshold {value!r}; expected a percentage of one core, such as "
                "80% (or 150% for one and a half cores)"
            )
        return float(match.group(1)) / 100
    return _plain_float(value, resource)


def _drift_threshold(metric: str, value: str) -> float:
    # A drift may be above 100 % (p99 three times higher is +200 %), unlike a share.
    match = _CPU.match(value)
    if match is None:
        if value.strip() == "0":
            return 0.0
        raise ValueError(
            f"invalid {metric} threshold {value!r}; expected a percentage such as 20% "
            "(the last fifth at most 20 % above the first)"
        )
    return float(match.group(1)) / 100


def _plain_float(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"invalid {what} threshold {value!r}; expected a number such as 80")
    return number


def _resource_of(metric: str, request: str | None, value: str) -> str | None:
    """The resource a gate is about, or None for a gate on requests."""
    if metric == "slope" or metric not in ("max", "mean") or request is None:
        return request if metric == "slope" else None
    name = request.strip()
    if not _RESOURCE_NAME.match(name):
        return None
    if name in BUILTIN_RESOURCES:
        return name
    try:
        parse_duration(value)
    except ValueError:
        return name  # max(db_pool) < 80: a series (the spec checks it is declared)
    return None


def _problem(text: str, what: str) -> ValueError:
    return ValueError(f"invalid gate {text!r}: {what}; {GATE_GRAMMAR}")


def parse_gate(text: str) -> dict[str, Any]:
    """The fields of a :class:`Gate` from its text; ValueError naming the grammar."""
    match = _GATE_RE.match(text)
    if match is None:
        raise _problem(text, "it does not follow the gate grammar")
    raw_metric, request, op, value = match.group("metric", "request", "op", "value")
    metric = _ALIASES.get(raw_metric.lower(), raw_metric.lower())
    if metric in _SLOPES and request is None:
        metric, request = "slope", _SLOPES[metric]
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
    if metric == "slope" and request is None:
        raise _problem(text, "slope needs a resource: slope(rss) < 10MiB/h or rss_slope < 10MiB/h")
    resource = _resource_of(metric, request, value)
    measure = None
    if resource is None and request is not None:
        word, _, rest = request.strip().partition(" ")
        if word in STREAM_GATE_MEASURES:
            if metric not in LATENCY_METRICS:
                raise _problem(
                    text,
                    f"{word} is a time: use it with a latency metric, e.g. "
                    f"p95({request.strip()}) < 300ms",
                )
            measure, request = word, rest if rest.strip() else None  # None: every stream
    try:
        if resource is not None:
            threshold, is_ratio = _resource_threshold(metric, resource, value), False
        elif metric in DRIFT_METRICS:
            threshold, is_ratio = _drift_threshold(metric, value), True
        else:
            threshold, is_ratio = _threshold(metric, value)
    except ValueError as exc:  # the grammar was right: only the value needs fixing
        raise ValueError(f"invalid gate {text!r}: {exc}") from None
    return {
        "metric": metric,
        "request": None if resource is not None or not request else request.strip(),
        "resource": resource,
        "measure": measure,
        "op": op,
        "threshold": threshold,
        "threshold_is_ratio": is_ratio,
        "text": text.strip(),
    }


_ABORT_KEYS = {"gate", "text", "abort_on_fail", "delay_abort_eval"}


def _abort_fields(data: dict[Any, Any], stored: bool = False) -> dict[str, Any]:
    """``abort_on_fail`` and ``delay_abort_eval`` of a gate written as a mapping (``stored``:
    a dumped Gate, every field present, its text the source of truth)."""
    unknown = sorted(str(k) for k in data if k not in _ABORT_KEYS)
    if unknown and not stored:
        raise ValueError(
            f"unknown gate key {unknown[0]!r}; a gate mapping has gate, abort_on_fail and "
            "delay_abort_eval"
        )
    abort = data.get("abort_on_fail", False)
    if not isinstance(abort, bool):
        raise ValueError(f"abort_on_fail must be true or false, got {describe(abort)}")
    delay = data.get("delay_abort_eval", 0)
    try:
        seconds = parse_duration(delay) if isinstance(delay, str) else float(delay)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"delay_abort_eval: {exc}") from None
    if seconds < 0 or (seconds and not abort):
        raise ValueError(
            "delay_abort_eval must be a duration >= 0, and goes with abort_on_fail: true"
        )
    return {"abort_on_fail": abort, "delay_abort_eval": seconds}


def _string_schema(schema: dict[str, Any]) -> None:
    _text_schema(schema)
    text = dict(schema)
    schema.clear()
    schema["anyOf"] = [
        text,
        {
            "type": "object",
            "description": "A gate that stops the run once it fails (k6's abortOnFail).",
            "properties": {
                "gate": text,
                "abort_on_fail": {"type": "boolean"},
                "delay_abort_eval": {
                    "type": ["string", "number"],
                    "description": "Judge it live only after this long (e.g. 30s).",
                },
            },
            "required": ["gate"],
            "additionalProperties": False,
        },
    ]


def _text_schema(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update(
        type="string",
        description=(
            "A gate: METRIC[(REQUEST)] OP VALUE. Metrics: "
            + ", ".join(METRICS)
            + ". Examples: 'p95(GET /api/orders) < 300ms', 'error_rate < 1%', 'rps >= 200', "
            "'max(rss) < 512MiB', 'rss_slope < 10MiB/h', 'p95_drift < 20%', "
            "'capacity >= 400/s', 'recovery < 30s', 'p95(handshake SSE /events) < 300ms', "
            "'p99(reconnect SSE /events) < 1s', 'stream_uptime > 99.5%', "
            "'cost_per_million < 0.40'."
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
    resource: str | None = None
    """``max(rss)``, ``slope(fds)``: a value of ``resources:``, not a request."""
    measure: str | None = None
    """``p99(reconnect SSE /x)``: which of a stream's times (see STREAM_GATE_MEASURES)."""
    op: Op
    threshold: float
    threshold_is_ratio: bool = False
    text: str
    abort_on_fail: bool = False
    """k6's ``abortOnFail``: once this gate fails while the load runs, the run stops (exit 1,
    partial results). Written ``{gate: "error_rate < 5%", abort_on_fail: true}``."""
    delay_abort_eval: float = 0.0
    """Seconds after the scenario's warm-up before an ``abort_on_fail`` gate is judged
    live (k6's ``delayAbortEval``): too few requests make any rate look bad."""

    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        if isinstance(data, str):
            return parse_gate(data)
        if isinstance(data, dict) and isinstance(data.get("gate"), str):
            return {**parse_gate(data["gate"]), **_abort_fields(data)}
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            # The stored form: its text is the source of truth.
            return {**parse_gate(data["text"]), **_abort_fields(data, stored=True)}
        if isinstance(data, Gate):
            return data
        raise ValueError(
            f"a gate is a string (or {{gate: TEXT, abort_on_fail: true}}), got "
            f"{describe(data)}; {GATE_GRAMMAR}"
        )

    @property
    def unit(self) -> Unit:
        """How to read ``threshold``."""
        if self.resource is not None:
            kind = BUILTIN_RESOURCES.get(self.resource, "count")
            if self.metric == "slope":
                return "bytes_per_hour" if kind == "bytes" else "per_hour"
            return "bytes" if kind == "bytes" else "cores" if kind == "cores" else "count"
        if self.metric in DURATION_METRICS:
            return "s"
        if self.threshold_is_ratio:
            return "ratio"
        if self.metric == "cost_per_million":
            return "currency"
        return "per_second" if self.metric in ("rps", "capacity") else "count"

    def compare(self, value: float) -> bool:
        """True when ``value`` (in the threshold's unit) passes the gate."""
        return _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return self.text
