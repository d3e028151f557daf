"""Gates: ``METRIC[(REQUEST)] OP VALUE`` strings and how they compare."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from slokit.spec import Gate

LATENCY = ["p50", "p90", "p95", "p99", "p99_9", "max", "mean"]


@pytest.mark.parametrize("metric", LATENCY)
@pytest.mark.parametrize(("value", "seconds"), [("300ms", 0.3), ("1s", 1.0), ("1.5m", 90.0)])
def test_latency_gates_store_seconds(metric: str, value: str, seconds: float) -> None:
    gate = Gate.model_validate(f"{metric} < {value}")
    assert (gate.metric, gate.op, gate.threshold, gate.request) == (metric, "<", seconds, None)
    assert gate.threshold_is_ratio is False
    assert gate.unit == "s"


@pytest.mark.parametrize(("alias"), ["p999", "p99.9", "p99_9", "P99.9"])
def test_p99_9_aliases(alias: str) -> None:
    assert Gate.model_validate(f"{alias} <= 2s").metric == "p99_9"


@pytest.mark.parametrize(
    ("text", "metric", "target", "op", "threshold", "is_ratio", "unit"),
    [
        ("p95(GET /x) < 300ms", "p95", "GET /x", "<", 0.3, False, "s"),
        ("p95( GET /x ) < 300ms", "p95", "GET /x", "<", 0.3, False, "s"),
        ("error_rate < 1%", "error_rate", None, "<", 0.01, True, "ratio"),
        (
            "error_rate(POST /api/orders) < 0.5%",
            "error_rate",
            "POST /api/orders",
            "<",
            0.005,
            True,
            "ratio",
        ),
        ("error_rate <= 0%", "error_rate", None, "<=", 0.0, True, "ratio"),
        ("checks >= 99%", "checks", None, ">=", 0.99, True, "ratio"),
        ("rps >= 200", "rps", None, ">=", 200.0, False, "per_second"),
        ("rps > 200/s", "rps", None, ">", 200.0, False, "per_second"),
        ("rps(checkout) >= 12000/min", "rps", "checkout", ">=", 200.0, False, "per_second"),
        ("dropped == 0", "dropped", None, "==", 0.0, False, "count"),
        ("dropped < 1%", "dropped", None, "<", 0.01, True, "ratio"),
        ("requests >= 1000", "requests", None, ">=", 1000.0, False, "count"),
        ("requests(login) > 5%", "requests", "login", ">", 0.05, True, "ratio"),
        ("max < 2s", "max", None, "<", 2.0, False, "s"),
        ("mean<250ms", "mean", None, "<", 0.25, False, "s"),
    ],
)
def test_gate_parsing(
    text: str,
    metric: str,
    target: str | None,
    op: str,
    threshold: float,
    is_ratio: bool,
    unit: str,
) -> None:
    gate = Gate.model_validate(text)
    assert gate.metric == metric
    assert gate.request == target
    assert gate.op == op
    assert gate.threshold == pytest.approx(threshold)
    assert gate.threshold_is_ratio is is_ratio
    assert gate.unit == unit
    assert gate.text == text.strip() == str(gate)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("<", 0.29, True),
        ("<", 0.3, False),
        ("<=", 0.3, True),
        ("<=", 0.31, False),
        (">", 0.31, True),
        (">", 0.3, False),
        (">=", 0.3, True),
        (">=", 0.29, False),
        ("==", 0.3, True),
        ("==", 0.31, False),
    ],
)
def test_gate_compare(op: str, value: float, expected: bool) -> None:
    assert Gate.model_validate(f"p95 {op} 300ms").compare(value) is expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("p95 < 300", "ambiguous duration '300': 300ms or 300s?"),
        # `error_rate < 1` was read as 100% and passed a run with 50% errors
        ("error_rate < 1", "ambiguous percentage '1': 1% or 100%?"),
        ("error_rate < 0.5", "0.5% or 50%?"),
        ("checks >= 0.99", "0.99% or 99%?"),
        ("p95 < ５ms", "only the ASCII digits 0-9 are read"),
        ("error_rate < ٥%", "only the ASCII digits 0-9 are read"),
        ("dropped == ٥", "a whole count"),
        ("p96 < 1s", "unknown metric 'p96' (did you mean"),
        ("latency < 1s", "metrics: p50, p90, p95, p99, p99_9, max, mean, error_rate, rps"),
        ("error_rate << 1%", "METRIC[(REQUEST)] OP VALUE"),
        ("error_rate 1%", "the comparison operator is missing"),
        ("p95 = 1s", "'=' is not an operator here"),
        ("p95 != 1s", "'!=' is not an operator here"),
        ("p95 <", "the value after the operator is missing"),
        ("p95() < 1s", "the parentheses are empty"),
        ("p95(GET /x < 1s", "METRIC[(REQUEST)] OP VALUE"),
        ("", "METRIC[(REQUEST)] OP VALUE"),
        ("error_rate < 150%", "above 100%"),
        ("error_rate < 5", "write '5%'"),
        ("checks > lots", "invalid percentage 'lots'"),
        ("rps > 5/fortnight", "invalid rate"),
        ("dropped < 0.5", "a whole count such as 0 or a percentage"),
        ("requests > -3", "a whole count"),
        ("p95 < -1s", "cannot be negative"),
    ],
)
def test_gate_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        Gate.model_validate(text)


@pytest.mark.parametrize("data", [42, None, {"op": None}, {"metric": "p95", "op": "<"}, ["p95"]])
def test_gate_must_be_a_string(data: object) -> None:
    with pytest.raises(ValidationError, match="a gate is a string"):
        Gate.model_validate(data)


def test_gate_round_trips_through_its_fields() -> None:
    gate = Gate.model_validate("p95(GET /x) < 300ms")
    assert Gate.model_validate(gate.model_dump()) == gate
