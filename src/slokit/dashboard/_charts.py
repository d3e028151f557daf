"""The trends page's charts (plotly figure dicts) and the overview's sparklines (inline SVG).

A chart has one point per run, oldest to newest, at the run's start time; the run id rides
along as ``customdata`` so a click opens the run. Thresholds come from the runs' own stored
verdicts, so a threshold that changed between runs draws as a step, and one a run did not
have leaves a gap: latency gates (``p95(GET /x) < 300ms``) and latency SLOs ("95% within
500ms": a line at 500 ms, read against the p95) on the latency chart, ``error_rate`` gates on
the error chart, ``rps`` gates on the throughput chart.

Plotly reads a little HTML in trace names, so every user-provided string is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from slokit.dashboard._data import ScenarioCard, ScenarioRun
from slokit.report import chart_layout
from slokit.spec import format_duration, parse_duration
from slokit.store import StoredVerdict

__all__ = [
    "Sparkline",
    "Threshold",
    "cost_trend",
    "p95_sparkline",
    "sparkline",
    "threshold",
    "trend_figures",
]

Figure = dict[str, Any]

_COLORS = {"p50": "#16a34a", "p95": "#d97706", "p99": "#dc2626", "errors": "#dc2626"}
_RPS = "#2563eb"
_THRESHOLD_COLORS = ("#6b7280", "#9333ea", "#0891b2", "#db2777", "#4b5563")
_LATENCY_METRICS = re.compile(r"p\d+(?:\.\d+)?|max|mean")
# "... within 500ms (objective 95%)": today's wording and the one before it.
_SLO_LATENCY = re.compile(r" within (\S+)(?: \(no answer counts as slow\))? \(objective ")


def _text(value: str) -> str:
    return html.escape(value, quote=False)


@dataclass(frozen=True)
class Threshold:
    """One verdict's threshold as a line: on which chart, its legend text, its value in the
    chart's unit (ms, % or req/s)."""

    chart: str
    label: str
    value: float


def threshold(v: StoredVerdict) -> Threshold | None:
    """The line a verdict draws on the trends charts, or None."""
    if v.kind == "gate":
        metric = v.name.strip().split("(", 1)[0].split(" ", 1)[0]
        if v.unit == "s" and _LATENCY_METRICS.fullmatch(metric):
            return Threshold("latency", v.name, v.threshold * 1000.0)
        if metric == "error_rate" and v.unit == "ratio":
            return Threshold("errors", v.name, v.threshold * 100.0)
        if metric == "rps" and v.unit == "per_second":
            return Threshold("throughput", v.name, v.threshold)
        if metric == "capacity" and v.unit == "per_second":
            return Threshold("capacity", v.name, v.threshold)
        if metric == "cost_per_million" and v.unit == "currency":
            return Threshold("cost", v.name, v.threshold)
        return None
    found = _SLO_LATENCY.search(v.detail)
    if v.kind != "slo" or found is None:
        return None
    try:
        seconds = parse_duration(found.group(1))
    except ValueError:
        return None
    label = f"{v.name}: p{v.threshold * 100:g} ≤ {format_duration(seconds)}"
    return Threshold("latency", label, seconds * 1000.0)


def _x(runs: list[ScenarioRun]) -> list[str]:
    return [r.run.started.strftime("%Y-%m-%d %H:%M:%S.%f") for r in runs]


def _layout(title: str, y_title: str) -> Figure:
    layout = chart_layout(title, y_title)
    layout["xaxis"] = {"title": {"text": "run start (UTC)"}, "type": "date", "automargin": True}
    layout["hovermode"] = "closest"
    return layout


def _line(
    name: str, runs: list[ScenarioRun], y: list[float | None], color: str, unit: str
) -> Figure:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": _text(name),
        "x": _x(runs),
        "y": y,
        "customdata": [r.run.id for r in runs],
        # The trace's own name, not the name pasted into the template: a name holding
        # "%{y}" must not be read as a template.
        "hovertemplate": f"run %{{customdata}}: %{{y:.4~g}} {unit}"
        "<extra>%{fullData.name}</extra>",
        "line": {"color": color, "width": 2},
        "marker": {"size": 6},
    }


def _threshold_lines(runs: list[ScenarioRun], chart: str, unit: str) -> list[Figure]:
    by_label: dict[str, list[float | None]] = {}
    for i, r in enumerate(runs):
        for v in r.verdicts:
            found = threshold(v)
            if found is not None and found.chart == chart:
                by_label.setdefault(found.label, [None] * len(runs))[i] = found.value
    lines = []
    for n, (label, y) in enumerate(by_label.items()):
        line = _line(label, runs, y, _THRESHOLD_COLORS[n % len(_THRESHOLD_COLORS)], unit)
        line.update(mode="lines", line={**line["line"], "dash": "dash", "shape": "hv"})
        lines.append(line)
    return lines


