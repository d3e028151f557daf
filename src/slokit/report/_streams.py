"""Stream rows as every report shows them: the terminal, summary.md, report.html and the
dashboard read these, so an SSE or WebSocket run reads the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from slokit.results import Histogram, ScenarioResults, format_count, format_ms, format_percent

__all__ = ["STREAM_HEADERS", "StreamRow", "stream_rows"]

STREAM_HEADERS = (
    "stream",
    "opened",
    "reconnects",
    "events",
    "events/s",
    "first event p95",
    "gap p95",
    "reconnect p99",
    "lifetime p50",
    "uptime",
    "errors",
)


@dataclass(frozen=True)
class StreamRow:
    name: str
    opened: str
    reconnects: str
    events: str
    rate: str
    first_event: str
    gap: str
    reconnect: str
    lifetime: str
    uptime: str
    errors: str
    degraded: bool
    """Some stream error happened or uptime is below 99 %: reports highlight the row."""

    def cells(self) -> tuple[str, ...]:
        return (
            self.name,
            self.opened,
            self.reconnects,
            self.events,
            self.rate,
            self.first_event,
            self.gap,
            self.reconnect,
            self.lifetime,
            self.uptime,
            self.errors,
        )


def _pct(hist: Histogram, p: float) -> str:
    return format_ms(hist.percentile(p) / 1000.0) if hist.count else "-"


def stream_rows(sc: ScenarioResults) -> list[StreamRow]:
    seconds = sc.measured_s
    rows = []
    for stats in sc.streams.values():
        uptime = stats.uptime
        errors = ", ".join(f"{k} {format_count(n)}" for k, n in sorted(stats.errors.items()))
        rows.append(
            StreamRow(
                name=stats.name,
                opened=format_count(stats.opened),
                reconnects=format_count(stats.reconnects),
                events=format_count(stats.events),
                rate=format_count(round(stats.events / seconds, 1)) if seconds > 0 else "-",
                first_event=_pct(stats.first_event, 95.0),
                gap=_pct(stats.gap, 95.0),
                reconnect=_pct(stats.reconnect, 99.0),
                lifetime=_pct(stats.lifetime, 50.0),
                uptime=format_percent(uptime) if uptime is not None else "-",
                errors=errors or "0",
                degraded=bool(stats.errors) or (uptime is not None and uptime < 0.99),
            )
        )
    return rows
