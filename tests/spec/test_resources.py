"""The ``resources:`` block and the gates on what it samples: units written, names known,
every mistake refused with where it is."""

from __future__ import annotations

import pytest

from slokit.errors import SpecError
from slokit.spec import Gate, parse_spec


def gate(text: str) -> Gate:
    return Gate.model_validate(text)


@pytest.mark.parametrize(
    ("text", "metric", "resource", "threshold", "unit"),
    [
        ("max(rss) < 512MiB", "max", "rss", 512 * 2**20, "bytes"),
        ("mean(cpu) < 80%", "mean", "cpu", 0.8, "cores"),
        ("max(cpu) < 150%", "max", "cpu", 1.5, "cores"),
        ("max(pg_connections) < 80", "max", "pg_connections", 80, "count"),
        ("max(db_pool) <= 20", "max", "db_pool", 20, "count"),
        ("rss_slope < 10MiB/h", "slope", "rss", 10 * 2**20, "bytes_per_hour"),
        ("fd_slope < 1/h", "slope", "fds", 1, "per_hour"),
        ("slope(threads) < 2/min", "slope", "threads", 120, "per_hour"),
        ("slope(rss) < 1MiB/s", "slope", "rss", 3600 * 2**20, "bytes_per_hour"),
    ],
)
def test_resource_gates_parse_into_plain_units(
    text: str, metric: str, resource: str, threshold: float, unit: str
) -> None:
    g = gate(text)
    assert (g.metric, g.resource, g.request, g.threshold, g.unit) == (
        metric,
        resource,
        None,
        threshold,
        unit,
    )


def test_a_latency_max_on_a_request_stays_a_latency_gate() -> None:
    g = gate("max(GET /a) < 300ms")
    assert (g.metric, g.request, g.resource, g.unit) == ("max", "GET /a", None, "s")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("max(rss) < 512", r"bytes or more\? write the unit"),
        ("max(cpu) < 0.8", "a percentage of one core"),
        ("rss_slope < 10MiB", "an amount per time"),
        ("slope < 1/h", "slope needs a resource"),
        ("fd_slope < 1/fortnight", "an amount per time"),
        ("p95_drift < 20", "a percentage such as 20%"),
        ("max(db_pool) < lots", "expected a number"),
    ],
)
def test_bad_resource_and_drift_gates_are_refused(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        gate(text)


def test_drift_gates_may_exceed_100_percent() -> None:
    assert gate("p99_drift < 200%").threshold == 2.0
    assert gate("error_rate_drift < 1%").threshold == 0.01


def _problems(body: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec("service: x\n" + body)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("resources: {interval: 1s}\n", "names nothing to sample"),
        ("resources: {pid: 1, process: uvicorn}\n", "give pid or process, not both"),
        ("resources: {pid: 0}\n", "pid"),
        ("resources: {pid: 1.5}\n", "pid"),
        ("resources: {process: x, series: {pool: db_pool}}\n", "series are read from metrics"),
        (
            "resources: {metrics: 'http://127.0.0.1:1/metrics', series: {Pool: db_pool}}\n",
            "invalid series name 'Pool'",
        ),
        (
            "resources: {metrics: 'http://127.0.0.1:1/metrics', series: {rss: x}}\n",
            "is a built-in resource",
        ),
        (
            "resources: {metrics: 'http://127.0.0.1:1/metrics', series: {pool: 'a b'}}\n",
            "invalid selector",
        ),
        ("resources: {postgres: 'mysql://x'}\n", "invalid PostgreSQL URL"),
        ("resources: {metrics: 'ftp://x/metrics'}\n", "metrics"),
        ("resources: {process: x, interval: 0}\n", "interval"),
        ("resources: {process: x, interval: 300}\n", "300ms or 300s?"),
        ("resources: {process: x, interval: 2m}\n", "sample between every 50ms and every 60s"),
        ("resources: {process: x, interval: 1ms}\n", "sample between every 50ms and every 60s"),
    ],
)
def test_bad_resources_blocks_are_refused_with_their_place(body: str, says: str) -> None:
    problems = _problems(body)
    assert any("resources" in p and says in p for p in problems), problems


def test_a_scenario_resources_block_replaces_the_specs() -> None:
    spec = parse_spec(
        "service: x\ntarget: http://127.0.0.1:1\nresources: {process: api}\nscenarios:\n"
        "  a: {executor: constant-vus, vus: 1, duration: 1s, flow: [{get: /}]}\n"
        "  b: {executor: constant-vus, vus: 1, duration: 1s, flow: [{get: /}],"
        " resources: {postgres: 'postgresql://postgres@127.0.0.1/postgres'}}\n"
    )
    a = spec.resources_for(spec.scenarios["a"])
    b = spec.resources_for(spec.scenarios["b"])
    assert a is not None
    assert b is not None
    assert a.names == ["rss", "cpu", "fds", "threads"]
    assert b.names == ["pg_connections", "pg_active"]