def capacity_trend(
    runs: list[ScenarioRun], rates: list[tuple[float | None, float | None] | None]
) -> Figure:
    """The sustainable and breaking rate of a capacity search across ``runs`` (oldest first)."""
    sustainable = _line(
        "sustainable", runs, [r[0] if r else None for r in rates], _COLORS["p50"], "req/s"
    )
    breaking = _line(
        "breaking", runs, [r[1] if r else None for r in rates], _COLORS["p99"], "req/s"
    )
    breaking["line"]["dash"] = "dot"
    return {
        "data": [sustainable, breaking, *_threshold_lines(runs, "capacity", "req/s")],
        "layout": _layout("Capacity per run (capacity search)", "req/s"),
    }


def cost_trend(
    runs: list[ScenarioRun], costs: list[tuple[float | None, float | None, str] | None]
) -> Figure:
    """Cost per million requests (served, and at SLO after a capacity search) across ``runs``
    (oldest first), with the ``cost_per_million`` gates as thresholds."""
    currency = next((c[2] for c in reversed(costs) if c and c[2]), "")
    served = _line(
        "served", runs, [c[0] if c else None for c in costs], _RPS, f"{currency} per million"
    )
    traces = [served]
    if any(c and c[1] is not None for c in costs):
        at_slo = _line(
            "at SLO",
            runs,
            [c[1] if c else None for c in costs],
            _COLORS["p50"],
            f"{currency} per million",
        )
        traces.append(at_slo)
    unit = f"{currency} per million"
    return {
        "data": [*traces, *_threshold_lines(runs, "cost", unit)],
        "layout": _layout("Cost per million requests per run", _text(unit).strip()),
    }


def trend_figures(runs: list[ScenarioRun]) -> dict[str, Figure]:
    """``latency`` (p50/p95/p99), ``errors`` (error rate) and ``throughput`` (req/s) across
    ``runs`` (oldest first), each with its thresholds. A run without any response has no
    latency point (a gap, not a zero)."""
    latency = [
        _line(
            key,
            runs,
            [getattr(r.stats, f"{key}_ms") if r.stats.max_ms > 0 else None for r in runs],
            _COLORS[key],
            "ms",
        )
        for key in ("p50", "p95", "p99")
    ]
    errors = _line(
        "error rate",
        runs,
        [100.0 * r.stats.failed / r.stats.count if r.stats.count else None for r in runs],
        _COLORS["errors"],
        "%",
    )
    throughput = _line("req/s", runs, [r.stats.rps for r in runs], _RPS, "req/s")
    return {
        "latency": {
            "data": latency + _threshold_lines(runs, "latency", "ms"),
            "layout": _layout("Latency per run (warm-up excluded)", "ms"),
        },
        "errors": {
            "data": [errors, *_threshold_lines(runs, "errors", "%")],
            "layout": _layout("Error rate per run", "% of requests"),
        },
        "throughput": {
            "data": [throughput, *_threshold_lines(runs, "throughput", "req/s")],
            "layout": _layout("Requests per second per run", "req/s"),
        },
    }


@dataclass(frozen=True)
class Sparkline:
    """An SVG polyline of values in a ``width`` x ``height`` box (y grows downwards)."""

    points: str
    last: tuple[float, float]
    low: float
    high: float
    count: int
    width: int = 120
    height: int = 32


def sparkline(
    values: list[float | None], *, width: int = 120, height: int = 32
) -> Sparkline | None:
    """Values oldest first (None: no value, skipped); None when there is nothing to draw."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if not known:
        return None
    low, high = min(v for _, v in known), max(v for _, v in known)
    pad = 3.0
    span_x = max(len(values) - 1, 1)
    span_y = (high - low) or 1.0
    coords = []
    for i, v in known:
        x = pad + (width - 2 * pad) * (i / span_x if len(values) > 1 else 0.5)
        y = height / 2 if high == low else pad + (height - 2 * pad) * (1 - (v - low) / span_y)
        coords.append((round(x, 1), round(y, 1)))
    points = " ".join(f"{x:g},{y:g}" for x, y in coords)
    return Sparkline(points, coords[-1], low, high, len(known), width, height)


def p95_sparkline(card: ScenarioCard) -> Sparkline | None:
    """The p95 of a card's recent runs (runs without a response leave a gap)."""
    return sparkline([r.stats.p95_ms if r.stats.max_ms > 0 else None for r in card.recent])
