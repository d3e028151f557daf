"""Plotly figures of one scenario, as plain JSON-ready dicts (``{"data": [...], "layout": {...}}``).

report.html embeds them, and the web dashboard can hand the same dicts to ``Plotly.newPlot``:
nothing here imports plotly, so building a figure costs no more than walking the results.

Timeline points sit in the middle of their second (second 3 covers ``[3, 4)`` and is drawn at
3.5), so the shaded warm-up ends exactly between the last warm-up point and the first measured
one. Plotly reads a little HTML in trace names (``<b>``, ``<a href>``), so every user-provided
string that ends up in a figure is HTML-escaped; plotly shows the entities as plain text.
"""

from __future__ import annotations

import html
import math
from typing import Any

from slokit.results import Histogram, ScenarioResults, TimelinePoint

__all__ = ["chart_layout", "plotly_config", "scenario_figures"]

Figure = dict[str, Any]

FONT = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', sans-serif"
)
_COLORS = {
    "rps": "#2563eb",
    "vus": "#9ca3af",
    "p50": "#16a34a",
    "p95": "#d97706",
    "p99": "#dc2626",
    "failures": "#dc2626",
    "dropped": "#f59e0b",
}
_PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777")
_BINS_PER_DECADE = 100
"""Resolution of the latency CDF: one point per 2.3 % step of latency at most."""


def plotly_config() -> dict[str, Any]:
    """The ``config`` every chart is drawn with: resizes with its box, no links to plotly.com.

    plotly.js 3 shows a "Share chart..." button by default that opens Plotly Cloud and posts
    the whole figure to it: a report or a dashboard must never offer to upload a run.
    """
    return {
        "responsive": True,
        "displaylogo": False,
        "showSendToCloud": False,
        "modeBarButtonsToRemove": ["lasso2d", "sendChartToCloud"],
    }


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _x(points: list[TimelinePoint]) -> list[float]:
    return [p.second + 0.5 for p in points]


def _warmup(points: list[TimelinePoint]) -> tuple[list[Figure], list[Figure]]:
    """The warm-up as a shaded band (a plotly ``rect`` shape, what ``add_vrect`` makes)."""
    warm = [p.second for p in points if p.warmup]
    if not warm:
        return [], []
    x0, x1 = min(warm), max(warm) + 1
    shape = {
        "type": "rect",
        "name": "warm-up",
        "xref": "x",
        "yref": "paper",
        "x0": x0,
        "x1": x1,
        "y0": 0,
        "y1": 1,
        "fillcolor": "#9ca3af",
        "opacity": 0.2,
        "layer": "below",
        "line": {"width": 0},
    }
    label = {
        "xref": "x",
        "yref": "paper",
        "x": (x0 + x1) / 2,
        "y": 1,
        "yanchor": "top",
        "text": "warm-up",
        "showarrow": False,
        "font": {"size": 11, "color": "#4b5563"},
    }
    return [shape], [label]


def chart_layout(title: str, y_title: str) -> Figure:
    """The layout every slokit chart starts from (report.html and the dashboard): title,
    fonts, height and margins, the legend under the plot, a y axis from zero."""
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 12},
        "autosize": True,
        "height": 320,
        "margin": {"l": 56, "r": 20, "t": 40, "b": 84},
        # Below everything, whatever the plot's height: never over the x axis title.
        "legend": {"orientation": "h", "x": 0, "y": 0, "yref": "container", "yanchor": "bottom"},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "automargin": True},
    }


def _layout(title: str, y_title: str, points: list[TimelinePoint] | None) -> Figure:
    layout = chart_layout(title, y_title)
    layout["hovermode"] = "x unified"
    if points is not None:
        end = max((p.second + 1 for p in points), default=1)
        layout["xaxis"] = {
            "title": {"text": "seconds since start"},
            "range": [0, end],
            "zeroline": False,
        }
        layout["shapes"], layout["annotations"] = _warmup(points)
    return layout


def _line(name: str, x: list[float], y: list[float | None], color: str, **extra: Any) -> Figure:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": x,
        "y": y,
        "line": {"color": color, "width": 2},
        "marker": {"size": 4},
        **extra,
    }


def throughput_figure(sc: ScenarioResults) -> Figure:
    """Requests sent each second, and the busy virtual users on a second axis."""
    points = sc.timeline
    x = _x(points)
    layout = _layout("Requests per second", "req/s", points)
    most = max((p.vus for p in points), default=0)
    layout["yaxis2"] = {
        "title": {"text": "VUs"},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
        "automargin": True,
        # VUs are whole: ticks at whole steps, never 0.417 of a user.
        "tick0": 0,
        "dtick": max(1, math.ceil(most / 4)),
    }
    data = [
        _line("req/s", x, [p.requests for p in points], _COLORS["rps"]),
        _line("VUs", x, [p.vus for p in points], _COLORS["vus"], yaxis="y2"),
    ]
    data[1]["line"]["dash"] = "dot"
    return {"data": data, "layout": layout}


