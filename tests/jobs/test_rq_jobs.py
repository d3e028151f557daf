"""slokit.jobs on a real RQ worker and the real Redis: durations, outcomes and RQ retries of
instrumented jobs on the worker's /metrics, and queue depth and oldest-job age read from
Redis at scrape time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slokit.jobs import watch_rq_queues
from tests._support import SERVERS, free_port, stop, wait_port

REDIS_URL = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis() -> Iterator[object]:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("Redis on 127.0.0.1:6379 is unreachable in CI")
        pytest.skip("Redis not running on 127.0.0.1:6379")
    from redis import Redis

    client = Redis.from_url(REDIS_URL)
    yield client
    client.close()


def _value(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
        if not labels and line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_jobs_on_a_real_rq_worker(redis: object) -> None:
    from rq import Queue, Retry

    sys.path.insert(0, str(SERVERS))
    import rq_jobs

    name = f"emails-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, connection=redis)
    for ms in (5, 5, 5, 300):
        queue.enqueue(rq_jobs.send_email, ms)
    for _ in range(2):
        queue.enqueue(rq_jobs.flaky, retry=Retry(max=1))
    # Before any worker: six wait, the oldest for a moment already.
    registry = CollectorRegistry()
    watch_rq_queues(redis, [name], registry=registry)
    time.sleep(0.2)
    waiting = generate_latest(registry).decode()
    assert _value(waiting, "slokit_queue_depth", queue=name) == 6
    assert (_value(waiting, "slokit_queue_oldest_age_seconds", queue=name) or 0) >= 0.2

    port = free_port()
    env = {**os.environ, "REDIS_URL": REDIS_URL, "QUEUE": name, "PORT": str(port)}
    worker = subprocess.Popen(
        [sys.executable, str(SERVERS / "rq_worker.py")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_port(port, worker)  # type: ignore[arg-type]
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            done = _value(text, "slokit_job_runs_total", job_name="send-email", outcome="success")
            failed = _value(text, "slokit_job_runs_total", job_name="flaky", outcome="failure")
            if done == 4 and failed == 4:
                break
            time.sleep(0.2)
    finally:
        stop(worker)  # type: ignore[arg-type]
    labels = {"job_name": "send-email", "queue": "emails"}
    assert _value(text, "slokit_job_runs_total", outcome="success", **labels) == 4
    # Two flaky jobs, each run twice (RQ's Retry(max=1)): four failures, two of them retried.
    assert _value(text, "slokit_job_runs_total", job_name="flaky", outcome="failure") == 4
    assert _value(text, "slokit_job_retries_total", job_name="flaky") == 2
    assert _value(text, "slokit_job_duration_seconds_count", **labels) == 4
    # configure(buckets=[0.25]) made 250 ms an edge: three runs under it, the 300 ms one not.
    assert _value(text, "slokit_job_duration_seconds_bucket", le="0.25", **labels) == 3
    last = _value(text, "slokit_job_last_success_timestamp_seconds", job_name="send-email")
    assert last is not None
    assert abs(last - time.time()) < 120
    assert _value(text, "slokit_job_last_success_timestamp_seconds", job_name="flaky") is None
    # Drained: the worker's own queue collector sees it empty.
    assert _value(text, "slokit_queue_depth", queue=name) == 0
    assert _value(text, "slokit_queue_oldest_age_seconds", queue=name) == 0
