"""The spec's ``jobs:`` as SLOs over the metrics of :mod:`slokit.jobs`, so the burn-rate
rules, their promtool tests and the dashboard treat them like any other SLO:

- ``job-NAME-duration``: runs within ``duration`` (bucket of ``slokit_job_duration_seconds``)
  over all runs, objective ``objective`` (99 %);
- ``job-NAME-success``: runs that did not fail over all runs, objective ``success``.
"""

from __future__ import annotations

from slokit.rules._sli import le_pattern
from slokit.spec import SLO, Spec

__all__ = ["job_slos", "with_jobs"]

_DURATION = "slokit_job_duration_seconds"
_RUNS = "slokit_job_runs_total"


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def job_slos(spec: Spec) -> dict[str, SLO]:
    found: dict[str, SLO] = {}
    selector = spec.prometheus.selector
    for name, job in spec.jobs.items():
        m = ",".join(p for p in (selector, f'job_name="{_q(name)}"') if p)
        if job.duration is not None:
            le = f'le=~"{le_pattern(job.duration)}"'
            total = f"sum(increase({_DURATION}_count{{{m}}}[$window]))"
            good = f"(sum(increase({_DURATION}_bucket{{{m},{le}}}[$window])) or vector(0))"
            found[f"job-{name}-duration"] = SLO.model_validate(
                {
                    "objective": job.objective if job.objective is not None else 0.99,
                    "window": job.window,
                    "description": f"Runs of job {name} that finish within {job.duration:g}s.",
                    "sli": {"good": good, "total": total},
                }
            )
        if job.success is not None:
            failed = f'(sum(increase({_RUNS}{{{m},outcome="failure"}}[$window])) or vector(0))'
            total = f"sum(increase({_RUNS}{{{m}}}[$window]))"
            found[f"job-{name}-success"] = SLO.model_validate(
                {
                    "objective": job.success,
                    "window": job.window,
                    "description": f"Runs of job {name} that succeed.",
                    "sli": {"bad": failed, "total": total},
                }
            )
    return found


def with_jobs(spec: Spec) -> Spec:
    """``spec`` with its job SLOs among its SLOs (itself when it has none)."""
    extra = job_slos(spec)
    if not extra:
        return spec
    clash = sorted(set(extra) & set(spec.slos))
    if clash:
        from slokit.errors import UsageError

        raise UsageError(f"SLO {clash[0]!r} is also the name slokit gives a job SLO: rename it")
    return spec.model_copy(update={"slos": {**spec.slos, **extra}})
