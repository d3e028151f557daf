"""Rows in and out: a run's parts as table rows, and table rows as frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, insert, select

from slokit.results import RunResults
from slokit.store import _schema as s
from slokit.store._model import GitInfo, RequestSummary, RunSummary, StoredVerdict

__all__ = ["insert_parts", "request_summary", "summaries", "summary_columns", "verdicts"]

_NUMBERS = ("count", "failed", "dropped", "failures", "error_rate", "rps")
_LATENCIES = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")


def summary_columns(prefix: str, summary: RequestSummary) -> dict[str, Any]:
    """A request summary as the columns ``run_requests`` (or ``runs``' ``total_*``) keep."""
    return {prefix + n: getattr(summary, n) for n in (*_NUMBERS, *_LATENCIES)}


def request_summary(row: Mapping[str, Any], prefix: str = "") -> RequestSummary:
    """A ``run_requests`` row; with ``prefix="total_"``, a ``runs`` row's total."""
    failures = {str(k): int(v) for k, v in dict(row[prefix + "failures"]).items()}
    named = not prefix
    numbers = {n: row[prefix + n] for n in (*_NUMBERS, *_LATENCIES) if n != "failures"}
    return RequestSummary(
        name=str(row["name"]) if named else "total",
        method=str(row["method"]) if named else "-",
        path=str(row["path"]) if named else "-",
        failures=failures,
        **numbers,
    )


def insert_parts(
    conn: Connection,
    run_id: int,
    results: RunResults,
    document: Mapping[str, Any],
    labels: Mapping[str, str],
) -> None:
    """Everything of a run but its ``runs`` row: scenarios, labels, verdicts, requests."""
    requests = [RequestSummary.of(r) for r in document["requests"].values()]
    parts: list[tuple[Table, list[dict[str, Any]]]] = [
        (
            s.RUN_SCENARIOS,
            [
                {"position": i, "name": sc.name, "executor": sc.executor}
                for i, sc in enumerate(results.scenarios)
            ],
        ),
        (s.RUN_LABELS, [{"key": k, "value": v} for k, v in labels.items()]),
        (
            s.RUN_VERDICTS,
            [
                # Only the columns the table has (results.json's verdicts carry more keys).
                {"position": i, **{k: v for k, v in d.items() if k in s.RUN_VERDICTS.c}}
                for i, d in enumerate(v.to_dict() for v in results.verdicts)
            ],
        ),
        (
            s.RUN_REQUESTS,
            [
                {
                    "position": i,
                    "name": r.name,
                    "method": r.method,
                    "path": r.path,
                    **summary_columns("", r),
                }
                for i, r in enumerate(requests)
            ],
        ),
    ]
    for table, rows in parts:
        if rows:
            conn.execute(insert(table), [{"run_id": run_id, **r} for r in rows])


def verdicts(conn: Connection, run_id: int) -> tuple[StoredVerdict, ...]:
    rows = conn.execute(
        select(s.RUN_VERDICTS)
        .where(s.RUN_VERDICTS.c.run_id == run_id)
        .order_by(s.RUN_VERDICTS.c.position)
    ).mappings()
    return tuple(StoredVerdict.from_dict(dict(r)) for r in rows)


def summaries(conn: Connection, rows: list[dict[str, Any]]) -> list[RunSummary]:
    """``runs`` rows (without ``results``) with their scenarios and labels."""
    ids = [r["id"] for r in rows]
    scenarios: dict[int, list[str]] = {i: [] for i in ids}
    labels: dict[int, dict[str, str]] = {i: {} for i in ids}
    if ids:
        for run_id, name in conn.execute(
            select(s.RUN_SCENARIOS.c.run_id, s.RUN_SCENARIOS.c.name)
            .where(s.RUN_SCENARIOS.c.run_id.in_(ids))
            .order_by(s.RUN_SCENARIOS.c.run_id, s.RUN_SCENARIOS.c.position)
        ):
            scenarios[run_id].append(name)
        for run_id, key, value in conn.execute(
            select(s.RUN_LABELS.c.run_id, s.RUN_LABELS.c.key, s.RUN_LABELS.c.value)
            .where(s.RUN_LABELS.c.run_id.in_(ids))
            .order_by(s.RUN_LABELS.c.key)
        ):
            labels[run_id][key] = value
    return [
        RunSummary(
            id=r["id"],
            service=r["service"],
            scenarios=tuple(scenarios[r["id"]]),
            target=r["target"],
            started=r["started"],
            ended=r["ended"],
            duration_s=r["duration_s"],
            spec_hash=r["spec_hash"],
            git=None
            if r["git_commit"] is None
            else GitInfo(commit=r["git_commit"], branch=r["git_branch"]),
            labels=labels[r["id"]],
            partial=r["partial"],
            abort_reason=r["abort_reason"],
            passed=r["passed"],
            held_back=r["held_back"],
            exit_code=r["exit_code"],
            total=request_summary(r, "total_"),
            recorded=r["recorded"],
        )
        for r in rows
    ]
