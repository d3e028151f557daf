"""Templates and static files: Jinja2 with autoescaping, and assets served by the app itself.

plotly.js, the stylesheet and the page script are served from ``/static/NAME`` where NAME
carries the plotly version or a content hash, so browsers may keep them for a year
(``immutable``) and a new slokit never meets a stale copy. Each is gzipped once, on first
use, for clients that accept it. Nothing on any page is loaded from anywhere else.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from slokit import __version__
from slokit.dashboard._charts import p95_sparkline
from slokit.dashboard._format import FILTERS
from slokit.report import verdict_result

__all__ = ["Asset", "asset", "asset_urls", "render", "static"]

_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    gzipped: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


def _asset(stem: str, suffix: str, body: bytes, tag: str | None = None) -> Asset:
    tag = tag or hashlib.sha256(body).hexdigest()[:10]
    return Asset(f"{stem}-{tag}{suffix}", body, gzip.compress(body, 6, mtime=0), _MEDIA[suffix])


def _plotly_version() -> str:
    try:
        return metadata.version("plotly")
    except metadata.PackageNotFoundError:  # pragma: no cover - plotly is a dependency
        return "0"


@functools.cache
def _own(file: str) -> Asset:
    stem, _, suffix = file.rpartition(".")
    body = resources.files("slokit.dashboard").joinpath("_static", file).read_bytes()
    return _asset(stem, "." + suffix, body)


@functools.cache
def _plotly() -> Asset:
    from plotly.offline import get_plotlyjs

    return _asset("plotly", ".js", get_plotlyjs().encode(), _plotly_version())


def asset_urls() -> dict[str, str]:
    """What the templates link to: ``plotly``, ``css``, ``js``."""
    return {
        "plotly": f"/static/plotly-{_plotly_version()}.js",
        "css": "/static/" + _own("dashboard.css").name,
        "js": "/static/" + _own("dashboard.js").name,
    }


def asset(name: str) -> Asset | None:
    if name == f"plotly-{_plotly_version()}.js":
        return _plotly()
    for own in ("dashboard.css", "dashboard.js"):
        if name == _own(own).name:
            return _own(own)
    return None


def static(request: Request) -> Response:
    """``/static/NAME``: an asset, cached for a year; 304 for a matching ``If-None-Match``."""
    found = asset(request.path_params["name"])
    if found is None:
        return Response("no such file", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": _IMMUTABLE, "ETag": found.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, headers=headers, media_type=found.media_type)
    return Response(found.body, headers=headers, media_type=found.media_type)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        # report.html's tables (_tables.html) are shared with the run page.
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("slokit.dashboard", "_templates"),
                jinja2.PackageLoader("slokit.report", "_templates"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "allow_nan": False}
    env.filters.update(FILTERS)
    env.globals.update(
        version=__version__,
        verdict_result=verdict_result,
        p95_sparkline=p95_sparkline,
    )
    return env


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A page: ``template`` with ``context``, the app's globals and the asset URLs."""
    state = request.app.state
    page = (
        _environment()
        .get_template(template)
        .render(
            assets=asset_urls(),
            where=state.source.where,
            budget_on=state.budget is not None,
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-cache"})
