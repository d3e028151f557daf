"""Counters for one request name, and the per-second snapshot a worker ships to the controller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slokit.results._histogram import Histogram

if TYPE_CHECKING:
    from slokit.results._streams import StreamStats

__all__ = ["NO_RESPONSE", "UNAVAILABLE", "RequestStats", "Snapshot"]

NO_RESPONSE = frozenset({"timeout", "connect", "protocol"})
"""Failure kinds of requests that got no HTTP response at all."""

UNAVAILABLE = NO_RESPONSE | {"5xx"}
"""Failure kinds that make a request bad for an availability SLO (4xx are the client's)."""

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
PERCENTILE_KEYS = ("p50", "p90", "p95", "p99", "p99_9")


class RequestStats:
    """Everything measured for one request name over some interval.

    ``count`` is requests that were sent (answered or not); ``failures`` maps a failure kind
    (``4xx``, ``5xx``, ``status``, ``check``, ``timeout``, ``connect``, ``protocol``,
    ``exception``) to its count; ``dropped`` counts open-model arrivals that found no free VU
    and so were never sent. Latency is recorded for every request that got a response;
    ``server_errors`` holds the latencies of the responses with status >= 500 among them
    (whatever ``expect`` says), so a latency SLO can count a fast 503 as bad.
    """

    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "check_failures",
        "checks_failed",
        "checks_passed",
        "count",
        "dropped",
        "failures",
        "latency",
        "method",
        "name",
        "path",
        "server_errors",
    )

    def __init__(self, name: str, method: str = "-", path: str = "-") -> None:
        self.name = name
        self.method = method
        self.path = path
        self.count = 0
        self.failures: dict[str, int] = {}
        self.dropped = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        self.checks_passed = 0
        self.checks_failed = 0
        self.check_failures: dict[str, int] = {}
        """Failed checks by their description (``$.price exists``): which check failed."""
        self.latency = Histogram()
        self.server_errors = Histogram()

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def unavailable(self) -> int:
        """Requests that were 5xx or got no response: bad for an availability SLO.

        Every 5xx response counts, whatever ``expect`` or ``status:`` said: a journey that
        accepts a 503 (to go on with its iteration) does not make the service available."""
        no_response = sum(n for kind, n in self.failures.items() if kind in NO_RESPONSE)
        # Every 5xx failure is also in server_errors; results written before it existed
        # have only the failure count, so take whichever is larger.
        return no_response + max(self.server_errors.count, self.failures.get("5xx", 0))

    def merge(self, other: RequestStats) -> None:
        self.count += other.count
        for kind, n in other.failures.items():
            self.failures[kind] = self.failures.get(kind, 0) + n
        self.dropped += other.dropped
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received
        self.checks_passed += other.checks_passed
        self.checks_failed += other.checks_failed
        for label, n in other.check_failures.items():
            self.check_failures[label] = self.check_failures.get(label, 0) + n
        self.latency.merge(other.latency)
        if other.server_errors.count:
            self.server_errors.merge(other.server_errors)

    def copy(self, name: str | None = None) -> RequestStats:
        clone = RequestStats(name or self.name, self.method, self.path)
        clone.merge(self)
        return clone

    def summary(self, seconds: float) -> dict[str, Any]:
        """The results.json form: counts, rates and latency percentiles in milliseconds."""
        hist = self.latency
        values = hist.percentiles(list(PERCENTILES))
        latency = {
            key: round(v / 1000.0, 3) for key, v in zip(PERCENTILE_KEYS, values, strict=True)
        }
        latency["max"] = round(hist.max / 1000.0, 3)
        latency["min"] = round(hist.min / 1000.0, 3)
        latency["mean"] = round(hist.mean / 1000.0, 3)
        return {
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "failures": dict(sorted(self.failures.items())),
            # Not rounded: a ratio rounded here and again by a formatter reads 0.092% for 3 of
            # 3,243 (0.0925%); displays format exact counts, scripts get the exact ratio.
            "error_rate": self.failed / self.count if self.count else 0.0,
            "dropped": self.dropped,
            "rps": round(self.count / seconds, 3) if seconds > 0 else 0.0,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "checks": {"passed": self.checks_passed, "failed": self.checks_failed},
            "check_failures": dict(sorted(self.check_failures.items())),
            "latency_ms": latency,
        }

    def to_dict(self) -> dict[str, Any]:
        """Lossless form (histogram included): for the worker queue and the store."""
        data: dict[str, Any] = {
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "failures": dict(self.failures),
            "dropped": self.dropped,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "checks_passed": self.checks_passed,
            "checks_failed": self.checks_failed,
            "histogram": self.latency.to_dict(),
        }
        if self.check_failures:
            data["check_failures"] = dict(self.check_failures)
        if self.server_errors.count:  # absent when there were no 5xx: most runs
            data["histogram_5xx"] = self.server_errors.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestStats:
        stats = cls(str(data["name"]), str(data.get("method", "-")), str(data.get("path", "-")))
        stats.count = int(data.get("count", 0))
        stats.failures = {str(k): int(v) for k, v in dict(data.get("failures", {})).items()}
        stats.dropped = int(data.get("dropped", 0))
        stats.bytes_sent = int(data.get("bytes_sent", 0))
        stats.bytes_received = int(data.get("bytes_received", 0))
        stats.checks_passed = int(data.get("checks_passed", 0))
        stats.checks_failed = int(data.get("checks_failed", 0))
        stats.check_failures = {
            str(k): int(v) for k, v in dict(data.get("check_failures", {})).items()
        }
        stats.latency = Histogram.from_dict(data.get("histogram", {}))
        stats.server_errors = Histogram.from_dict(data.get("histogram_5xx", {}))
        return stats

    def __repr__(self) -> str:
        return f"RequestStats({self.name!r}, count={self.count}, failed={self.failed})"


