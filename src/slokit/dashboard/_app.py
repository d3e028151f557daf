"""``create_app``: the dashboard as a Starlette application over one run store."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slokit.dashboard._api import (
    api_budget,
    api_compare,
    api_overview,
    api_run,
    api_runs,
    api_trends,
)
from slokit.dashboard._budget import Budget
from slokit.dashboard._drills import api_drills, drill_page
from slokit.dashboard._pages import (
    compare_page,
    overview_page,
    results_json,
    run_page,
    trends_page,
)
from slokit.dashboard._render import render, static
from slokit.dashboard._security import LOOPBACK_NAMES, SecurityHeaders
from slokit.dashboard._source import Source
from slokit.errors import StoreError, UsageError
from slokit.spec import load_spec

__all__ = ["create_app"]


def _error(request: Request, status: int, title: str, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", status_code=status, title=title, message=message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":  # no route matched
        message = f"there is no page at {request.url.path}"
    else:
        message = str(exc.detail)
    titles = {404: "Not found", 400: "Bad request", 405: "Method not allowed"}
    return _error(request, exc.status_code, titles.get(exc.status_code, "Error"), message)


async def _store_error(request: Request, exc: Exception) -> Response:
    return _error(request, 503, "Run store unavailable", str(exc))


def _check_prometheus(url: str) -> None:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"--prometheus {url!r}: expected the Prometheus server's base URL, such as "
            "http://127.0.0.1:9090"
        )


def _budget(prometheus: str | None, spec: Path | None) -> Budget | None:
    if prometheus is None:
        return None
    _check_prometheus(prometheus)
    if spec is None:
        raise UsageError(
            "--prometheus needs the spec whose SLOs to report: give --spec slokit.yaml too"
        )
    return Budget(load_spec(spec), prometheus)


_ROUTES = [
    Route("/", overview_page),
    Route("/services/{rest:path}", trends_page),
    Route("/runs/{ref}", run_page),
    Route("/runs/{ref}/results.json", results_json),
    Route("/compare", compare_page),
    Route("/drills/{name}", drill_page),
    Route("/api/drills", api_drills),
    Route("/api/drills/{name}", api_drills),
    Route("/static/{name}", static),
    Route("/api/runs", api_runs),
    Route("/api/runs/{ref}", api_run),
    Route("/api/overview", api_overview),
    Route("/api/services/{rest:path}", api_trends),
    Route("/api/compare", api_compare),
    Route("/api/budget", api_budget),
]


def create_app(
    store_url: str | None,
    *,
    project_dir: Path,
    prometheus: str | None = None,
    spec: Path | None = None,
    trusted_hosts: Iterable[str] | None = LOOPBACK_NAMES,
) -> Starlette:
    """The dashboard over the run store at ``store_url`` (as :func:`slokit.store.open_store`
    reads it: None is ``$SLOKIT_STORE``, else ``PROJECT_DIR/.slokit/runs.db``).

    With ``prometheus`` (a base URL) and ``spec`` (the spec file), the overview shows the
    error budget of each of the spec's SLOs from that Prometheus. Only requests addressed
    to ``trusted_hosts`` (and loopback addresses) are answered; None answers any ``Host``.

    Raises :class:`~slokit.errors.StoreError` when the store cannot be opened (a SQLite
    file that does not exist yet is fine: the pages say how to record runs),
    :class:`~slokit.errors.SpecError` for an invalid spec and
    :class:`~slokit.errors.UsageError` for options that do not fit together.
    """
    budget = _budget(prometheus, spec)
    source = Source(store_url, project_dir=project_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            source.close()

    app = Starlette(
        routes=_ROUTES,
        middleware=[Middleware(SecurityHeaders, trusted=trusted_hosts)],
        exception_handlers={HTTPException: _http_error, StoreError: _store_error},
        lifespan=lifespan,
    )
    app.state.source = source
    app.state.budget = budget
    return app
