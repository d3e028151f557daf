"""The HTML pages: overview, trends of one scenario, one run, two runs compared.

Endpoints are plain functions (Starlette runs them in its thread pool, where the store's
blocking queries belong). A run or scenario that is not there is a 404 page; a store that
fails is a 503 page (both from the app's exception handlers).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from slokit.dashboard._charts import capacity_trend, cost_trend, trend_figures
from slokit.dashboard._data import overview, scenario_runs
from slokit.dashboard._drills import drill_cards
from slokit.dashboard._render import render
from slokit.dashboard._source import Source
from slokit.report import (
    STREAM_HEADERS,
    capacity_rows,
    capacity_summary,
    cost_lines,
    drift_rows,
    generator_line,
    generator_note,
    plotly_config,
    resource_rows,
    scenario_figures,
    spike_lines,
    stream_rows,
    worker_lines,
)
from slokit.store import RunRecord, compare

__all__ = [
    "compare_page",
    "overview_page",
    "results_json",
    "run_page",
    "trends_page",
    "trends_target",
]

_CHART_ORDER = ("latency", "throughput", "errors", "distribution")


def source_of(request: Request) -> Source:
    source: Source = request.app.state.source
    return source


def overview_page(request: Request) -> Response:
    source = source_of(request)
    groups = overview(source)
    budget = request.app.state.budget
    return render(
        request,
        "overview.html",
        groups=groups,
        drills=drill_cards(source),
        budget=budget.state() if budget is not None else None,
    )


def trends_target(request: Request) -> tuple[str, str]:
    """(service, scenario) from ``/services/SERVICE/SCENARIO``, each one percent-encoded
    path segment (so names may hold ``/``); 404 for any other shape."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    parts = raw.decode("latin-1").split("?", 1)[0].split("/")
    if len(parts) != 4 or not parts[2] or not parts[3]:
        raise HTTPException(404, "a trends page is /services/SERVICE/SCENARIO")
    return unquote(parts[2]), unquote(parts[3])


def trends_page(request: Request) -> Response:
    service, scenario = trends_target(request)
    runs = scenario_runs(source_of(request), service, scenario)
    if not runs:
        raise HTTPException(404, f"no recorded runs of scenario {scenario!r} of {service!r}")
    oldest_first = list(reversed(runs))
    figures = trend_figures(oldest_first)
    source = source_of(request)
    if source.capacity(runs[0].run, scenario) is not None:
        rates = [source.capacity(r.run, scenario) for r in oldest_first]
        figures["capacity"] = capacity_trend(oldest_first, rates)
    if any(source.cost(r.run, scenario) is not None for r in runs):
        figures["cost"] = cost_trend(
            oldest_first, [source.cost(r.run, scenario) for r in oldest_first]
        )
    charts = [(f"trend-{key}", figure) for key, figure in figures.items()]
    return render(
        request,
        "trends.html",
        service=service,
        scenario=scenario,
        runs=runs,
        charts=charts,
        config=plotly_config(),
    )


def _run_id(request: Request) -> int | Response:
    """The run id of ``/runs/REF...``; a redirect to the numbered URL for ``last`` & co."""
    ref = request.path_params["ref"]
    run_id = source_of(request).resolve(ref)
    if ref != str(run_id):
        target = request.url.path.replace(f"/runs/{ref}", f"/runs/{run_id}", 1)
        return RedirectResponse(target, status_code=307)
    return run_id


def _previous(source: Source, record: RunRecord) -> int | None:
    """The newest earlier run of the same service and scenarios, for a compare link."""
    store = source.store
    if store is None:
        return None
    runs = store.list(record.service, scenarios=record.scenarios, limit=200)
    return next((r.id for r in runs if r.id < record.id), None)


def run_page(request: Request) -> Response:
    found = _run_id(request)
    if isinstance(found, Response):
        return found
    source = source_of(request)
    record = source.record(found)
    results = record.results()
    sections: list[dict[str, Any]] = []
    for index, sc in enumerate(results.scenarios):
        figures = scenario_figures(sc)
        sections.append(
            {
                "sc": sc,
                "resources": resource_rows(sc),
                "streams": stream_rows(sc),
                "drift": drift_rows(sc),
                "spike": spike_lines(sc),
                "workers": worker_lines(sc),
                "generator": generator_line(sc),
                "saturated": generator_note(sc),
                "capacity": capacity_rows(sc),
                "capacity_summary": capacity_summary(sc.capacity) if sc.capacity else [],
                "cost": cost_lines(sc),
                "charts": [
                    (f"figure-{index}-{k}", figures[k])
                    for k in (*_CHART_ORDER, *(k for k in figures if k not in _CHART_ORDER))
                ],
            }
        )
    return render(
        request,
        "run.html",
        record=record,
        sections=sections,
        previous=_previous(source, record),
        config=plotly_config(),
        stream_headers=STREAM_HEADERS,
    )


def results_json(request: Request) -> Response:
    """The run's results.json, exactly as the run wrote it, as a download."""
    found = _run_id(request)
    if isinstance(found, Response):
        return found
    record = source_of(request).record(found)
    return JSONResponse(
        record.document,
        headers={"Content-Disposition": f'attachment; filename="run-{record.id}-results.json"'},
    )


def compare_page(request: Request) -> Response:
    source = source_of(request)
    a, b = request.query_params.get("a", "").strip(), request.query_params.get("b", "").strip()
    recent = source.runs(limit=100)
    if not a or not b:
        return render(request, "compare.html", base=None, new=None, recent=recent, a=a, b=b)
    base = source.record(source.resolve(a))
    new = source.record(source.resolve(b))
    comparison = compare(base.results(), new.results())
    return render(
        request,
        "compare.html",
        base=base,
        new=new,
        comparison=comparison,
        recent=recent,
        a=str(base.id),
        b=str(new.id),
    )
