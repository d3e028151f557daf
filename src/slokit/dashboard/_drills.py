"""The dashboard's drills: the last drill of each name on the overview, and one drill's
history (RTO, RPO and time to detect per drill, as a chart and a table) on its own page.

The chart has one point per recorded drill, oldest to newest, and the gates of the newest
drill on RTO and RPO as dashed lines, so a drill that got slower shows against its target.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from slokit.dashboard._render import render
from slokit.dashboard._source import Source
from slokit.report import chart_layout, plotly_config
from slokit.spec import parse_duration
from slokit.store import DrillRecord

__all__ = ["DrillCard", "api_drills", "drill_cards", "drill_page", "drill_trend"]

_HISTORY = 100


@dataclass(frozen=True)
class DrillCard:
    last: DrillRecord
    count: int


def _source(request: Request) -> Source:
    source: Source = request.app.state.source
    return source


def drill_cards(source: Source) -> list[DrillCard]:
    """The newest drill of every name, newest first."""
    drills = source.drills(limit=1000)
    cards: dict[str, DrillCard] = {}
    for record in drills:
        card = cards.get(record.name)
        cards[record.name] = DrillCard(
            card.last if card else record, (card.count if card else 0) + 1
        )
    return list(cards.values())


def _gate_line(records: list[DrillRecord], metric: str) -> float | None:
    for gate in records[-1].journal.get("gates", []):
        text = str(gate.get("gate", ""))
        parts = text.split()
        if len(parts) == 3 and parts[0] == metric and parts[1] in ("<", "<="):
            try:
                return parse_duration(parts[2])
            except ValueError:
                return None
    return None


def drill_trend(records: list[DrillRecord]) -> dict[str, Any]:
    """RTO, RPO and time to detect per drill (oldest first), with the newest gates."""
    x = [r.started.isoformat() for r in records]
    ids = [r.id for r in records]
    traces: list[dict[str, Any]] = []
    for key, label, color in (("rto_s", "RTO", "#dc2626"), ("rpo_s", "RPO", "#2563eb"),
                              ("ttd_s", "time to detect", "#d97706")):  # fmt: skip
        y = [getattr(r, key) for r in records]
        if all(v is None for v in y):
            continue
        traces.append({"type": "scatter", "mode": "lines+markers", "name": label, "x": x, "y": y,
                       "customdata": ids, "line": {"color": color}})  # fmt: skip
    for metric, label in (("rto", "RTO gate"), ("rpo", "RPO gate")):
        line = _gate_line(records, metric)
        if line is not None:
            traces.append({"type": "scatter", "mode": "lines", "name": html.escape(label),
                           "x": [x[0], x[-1]], "y": [line, line], "hoverinfo": "name+y",
                           "line": {"dash": "dash", "color": "#6b7280"}})  # fmt: skip
    layout = chart_layout("RTO, RPO and time to detect per drill", "seconds")
    layout["xaxis"] = {"title": {"text": "drill started"}, "type": "date"}
    return {"data": traces, "layout": layout}


def _records(request: Request) -> list[DrillRecord]:
    name = request.path_params["name"]
    found = _source(request).drills(name=name, limit=_HISTORY)
    if not found:
        raise HTTPException(404, f"no recorded drill named {name!r}")
    return found


def drill_page(request: Request) -> Response:
    records = _records(request)
    oldest_first = list(reversed(records))
    return render(
        request,
        "drill.html",
        name=records[0].name,
        records=records,
        charts=[("drill-trend", drill_trend(oldest_first))],
        config=plotly_config(),
    )


def api_drills(request: Request) -> Response:
    """``/api/drills``: the last drill of each name; ``/api/drills/NAME``: its history."""
    name = request.path_params.get("name")
    if name is None:
        rows = [_row(c.last) | {"drills": c.count} for c in drill_cards(_source(request))]
    else:
        rows = [_row(r) for r in _records(request)]
    return JSONResponse({"drills": rows})


def _row(record: DrillRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "title": record.title,
        "started": record.started.isoformat(),
        "status": record.status,
        "exit_code": record.exit_code,
        "rto_s": record.rto_s,
        "rpo_s": record.rpo_s,
        "ttd_s": record.ttd_s,
        "lost_writes": record.lost_writes,
        "git_commit": record.git_commit,
    }
