"""The job decorator and context manager on their own: sync and async, outcomes, the last
success, retries counted by hand, and edges fixed once the first job ran."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slokit.errors import UsageError
from slokit.jobs import configure, job, job_run, retried


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_sync_async_and_context_manager_runs() -> None:
    registry = CollectorRegistry()

    @job(registry=registry)
    def nightly() -> int:
        return 1

    @job("fetch", queue="io", registry=registry)
    async def fetch() -> str:
        await asyncio.sleep(0)
        return "ok"

    @job("broken", registry=registry)
    def broken() -> None:
        raise ValueError("no")

    assert nightly() == 1
    assert asyncio.run(fetch()) == "ok"
    with pytest.raises(ValueError, match="no"):
        broken()
    with job_run("purge", registry=registry):
        pass
    retried("broken", registry=registry)
    runs = "slokit_job_runs_total"
    assert _sample(registry, runs, job_name="nightly", queue="default", outcome="success") == 1
    assert _sample(registry, runs, job_name="fetch", queue="io", outcome="success") == 1
    assert _sample(registry, runs, job_name="broken", queue="default", outcome="failure") == 1
    assert _sample(registry, "slokit_job_retries_total", job_name="broken", queue="default") == 1
    assert _sample(registry, "slokit_job_last_success_timestamp_seconds", job_name="purge")
    assert _sample(registry, "slokit_job_last_success_timestamp_seconds", job_name="broken") is None
    assert "slokit_job_duration_seconds_bucket" in generate_latest(registry).decode()


def test_edges_are_fixed_after_the_first_job() -> None:
    registry = CollectorRegistry()
    with job_run("first", registry=registry):
        pass
    with pytest.raises(UsageError, match="before any job"):
        configure(buckets=[0.123456])
