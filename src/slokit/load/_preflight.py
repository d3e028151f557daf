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
from slokit.load._script import load_journey
from slokit.load._template import placeholders
from slokit.spec import Scenario, Spec, Step

__all__ = ["check_spec"]

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
    for index, step in enumerate(sc.flow):
        step_where = f"{where}.flow[{index}]"
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
