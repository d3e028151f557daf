"""Charts of a capacity search: achieved against offered rate (with the line it should
follow), and p50/p95/p99 against offered rate, the steps that failed marked."""

from __future__ import annotations

from typing import Any

from slokit.report._charts import chart_layout
from slokit.results import ScenarioResults

__all__ = ["CAPACITY_CHART_TITLES", "capacity_figures"]

Figure = dict[str, Any]

CAPACITY_CHART_TITLES = {
    "capacity": "Achieved vs offered rate",
    "capacity_latency": "Latency vs offered rate",
}
_PASS, _FAIL = "#16a34a", "#dc2626"


def _axis(layout: Figure) -> Figure:
    layout["xaxis"] = {"title": {"text": "offered rate (req/s)"}, "rangemode": "tozero"}
    layout["hovermode"] = "closest"
    return layout


def capacity_figures(sc: ScenarioResults) -> dict[str, Figure]:
    """The two capacity charts; none for a scenario that is not a capacity search."""
    capacity = sc.capacity
    if capacity is None or not capacity.steps:
        return {}
    steps = sorted(capacity.steps, key=lambda s: s.rate)
    rates = [s.rate for s in steps]
    colors = [_PASS if s.passed else _FAIL for s in steps]
    markers = {"size": 9, "color": colors, "line": {"width": 1, "color": "#ffffff"}}
    top = max(rates)
    throughput = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "offered (ideal)",
                "x": [0, top],
                "y": [0, top],
                "line": {"color": "#9ca3af", "dash": "dot", "width": 1},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "achieved",
                "x": rates,
                "y": [round(s.achieved, 3) for s in steps],
                "line": {"color": "#2563eb", "width": 2},
                "marker": markers,
                "hovertemplate": "offered %{x:.4~g}/s: achieved %{y:.4~g}/s",
            },
        ],
        "layout": _axis(chart_layout(CAPACITY_CHART_TITLES["capacity"], "achieved (req/s)")),
    }
    latency_data = []
    for key, color in (("p50", "#16a34a"), ("p95", "#d97706"), ("p99", "#dc2626")):
        latency_data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": key,
                "x": rates,
                "y": [getattr(s, f"{key}_ms") for s in steps],
                "line": {"color": color, "width": 2},
                "marker": {"size": 6},
                "hovertemplate": "%{y:.4~g} ms",
            }
        )
    latency_layout = _axis(chart_layout(CAPACITY_CHART_TITLES["capacity_latency"], "ms"))
    for value, label in ((capacity.sustainable, "sustainable"), (capacity.breaking, "breaking")):
        if value is not None:
            latency_layout.setdefault("shapes", []).append(
                {
                    "type": "line",
                    "x0": value,
                    "x1": value,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": _PASS if label == "sustainable" else _FAIL, "dash": "dash"},
                }
            )
    return {
        "capacity": throughput,
        "capacity_latency": {"data": latency_data, "layout": latency_layout},
    }