def latency_figure(sc: ScenarioResults) -> Figure:
    """p50, p95 and p99 of each second; a second without responses is a gap, not a zero."""
    points = sc.timeline
    x = _x(points)
    data = []
    for key in ("p50", "p95", "p99"):
        y = [None if p.max_ms <= 0 else getattr(p, f"{key}_ms") for p in points]
        data.append(_line(key, x, y, _COLORS[key], hovertemplate="%{y:.4~g} ms"))
    return {"data": data, "layout": _layout("Latency percentiles", "ms", points)}


def errors_figure(sc: ScenarioResults) -> Figure:
    """Failed requests and dropped arrivals (no free VU, never sent) each second, stacked."""
    points = sc.timeline
    x = _x(points)
    layout = _layout("Errors per second", "per second", points)
    layout["barmode"] = "stack"
    layout["legend"]["traceorder"] = "normal"
    layout["bargap"] = 0.1
    data = [
        {
            "type": "bar",
            "name": name,
            "x": x,
            "y": [getattr(p, name) for p in points],
            "marker": {"color": _COLORS[name]},
        }
        for name in ("failures", "dropped")
    ]
    return {"data": data, "layout": layout}


def generator_figure(sc: ScenarioResults) -> Figure | None:
    """The load generator's own health each second: its busiest worker's CPU, and on a
    second axis the worst event-loop lag and (open model) the p99 send lag of arrivals.
    None for a run recorded before the generator watched itself."""
    points = sc.timeline
    if not any(p.generator_cpu is not None for p in points):
        return None
    x = _x(points)
    layout = _layout("Load generator", "CPU %", points)
    layout["yaxis2"] = {
        "title": {"text": "ms"},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
        "automargin": True,
    }
    cpu = [None if p.generator_cpu is None else round(p.generator_cpu * 100, 1) for p in points]
    data = [
        _line("CPU % (busiest worker)", x, cpu, _COLORS["rps"], hovertemplate="%{y:.3~g} %"),
        _line(
            "loop lag (worst)",
            x,
            [p.loop_lag_ms for p in points],
            _COLORS["p95"],
            yaxis="y2",
            hovertemplate="%{y:.4~g} ms",
        ),
    ]
    if any(p.schedule_lag_p99_ms is not None for p in points):
        data.append(
            _line(
                "send lag p99 (arrivals)",
                x,
                [p.schedule_lag_p99_ms for p in points],
                _COLORS["p99"],
                yaxis="y2",
                hovertemplate="%{y:.4~g} ms",
            )
        )
    return {"data": data, "layout": layout}


def cdf_points(hist: Histogram) -> tuple[list[float], list[float]]:
    """``(latency_ms, percent_at_or_below)`` from the histogram's buckets, exact at each point,
    thinned to the last bucket of each 1/100-decade step; the last point is the max at 100 %."""
    xs: list[float] = []
    ys: list[float] = []
    if hist.count == 0:
        return xs, ys
    seen = 0
    last_bin: int | None = None
    for value, n in hist.to_pairs():
        seen += n
        step = math.floor(math.log10(max(value, 1)) * _BINS_PER_DECADE)
        point = (round(value / 1000.0, 3), round(100.0 * seen / hist.count, 4))
        if step == last_bin:
            xs[-1], ys[-1] = point
        else:
            xs.append(point[0])
            ys.append(point[1])
        last_bin = step
    xs[-1] = round(hist.max / 1000.0, 3)  # the exact max, not its bucket's value
    return xs, ys


def distribution_figure(sc: ScenarioResults) -> Figure:
    """The latency distribution of each request name as a CDF on a log axis: read across at
    95 % for the p95. Request names without a response have no line."""
    data = []
    # By name: the requests' order is the order they first finished in, which varies.
    answered = sorted((s for s in sc.requests.values() if s.latency.count), key=lambda s: s.name)
    for i, stats in enumerate(answered):
        xs, ys = cdf_points(stats.latency)
        data.append(
            _line(
                _text(stats.name),
                xs,
                list(ys),
                _PALETTE[i % len(_PALETTE)],
                mode="lines",
                hovertemplate="≤ %{x:.4~g} ms: %{y:.2f}%",
            )
        )
    layout = _layout("Latency distribution (warm-up excluded)", "% of requests at or below", None)
    layout["xaxis"] = {"title": {"text": "latency (ms)"}, "type": "log"}
    layout["yaxis"]["range"] = [0, 100.5]
    layout["hovermode"] = "closest"
    return {"data": data, "layout": layout}


def scenario_figures(sc: ScenarioResults) -> dict[str, Figure]:
    """Every chart of one scenario, by key: ``throughput`` (req/s and VUs), ``latency``
    (p50/p95/p99), ``errors`` (failures and dropped), each with the warm-up shaded, and
    ``distribution`` (a latency CDF per request name from the HDR histograms), ``generator``
    (the load generator's CPU and loop lag, when it was watched), then the
    target's resources when the scenario sampled them (see ``_resource_charts``)."""
    from slokit.report._capacity_charts import capacity_figures  # they build on this module
    from slokit.report._resource_charts import resource_figures

    figures = {
        "throughput": throughput_figure(sc),
        "latency": latency_figure(sc),
        "errors": errors_figure(sc),
        "distribution": distribution_figure(sc),
    }
    generator = generator_figure(sc)
    if generator is not None:
        figures["generator"] = generator
    return {**figures, **capacity_figures(sc), **resource_figures(sc)}
