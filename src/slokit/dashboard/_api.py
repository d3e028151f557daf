"""The JSON mirror of the pages, for scripts and tests: ``/api/...``.

``/api/runs`` (``?service=&scenario=&label=&limit=``), ``/api/runs/ID`` (a run with its
verdicts and requests), ``/api/overview``, ``/api/services/SERVICE/SCENARIO``,
``/api/compare?a=ID&b=ID`` and ``/api/budget``. Errors are ``{"error": "..."}`` with the
page's status code.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from slokit.dashboard._data import overview, scenario_runs
from slokit.dashboard._pages import source_of, trends_target
from slokit.store import compare

__all__ = ["api_budget", "api_compare", "api_overview", "api_run", "api_runs", "api_trends"]

_MAX_LIMIT = 1000


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "50")
    if not text.isdigit() or not 1 <= int(text) <= _MAX_LIMIT:
        raise HTTPException(400, f"limit must be a whole number from 1 to {_MAX_LIMIT}")
    return int(text)


def api_runs(request: Request) -> Response:
    q = request.query_params
    runs = source_of(request).runs(
        service=q.get("service"),
        scenario=q.get("scenario"),
        label=q.get("label"),
        limit=_limit(request),
    )
    return JSONResponse([r.to_dict() for r in runs])


def api_run(request: Request) -> Response:
    source = source_of(request)
    record = source.record(source.resolve(request.path_params["ref"]))
    return JSONResponse(record.to_dict())


def api_overview(request: Request) -> Response:
    groups = overview(source_of(request))
    return JSONResponse(
        {
            "services": [
                {"service": g.name, "scenarios": [c.to_dict() for c in g.cards]} for g in groups
            ]
        }
    )


def api_trends(request: Request) -> Response:
    service, scenario = trends_target(request)
    runs = scenario_runs(source_of(request), service, scenario)
    if not runs:
        raise HTTPException(404, f"no recorded runs of scenario {scenario!r} of {service!r}")
    return JSONResponse(
        {"service": service, "scenario": scenario, "runs": [r.to_dict() for r in runs]}
    )


def api_compare(request: Request) -> Response:
    source = source_of(request)
    a, b = request.query_params.get("a"), request.query_params.get("b")
    if not a or not b:
        raise HTTPException(400, "give the two runs: /api/compare?a=BASE&b=NEW")
    base = source.record(source.resolve(a))
    new = source.record(source.resolve(b))
    data = {"base": base.id, "new": new.id}
    data.update(compare(base.results(), new.results()).to_dict())
    return JSONResponse(data)


def api_budget(request: Request) -> Response:
    budget = request.app.state.budget
    if budget is None:
        raise HTTPException(
            404, "no error budget: start the dashboard with --prometheus URL --spec SPEC"
        )
    state = budget.state()
    return JSONResponse(state.to_dict(), status_code=200 if state.error is None else 502)
