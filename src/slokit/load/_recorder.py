"""Per-worker recording of request outcomes into per-second :class:`RequestStats`.

The recorder is on the hot path: one call per response. It keeps the stats of the current
one-second interval; the worker's ticker swaps them out with :meth:`Recorder.take` and ships
them to the controller, so the controller sees exact per-second data without the worker ever
holding more than one second of histograms.
"""

from __future__ import annotations

from typing import Protocol

from slokit.results import Histogram, RequestStats, StreamStats

__all__ = ["Recorder", "failure_kind"]


def failure_kind(status: int, ok_status: frozenset[int] | None) -> str | None:
    """Failure label for a response, or None when the status is a success."""
    if ok_status is None:
        if status < 400:
            return None
    elif status in ok_status:
        return None
    if status >= 500:
        return "5xx"
    if status >= 400:
        return "4xx"
    return "status"


class Held(Protocol):
    """A stream being held: it counts its time into the second being shipped."""

    def flush(self, now: float) -> None: ...


class Recorder:
    __slots__ = (
        "_current",
        "_streams",
        "dropped",
        "exceptions",
        "first_exception",
        "held",
        "iterations",
        "schedule",
    )

    def __init__(self) -> None:
        self._current: dict[str, RequestStats] = {}
        self._streams: dict[str, StreamStats] = {}
        self.held: set[Held] = set()
        """Streams held right now (their uptime is counted up to each shipped second)."""
        self.dropped = 0
        self.exceptions = 0
        self.iterations = 0
        """Iterations finished this interval (a flow's or journey's run, whatever its end)."""
        self.first_exception: str | None = None
        self.schedule = Histogram()
        """Open model: microseconds from each arrival's intended time to its first write."""

    def sent_late(self, intended: float, started: float) -> None:
        """An open-model arrival's first request was written at ``started`` (perf_counter)."""
        self.schedule.record(int((started - intended) * 1_000_000))

    def stats(self, name: str, method: str, path: str) -> RequestStats:
        stats = self._current.get(name)
        if stats is None:
            stats = self._current[name] = RequestStats(name, method, path)
        return stats

    def response(
        self,
        name: str,
        method: str,
        path: str,
        latency_s: float,
        status: int,
        ok_status: frozenset[int] | None,
        sent: int,
        received: int,
        checks_failed: int = 0,
        checks_passed: int = 0,
        failed_checks: tuple[str, ...] = (),
    ) -> bool:
        """Record one complete response; returns True when it counts as a success."""
        stats = self._current.get(name)
        if stats is None:
            stats = self._current[name] = RequestStats(name, method, path)
        stats.count += 1
        stats.bytes_sent += sent
        stats.bytes_received += received
        us = int(latency_s * 1_000_000)
        stats.latency.record(us if us > 0 else 1)
        if status >= 500:  # a fast 503 is bad for a latency SLO too (results/_verdicts.py)
            stats.server_errors.record(us if us > 0 else 1)
        if checks_passed:
            stats.checks_passed += checks_passed
        kind = failure_kind(status, ok_status)
        if checks_failed:
            stats.checks_failed += checks_failed
            labels = stats.check_failures
            for label in failed_checks:
                labels[label] = labels.get(label, 0) + 1
            if kind is None:
                kind = "check"
        if kind is None:
            return True
        failures = stats.failures
        failures[kind] = failures.get(kind, 0) + 1
        return False

    def error(self, name: str, method: str, path: str, kind: str, sent: int = 0) -> None:
        """Record a request that got no complete response (timeout, connect, protocol)."""
        stats = self.stats(name, method, path)
        stats.count += 1
        stats.bytes_sent += sent
        stats.failures[kind] = stats.failures.get(kind, 0) + 1

    def drop(self, name: str, method: str, path: str, n: int = 1) -> None:
        """Open-model arrivals that were never sent (no free VU, or still overdue when the
        run ended): counted, never hidden."""
        self.dropped += n
        self.stats(name, method, path).dropped += n

    def exception(self, where: str, text: str) -> None:
        """A Python journey raised: counted as an iteration failure, first message kept."""
        self.exceptions += 1
        if self.first_exception is None:
            self.first_exception = text
        stats = self.stats(where, "-", "-")
        stats.count += 1
        stats.failures["exception"] = stats.failures.get("exception", 0) + 1

    def stream(self, name: str, kind: str, path: str) -> StreamStats:
        stats = self._streams.get(name)
        if stats is None:
            stats = self._streams[name] = StreamStats(name, kind, path)
        return stats

    def take(self) -> dict[str, RequestStats]:
        """Hand over this interval's stats and start a fresh interval."""
        current, self._current = self._current, {}
        self.dropped = 0
        if self.schedule.count:
            self.schedule = Histogram()
        self.iterations = 0
        return current

    def take_streams(self, now: float) -> dict[str, StreamStats]:
        """Hand over this interval's stream stats, held time counted up to ``now``."""
        for held in list(self.held):
            held.flush(now)
        streams, self._streams = self._streams, {}
        return streams
