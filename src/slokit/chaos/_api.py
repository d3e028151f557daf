"""The Toxiproxy v2 HTTP API over a :class:`FaultProxy`, as a Starlette app.

Routes, bodies, status codes and error texts are Toxiproxy's, so its clients and curl habits
work unchanged: 201 for a created proxy or a populate, 200 for a created toxic (Toxiproxy
answers 200 there too), 204 for deletes and reset, and ``{"error": ..., "status": ...}`` for
every refusal. As Toxiproxy, requests from browsers (a ``Mozilla/`` user agent) are refused,
so a web page cannot reconfigure the proxies through the visitor's loopback.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from slokit import __version__
from slokit.chaos._fault_proxy import FaultProxy
from slokit.chaos._model import bad_body, proxy_from_json, toxic_from_json, toxic_update_from_json
from slokit.errors import ProxyError

__all__ = ["create_app"]

Endpoint = Callable[[Request], Awaitable[Response]]


def _refusals(endpoint: Endpoint) -> Endpoint:
    """Answer a :class:`ProxyError` the way Toxiproxy answers its API errors."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ProxyError as exc:
            status = exc.status or 500
            return JSONResponse({"error": exc.error, "status": status}, status_code=status)

    return answer


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise bad_body(str(exc), "send a JSON object") from None


class _Handlers:
    def __init__(self, fault_proxy: FaultProxy) -> None:
        self.fp = fault_proxy
        self._registry: Any = None

    async def list_proxies(self, request: Request) -> Response:
        return JSONResponse({p.name: p.to_json() for p in self.fp.proxies()})

    async def create_proxy(self, request: Request) -> Response:
        config = proxy_from_json(await _body(request))
        created = await self.fp.add_proxy(
            config.name, config.upstream, listen=config.listen, enabled=config.enabled
        )
        return JSONResponse(created.to_json(), status_code=201)

    async def populate(self, request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, list):
            raise bad_body("expected a JSON list of proxies")
        configs = [proxy_from_json(item, where=f" at proxy {i}") for i, item in enumerate(body, 1)]
        proxies = await self.fp.populate(configs)
        return JSONResponse({"proxies": [p.to_json() for p in proxies]}, status_code=201)

    async def show_proxy(self, request: Request) -> Response:
        return JSONResponse(self.fp.proxy(request.path_params["proxy"]).to_json())

    async def update_proxy(self, request: Request) -> Response:
        name = request.path_params["proxy"]
        new = proxy_from_json(await _body(request), defaults=self.fp.proxy(name))
        updated = await self.fp.update_proxy(
            name, listen=new.listen, upstream=new.upstream, enabled=new.enabled
        )
        return JSONResponse(updated.to_json())

    async def delete_proxy(self, request: Request) -> Response:
        await self.fp.remove_proxy(request.path_params["proxy"])
        return Response(status_code=204)

    async def list_toxics(self, request: Request) -> Response:
        toxics = self.fp.toxics(request.path_params["proxy"])
        return JSONResponse([t.to_json() for t in toxics])

    async def create_toxic(self, request: Request) -> Response:
        name = request.path_params["proxy"]
        self.fp.proxy(name)  # 404 for an unknown proxy before 400 for its body, as Toxiproxy
        toxic = await self.fp.add_toxic(name, toxic_from_json(await _body(request)))
        return JSONResponse(toxic.to_json())

    async def show_toxic(self, request: Request) -> Response:
        params = request.path_params
        return JSONResponse(self.fp.toxic(params["proxy"], params["toxic"]).to_json())

    async def update_toxic(self, request: Request) -> Response:
        proxy, name = request.path_params["proxy"], request.path_params["toxic"]
        new = toxic_update_from_json(self.fp.toxic(proxy, name), await _body(request))
        updated = await self.fp.update_toxic(proxy, name, new.attributes, toxicity=new.toxicity)
        return JSONResponse(updated.to_json())

    async def delete_toxic(self, request: Request) -> Response:
        await self.fp.remove_toxic(request.path_params["proxy"], request.path_params["toxic"])
        return Response(status_code=204)

    async def reset(self, request: Request) -> Response:
        await self.fp.reset()
        return Response(status_code=204)

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": __version__})

    async def metrics(self, request: Request) -> Response:
        try:
            from slokit.chaos._proxy_metrics import CONTENT_TYPE, registry, render
        except ImportError:
            return PlainTextResponse(
                "metrics need prometheus-client: pip install 'slokit[chaos]'\n", status_code=501
            )
        if self._registry is None:
            self._registry = registry(self.fp)
        return Response(render(self._registry), media_type=CONTENT_TYPE)


class _NoBrowsers:
    """Toxiproxy's guard: 403 for browser user agents (cross-site requests to loopback)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            agent = dict(scope["headers"]).get(b"user-agent", b"")
            if agent.startswith(b"Mozilla/"):
                response = PlainTextResponse("User agent not allowed\n", status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(fault_proxy: FaultProxy) -> ASGIApp:
    """The control API of ``fault_proxy``."""
    h = _Handlers(fault_proxy)
    table: list[tuple[str, Endpoint, list[str]]] = [
        ("/proxies", h.list_proxies, ["GET"]),
        ("/proxies", h.create_proxy, ["POST"]),
        ("/populate", h.populate, ["POST"]),
        ("/reset", h.reset, ["POST"]),
        ("/version", h.version, ["GET"]),
        ("/metrics", h.metrics, ["GET"]),
        ("/proxies/{proxy}", h.show_proxy, ["GET"]),
        ("/proxies/{proxy}", h.update_proxy, ["POST", "PATCH"]),
        ("/proxies/{proxy}", h.delete_proxy, ["DELETE"]),
        ("/proxies/{proxy}/toxics", h.list_toxics, ["GET"]),
        ("/proxies/{proxy}/toxics", h.create_toxic, ["POST"]),
        ("/proxies/{proxy}/toxics/{toxic}", h.show_toxic, ["GET"]),
        ("/proxies/{proxy}/toxics/{toxic}", h.update_toxic, ["POST", "PATCH"]),
        ("/proxies/{proxy}/toxics/{toxic}", h.delete_toxic, ["DELETE"]),
    ]
    routes = [
        Route(path, _refusals(endpoint), methods=methods) for path, endpoint, methods in table
    ]
    return _NoBrowsers(Starlette(routes=routes))
