"""The checks a run makes before any load, in one place: ``slokit validate`` and
``slokit run`` both call :func:`check_spec`, so validate never passes what run refuses.

It compiles what the workers will compile, with the same code (flows with their URLs,
headers, bodies and JSON paths; scripts and their functions; data files and the columns
their placeholders name), and reports every problem with its spec path. It never opens a
connection: whether the target is up is the run's question, asked after this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slokit.errors import SpecError, SpecProblem, UsageError
from slokit.load._data import read_rows
from slokit.load._flow import compile_flow
from slokit.load._http import HttpClient
from slokit.load._naming import request_name
from slokit.load._script import load_journey
from slokit.load._template import has_placeholders, placeholders
from slokit.results import RequestStats, gate_selects, spike_shape
from slokit.spec import (
    BUILTIN_RESOURCES,
    Capacity,
    Gate,
    RampingArrivalRate,
    RampingVUs,
    Scenario,
    Spec,
    Step,
    flow_steps,
)

__all__ = ["check_spec", "planned_requests"]

_ANY_TARGET = "http://127.0.0.1"
"""Stands in for a target that only the run will know (``--target``)."""


def check_spec(
    spec: Spec,
    scenarios: Sequence[str] | None = None,
    target: str | None = None,
    *,
    duration: float | None = None,
    need_target: bool = True,
    source: str | None = None,
) -> None:
    """Raise :class:`SpecError` (every problem, each with its path) or :class:`UsageError`
    (a bad option) for anything that would stop the named scenarios (default: all) before
    their load starts. ``need_target=False`` accepts relative paths without a target, for
    ``slokit validate`` of a spec that is run with ``--target``."""
    names = list(scenarios or spec.scenarios)
    if not names:
        raise UsageError(
            "the spec has no scenarios: add one under `scenarios:` (see `slokit init`)"
        )
    for name in names:
        spec.scenario(name)  # unknown names: UsageError listing the known ones
    problems: list[SpecProblem] = []
    for name in dict.fromkeys(names):
        sc = spec.scenarios[name]
        if duration is not None:
            sc = sc.with_duration(duration)  # UsageError for a bad --duration
        url = target or sc.target or spec.target or (None if need_target else _ANY_TARGET)
        problems.extend(_scenario(spec, name, sc, url))
        problems.extend(_scenario_verdicts(spec, name, sc))
    problems.extend(_spec_gates(spec))
    if problems:
        raise SpecError(problems, source)


def _scenario(spec: Spec, name: str, sc: Scenario, target: str | None) -> list[SpecProblem]:
    where = f"scenarios.{name}"
    problems: list[SpecProblem] = []
    columns: set[str] | None = None
    if sc.data is not None:
        try:
            rows = read_rows(Path(spec.base_dir) / sc.data.file)
        except UsageError as exc:
            problems.append(SpecProblem(f"{where}.data.file", str(exc)))
        else:
            columns = set(rows[0])
    if sc.script is not None:
        try:
            load_journey(sc.script, spec.base_dir)
        except UsageError as exc:
            problems.append(SpecProblem(f"{where}.script", str(exc)))
        return problems
    assert sc.flow is not None
    for at, step in flow_steps(sc.flow):
        step_where = f"{where}.{at}"
        try:
            compile_flow([step], client=HttpClient(), target=target, headers=sc.headers, routes=[])
        except (UsageError, ValueError) as exc:
            problems.append(SpecProblem(step_where, str(exc)))
            continue
        if columns is None and sc.data is not None:
            continue  # the data file itself is already reported
        missing = sorted(_placeholders(step, sc.headers) - (columns or set()))
        if missing:
            known = ", ".join(sorted(columns)) if columns else "none: the scenario has no data file"
            problems.append(
                SpecProblem(
                    step_where,
                    f"placeholder {{{{{missing[0]}}}}} has no column in the data (columns: "
                    f"{known}); add the column, or a `data: {{file: rows.csv}}` that has it",
                )
            )
    return problems


def _placeholders(step: Step, headers: dict[str, str]) -> set[str]:
    found = placeholders(step.path)
    for key, value in {**headers, **step.headers}.items():
        found |= placeholders(key) | placeholders(value)
    found |= _in_value(step.json_body) | (placeholders(step.body) if step.body else set())
    return found


def _in_value(value: Any) -> set[str]:
    if isinstance(value, str):
        return placeholders(value)
    if isinstance(value, dict):
        return set().union(*(_in_value(k) | _in_value(v) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return set().union(*(_in_value(v) for v in value))
    return set()


def planned_requests(spec: Spec, sc: Scenario) -> dict[str, RequestStats] | None:
    """The requests a flow will send, named as the workers will name them; None when that is
    only known at run time (a Python journey, a path filled in from data)."""
    if sc.flow is None:
        return None
    routes = [slo.route for slo in spec.slos.values() if slo.route is not None]
    planned: dict[str, RequestStats] = {}
    for index, (_, step) in enumerate(flow_steps(sc.flow)):
        if step.name is None and has_placeholders(step.path):
            return None
        path = step.path.split("?", 1)[0]
        name = request_name(step.name, step.method, path, routes)
        # One name may send to several paths: keep each (a route may cover any of them).
        key = name if name not in planned else f"{name}\0{index}"
        planned[key] = RequestStats(name, step.method, path)
    return planned


def _names(planned: dict[str, RequestStats]) -> str:
    return ", ".join(dict.fromkeys(s.name for s in planned.values()))


def _unsent(gate: Gate, planned: dict[str, RequestStats]) -> bool:
    return gate.request is not None and not gate_selects(gate.request, planned)


def _scenario_verdicts(spec: Spec, name: str, sc: Scenario) -> list[SpecProblem]:
    where = f"scenarios.{name}"
    problems = [
        SpecProblem(
            f"{where}.slos.{slo}",
            f"unknown SLO {slo!r}: a scenario can only change the objective of the spec's "
            f"SLOs ({', '.join(spec.slos) or 'the spec has none'})",
        )
        for slo in sc.slos
        if slo not in spec.slos
    ]
    block = spec.resources_for(sc)
    offered = block.names if block is not None else []
    for index, gate in enumerate(sc.gates):
        if gate.metric == "recovery" and not _measures_recovery(sc):
            problems.append(
                SpecProblem(
                    f"{where}.gates[{index}]",
                    f"gate {gate.text!r} needs something to recover from: ramping stages that "
                    "rise and fall back to 75 % of their peak or less (a spike), or a capacity "
                    "search with recovery: DURATION",
                )
            )
        if gate.metric == "capacity" and not isinstance(sc, Capacity):
            problems.append(
                SpecProblem(
                    f"{where}.gates[{index}]",
                    f"gate {gate.text!r} judges a capacity search; this scenario is "
                    f"{sc.executor} (use executor: capacity to search the breaking point)",
                )
            )
        if gate.resource is not None and gate.resource not in offered:
            problems.append(
                SpecProblem(f"{where}.gates[{index}]", _unsampled(gate, offered, "this scenario"))
            )
    planned = planned_requests(spec, sc)
    if planned is None:
        return problems
    for index, gate in enumerate(sc.gates):
        if _unsent(gate, planned):
            problems.append(
                SpecProblem(
                    f"{where}.gates[{index}]",
                    f"gate {gate.text!r} names {gate.request!r}, which no step of this "
                    f"scenario sends (its requests: {_names(planned)}); name a request "
                    "by its `name:` or `METHOD /path`, or a route such as 'GET /items/{id}'",
                )
            )
    return problems


def _unsampled(gate: Gate, offered: list[str], who: str) -> str:
    name = gate.resource
    if not offered:
        return (
            f"gate {gate.text!r} is about {name!r}, but {who} samples no resources; add a "
            "resources: block (pid, process, metrics or postgres)"
        )
    how = {
        "pg_connections": "add postgres: URL",
        "pg_active": "add postgres: URL",
    }.get(
        str(name),
        "add pid, process or metrics"
        if name in BUILTIN_RESOURCES
        else (f"declare it under resources.series ({name}: 'metric_name{{label=\"value\"}}')"),
    )
    return (
        f"gate {gate.text!r} is about {name!r}, which the resources {who} samples do not "
        f"give (they give: {', '.join(offered)}); {how}"
    )


def _measures_recovery(sc: Scenario) -> bool:
    if isinstance(sc, Capacity):
        return sc.recovery is not None
    if isinstance(sc, RampingVUs):
        return spike_shape(sc.start_vus, [(s.to, s.over) for s in sc.stages]) is not None
    if isinstance(sc, RampingArrivalRate):
        return spike_shape(sc.start_rate, [(s.to, s.over) for s in sc.stages]) is not None
    return False


def _spec_capacity_gates(spec: Spec) -> list[SpecProblem]:
    problems = []
    if not any(_measures_recovery(sc) for sc in spec.scenarios.values()):
        problems += [
            SpecProblem(
                f"gates[{index}]",
                f"gate {gate.text!r} needs a scenario that can recover: a spike (ramping "
                "stages that rise and fall back) or a capacity search with recovery:",
            )
            for index, gate in enumerate(spec.gates)
            if gate.metric == "recovery"
        ]
    if any(isinstance(sc, Capacity) for sc in spec.scenarios.values()):
        return problems
    return problems + [
        SpecProblem(
            f"gates[{index}]",
            f"gate {gate.text!r} judges a capacity search, and no scenario is one "
            "(executor: capacity)",
        )
        for index, gate in enumerate(spec.gates)
        if gate.metric == "capacity"
    ]


def _spec_resource_gates(spec: Spec) -> list[SpecProblem]:
    offered = {
        name
        for sc in spec.scenarios.values()
        if (block := spec.resources_for(sc)) is not None
        for name in block.names
    }
    return [
        SpecProblem(f"gates[{index}]", _unsampled(gate, sorted(offered), "any scenario"))
        for index, gate in enumerate(spec.gates)
        if gate.resource is not None and gate.resource not in offered
    ]


def _spec_gates(spec: Spec) -> list[SpecProblem]:
    """A spec-wide gate is judged only where its request runs: one that no scenario can run
    would never be judged at all, so it is refused (unless a journey might send it)."""
    problems = _spec_resource_gates(spec) + _spec_capacity_gates(spec)
    plans = [planned_requests(spec, sc) for sc in spec.scenarios.values()]
    if not plans or any(plan is None for plan in plans):
        return problems
    every: dict[str, RequestStats] = {}
    for plan in plans:
        for stats in (plan or {}).values():
            every.setdefault(stats.name, stats)
            every.setdefault(f"{stats.name}\0{stats.method} {stats.path}", stats)
    return problems + [
        SpecProblem(
            f"gates[{index}]",
            f"gate {gate.text!r} names {gate.request!r}, which no scenario sends (requests: "
            f"{_names(every)}); name a request by its `name:` or `METHOD /path`, or a "
            "route such as 'GET /items/{id}'",
        )
        for index, gate in enumerate(spec.gates)
        if _unsent(gate, every)
    ]
