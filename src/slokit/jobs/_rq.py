"""Queue depth and the age of the oldest waiting job of RQ queues, read from Redis when
Prometheus scrapes (a scrape, not a request, pays for the two Redis calls per queue)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

from slokit.errors import UsageError

__all__ = ["watch_rq_queues"]


def watch_rq_queues(connection: Any, queues: Sequence[str], registry: Any = None) -> Any:
    """Export ``slokit_queue_depth{queue}`` and ``slokit_queue_oldest_age_seconds{queue}`` for
    ``queues`` (names) on ``connection`` (a redis.Redis). Returns the collector."""
    try:
        from prometheus_client import REGISTRY
        from prometheus_client.core import GaugeMetricFamily
        from prometheus_client.registry import Collector
        from rq import Queue
    except ImportError:
        raise UsageError("queue metrics need rq and prometheus-client: pip install rq") from None
    watched = [Queue(name, connection=connection) for name in queues]

    class QueueCollector(Collector):
        def collect(self) -> Iterator[Any]:
            depth = GaugeMetricFamily(
                "slokit_queue_depth", "Jobs waiting in each queue.", labels=["queue"]
            )
            age = GaugeMetricFamily(
                "slokit_queue_oldest_age_seconds",
                "Seconds the oldest waiting job of each queue has waited (0 when empty).",
                labels=["queue"],
            )
            now = time.time()
            for queue in watched:
                try:
                    count = queue.count
                    ids = queue.get_job_ids(0, 1)
                    oldest = queue.fetch_job(ids[0]) if ids else None
                except Exception:  # Redis down: no sample rather than a failed scrape
                    continue
                depth.add_metric([queue.name], count)
                enqueued = getattr(oldest, "enqueued_at", None)
                if enqueued is not None and enqueued.tzinfo is None:
                    enqueued = enqueued.replace(tzinfo=UTC)  # RQ 1.x: naive UTC
                waited = now - enqueued.timestamp() if enqueued is not None else 0.0
                age.add_metric([queue.name], max(waited, 0.0))
            yield depth
            yield age

    collector = QueueCollector()
    (registry if registry is not None else REGISTRY).register(collector)
    return collector
