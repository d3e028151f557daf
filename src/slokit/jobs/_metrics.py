"""The job metrics, as prometheus-client objects so a forking worker (RQ's default) can use
prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) like a web service does.

The job is labelled ``job_name``: Prometheus gives every scraped series a ``job`` label of its
own (the scrape job), which a ``job`` label of the metric would collide with.

Created on first use with the duration edges known then: the standard ones (100 ms to 1 h)
plus every job SLO's duration given to :func:`configure` before the first job ran.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from slokit.errors import UsageError

__all__ = ["JOB_EDGES", "JobMetrics", "configure", "job_metrics"]

JOB_EDGES = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

_lock = threading.Lock()
_extra: set[float] = set()
_made: dict[int, JobMetrics] = {}


@dataclass(frozen=True)
class JobMetrics:
    duration: Any
    runs: Any
    retries: Any
    last_success: Any
    edges: tuple[float, ...]


def configure(*, spec: Any = None, buckets: Iterable[float] = ()) -> None:
    """Add duration edges before the first job runs: every ``jobs:`` SLO duration of ``spec``
    (a Spec or a path) and ``buckets``; afterwards the histogram's edges are fixed."""
    edges = {float(b) for b in buckets}
    if spec is not None:
        if not hasattr(spec, "jobs"):
            from slokit.spec import load_spec

            spec = load_spec(spec)
        edges |= {j.duration for j in spec.jobs.values() if j.duration is not None}
    with _lock:
        if _made and not edges <= set(next(iter(_made.values())).edges):
            raise UsageError(
                "slokit.jobs.configure() came after the first job ran: call it at start-up, "
                "before any job, so the duration histogram has the SLO's edges"
            )
        _extra.update(edges)


def job_metrics(registry: Any = None) -> JobMetrics:
    """The metric objects in ``registry`` (default: prometheus-client's REGISTRY)."""
    try:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram
    except ImportError:
        raise UsageError(
            "job metrics need prometheus-client: pip install 'slokit[service]'"
        ) from None
    target = registry if registry is not None else REGISTRY
    key = id(target)
    found = _made.get(key)
    if found is not None:
        return found
    with _lock:
        found = _made.get(key)
        if found is None:
            edges = tuple(sorted({*JOB_EDGES, *_extra}))
            found = JobMetrics(
                duration=Histogram(
                    "slokit_job_duration_seconds",
                    "Duration of each job run, by job and queue.",
                    ["job_name", "queue"],
                    buckets=edges,
                    registry=target,
                ),
                runs=Counter(
                    "slokit_job_runs",
                    "Job runs by outcome (success, failure).",
                    ["job_name", "queue", "outcome"],
                    registry=target,
                ),
                retries=Counter(
                    "slokit_job_retries",
                    "Failed runs that will be retried.",
                    ["job_name", "queue"],
                    registry=target,
                ),
                last_success=Gauge(
                    "slokit_job_last_success_timestamp_seconds",
                    "When each job last succeeded (Unix time).",
                    ["job_name"],
                    registry=target,
                    multiprocess_mode="max",
                ),
                edges=edges,
            )
            _made[key] = found
    return found
