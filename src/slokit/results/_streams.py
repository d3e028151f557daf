"""What was measured on one stream name (SSE or WebSocket) beside its opening request.

Opening a stream is a request: it is in ``requests`` under the same name, its latency is
the handshake (request written → response headers, or the 101), its failures are the opens
that did not give a live stream. What happens after the open is here: time to the first
event, the gaps between events, reconnects (drop noticed → stream open again and its first
event), how long each connection lived, how much of the time a virtual user wanted a stream
it had a live one (``uptime``), and what went wrong mid-stream, by kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slokit.results._histogram import Histogram
from slokit.results._stats import PERCENTILE_KEYS, PERCENTILES

__all__ = ["STREAM_ERRORS", "STREAM_MEASURES", "StreamStats"]

STREAM_MEASURES = ("first_event", "gap", "reconnect", "lifetime")
"""The per-stream latency measures a gate can name: ``p99(reconnect SSE /x) < 1s``.
(``handshake`` is the opening request's own latency.)"""

STREAM_ERRORS = (
    "refused",
    "status",
    "content_type",
    "timeout",
    "dropped",
    "protocol",
)
"""Why a stream failed to open or ended early."""


def _ms(hist: Histogram) -> dict[str, float] | None:
    if not hist.count:
        return None
    values = hist.percentiles(list(PERCENTILES))
    out = {key: round(v / 1000.0, 3) for key, v in zip(PERCENTILE_KEYS, values, strict=True)}
    out["max"] = round(hist.max / 1000.0, 3)
    out["min"] = round(hist.min / 1000.0, 3)
    out["mean"] = round(hist.mean / 1000.0, 3)
    out["count"] = hist.count
    return out


class StreamStats:
    """Counters and histograms (µs) of one stream name over some interval."""

    __slots__ = (
        "bytes_received",
        "bytes_sent",
        "checks_failed",
        "checks_passed",
        "errors",
        "events",
        "first_event",
        "gap",
        "held_us",
        "kind",
        "lifetime",
        "live_us",
        "name",
        "opened",
        "path",
        "reconnect",
        "reconnects",
        "sent",
    )

    def __init__(self, name: str, kind: str = "sse", path: str = "-") -> None:
        self.name = name
        self.kind = kind
        """``sse`` or ``ws``."""
        self.path = path
        self.opened = 0
        """Connections that gave a live stream."""
        self.reconnects = 0
        self.events = 0
        """SSE events dispatched, or WebSocket messages received."""
        self.sent = 0
        """WebSocket messages sent."""
        self.bytes_received = 0
        self.bytes_sent = 0
        self.errors: dict[str, int] = {}
        self.held_us = 0
        """Time virtual users wanted a stream (from the first open to the end of the hold)."""
        self.live_us = 0
        """Of that, time with a live stream (headers in, connection not yet dropped)."""
        self.checks_passed = 0
        self.checks_failed = 0
        self.first_event = Histogram()
        self.gap = Histogram()
        self.reconnect = Histogram()
        self.lifetime = Histogram()

    def measure(self, name: str) -> Histogram:
        """The histogram of one of :data:`STREAM_MEASURES`."""
        hist: Histogram = getattr(self, name)
        return hist

    @property
    def uptime(self) -> float | None:
        """Share of the held time with a live stream; None when nothing was held."""
        return self.live_us / self.held_us if self.held_us else None

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def merge(self, other: StreamStats) -> None:
        self.opened += other.opened
        self.reconnects += other.reconnects
        self.events += other.events
        self.sent += other.sent
        self.bytes_received += other.bytes_received
        self.bytes_sent += other.bytes_sent
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n
        self.held_us += other.held_us
        self.live_us += other.live_us
        self.checks_passed += other.checks_passed
        self.checks_failed += other.checks_failed
        for measure in STREAM_MEASURES:
            mine = self.measure(measure)
            theirs = other.measure(measure)
            if theirs.count:
                mine.merge(theirs)

    def copy(self) -> StreamStats:
        clone = StreamStats(self.name, self.kind, self.path)
        clone.merge(self)
        return clone

    def summary(self, seconds: float) -> dict[str, Any]:
        """The results.json form: counts, rates, uptime and each measure in milliseconds."""
        return {
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "opened": self.opened,
            "reconnects": self.reconnects,
            "events": self.events,
            "events_per_s": round(self.events / seconds, 3) if seconds > 0 else 0.0,
            "sent": self.sent,
            "bytes_received": self.bytes_received,
            "bytes_per_s": round(self.bytes_received / seconds, 1) if seconds > 0 else 0.0,
            "bytes_sent": self.bytes_sent,
            "errors": dict(sorted(self.errors.items())),
            "held_s": round(self.held_us / 1e6, 3),
            "live_s": round(self.live_us / 1e6, 3),
            "uptime": self.uptime,
            "checks": {"passed": self.checks_passed, "failed": self.checks_failed},
            **{f"{m}_ms": _ms(self.measure(m)) for m in STREAM_MEASURES},
        }

    def to_dict(self) -> dict[str, Any]:
        """Lossless form (histograms included): for the worker queue and the store."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "opened": self.opened,
            "reconnects": self.reconnects,
            "events": self.events,
            "sent": self.sent,
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
            "errors": dict(self.errors),
            "held_us": self.held_us,
            "live_us": self.live_us,
            "checks_passed": self.checks_passed,
            "checks_failed": self.checks_failed,
        }
        for measure in STREAM_MEASURES:
            hist = self.measure(measure)
            if hist.count:
                data[measure] = hist.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreamStats:
        stats = cls(str(data["name"]), str(data.get("kind", "sse")), str(data.get("path", "-")))
        for key in ("opened", "reconnects", "events", "sent", "bytes_received", "bytes_sent"):
            setattr(stats, key, int(data.get(key, 0)))
        for key in ("held_us", "live_us", "checks_passed", "checks_failed"):
            setattr(stats, key, int(data.get(key, 0)))
        stats.errors = {str(k): int(v) for k, v in dict(data.get("errors", {})).items()}
        for measure in STREAM_MEASURES:
            if measure in data:
                setattr(stats, measure, Histogram.from_dict(data[measure]))
        return stats

    def __repr__(self) -> str:
        return f"StreamStats({self.name!r}, opened={self.opened}, events={self.events})"
