"""Charts of what the target used while the load ran: memory (with its trend), CPU, threads
and file descriptors, database connections and the user's series. They share the request
charts' time axis and warm-up shading, so a p95 jump lines up with the RSS that caused it."""

from __future__ import annotations

from typing import Any

from slokit.report._charts import _layout, _line
from slokit.results import ScenarioResults

__all__ = ["RESOURCE_CHART_TITLES", "resource_figures"]

Figure = dict[str, Any]

RESOURCE_CHART_TITLES = {
    "memory": "Target memory (RSS)",
    "cpu": "Target CPU, threads and open files",
    "connections": "Connections and series",
}
_MIB = float(1 << 20)
_COLOR = {
    "rss": "#2563eb",
    "cpu": "#dc2626",
    "threads": "#16a34a",
    "fds": "#9333ea",
    "pg_connections": "#0891b2",
    "pg_active": "#d97706",
}
_SERIES = ("#db2777", "#65a30d", "#7c3aed", "#ea580c", "#0d9488")


def _second_axis(layout: Figure, title: str) -> None:
    layout["yaxis2"] = {
        "title": {"text": title},
        "overlaying": "y",
        "side": "right",
        "rangemode": "tozero",
        "showgrid": False,
        "automargin": True,
    }


def _memory(sc: ScenarioResults) -> Figure | None:
    assert sc.resources is not None
    points = sc.resources.series("rss")
    if not points:
        return None
    x = [t for t, _ in points]
    data = [
        _line("RSS", x, [v / _MIB for _, v in points], _COLOR["rss"], hovertemplate="%{y:.1f} MiB")
    ]
    summary = sc.resources.summary("rss", since=sc.warmup_s)
    if summary is not None and summary.trend is not None:
        trend = summary.trend
        ends = [max(sc.warmup_s, x[0]), x[-1]]
        line = _line("trend", ends, [trend.at(t) / _MIB for t in ends], "#6b7280")
        line["mode"] = "lines"
        line["line"]["dash"] = "dash"
        data.append(line)
    return {"data": data, "layout": _layout(RESOURCE_CHART_TITLES["memory"], "MiB", sc.timeline)}


def _cpu(sc: ScenarioResults) -> Figure | None:
    assert sc.resources is not None
    data = []
    cpu = sc.resources.series("cpu")
    if cpu:
        y: list[float | None] = [v * 100 for _, v in cpu]
        data.append(
            _line("CPU %", [t for t, _ in cpu], y, _COLOR["cpu"], hovertemplate="%{y:.0f}%")
        )
    for name in ("threads", "fds"):
        points = sc.resources.series(name)
        if points:
            line = _line(name, [t for t, _ in points], [v for _, v in points], _COLOR[name])
            line["yaxis"] = "y2"
            line["line"]["dash"] = "dot"
            data.append(line)
    if not data:
        return None
    layout = _layout(RESOURCE_CHART_TITLES["cpu"], "% of one core", sc.timeline)
    _second_axis(layout, "count")
    return {"data": data, "layout": layout}


def _connections(sc: ScenarioResults) -> Figure | None:
    resources = sc.resources
    assert resources is not None
    names = [n for n in resources.names() if n not in ("rss", "cpu", "threads", "fds")]
    if not names:
        return None
    data = []
    for index, name in enumerate(names):
        points = resources.series(name)
        color = _COLOR.get(name, _SERIES[index % len(_SERIES)])
        data.append(_line(name, [t for t, _ in points], [v for _, v in points], color))
    return {"data": data, "layout": _layout(RESOURCE_CHART_TITLES["connections"], "", sc.timeline)}


def resource_figures(sc: ScenarioResults) -> dict[str, Figure]:
    """The resource charts this scenario has data for, by key (``memory``, ``cpu``,
    ``connections``); none without ``resources:``."""
    if sc.resources is None:
        return {}
    made = {"memory": _memory(sc), "cpu": _cpu(sc), "connections": _connections(sc)}
    return {key: figure for key, figure in made.items() if figure is not None}