@dataclass
class Snapshot:
    """One worker's measurements for one second of a scenario."""

    worker: int
    second: int
    """Whole seconds since the scenario's start; the interval [second, second + 1)."""
    warmup: bool
    requests: dict[str, RequestStats] = field(default_factory=dict)
    vus: int = 0
    """VUs busy at the end of the second."""
    dropped: int = 0
    streams: dict[str, StreamStats] = field(default_factory=dict)
    iterations: int = 0
    """Iterations the worker finished in the second."""
    cpu: float | None = None
    """The worker process's CPU time over the second's wall time (1.0: one core, saturated)."""
    loop_lag_ms: float = 0.0
    """The worst delay of the worker's event loop in the second (a 10 ms timer's lateness)."""
    schedule: Histogram | None = None
    """Open model: how late each iteration's first request was written after its intended
    time (microseconds); ``None`` when no arrival was sent in the second."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "worker": self.worker,
            "second": self.second,
            "warmup": self.warmup,
            "vus": self.vus,
            "dropped": self.dropped,
            "iterations": self.iterations,
            "requests": [s.to_dict() for s in self.requests.values()],
        }
        if self.streams:
            data["streams"] = [s.to_dict() for s in self.streams.values()]
        if self.cpu is not None:
            data["generator"] = {"cpu": self.cpu, "loop_lag_ms": self.loop_lag_ms}
        if self.schedule is not None:
            data["schedule"] = self.schedule.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        from slokit.results._streams import StreamStats  # it imports this module

        requests = [RequestStats.from_dict(r) for r in data.get("requests", [])]
        streams = [StreamStats.from_dict(r) for r in data.get("streams", [])]
        generator = data.get("generator") or {}
        return cls(
            streams={s.name: s for s in streams},
            worker=int(data["worker"]),
            second=int(data["second"]),
            warmup=bool(data["warmup"]),
            requests={r.name: r for r in requests},
            vus=int(data.get("vus", 0)),
            dropped=int(data.get("dropped", 0)),
            iterations=int(data.get("iterations", 0)),
            cpu=None if (cpu := generator.get("cpu")) is None else float(cpu),
            loop_lag_ms=float(generator.get("loop_lag_ms", 0.0)),
            schedule=Histogram.from_dict(sched) if (sched := data.get("schedule")) else None,
        )
