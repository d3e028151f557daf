"""The ``route`` label: a request's route template (``/items/{id}``), never its concrete path.

Starlette and FastAPI record the matched route in ``scope["route"]``; inside a mounted app that
is the inner route, whose path lacks the mount's prefix, so the full template is found once by
walking the router tree from ``scope["router"]`` and cached per route object. Apps that record
no route (plain ASGI apps) are labelled from the spec's route templates. Everything else folds
into :data:`UNMATCHED`, so a scan of random URLs cannot explode the metrics' cardinality.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from slokit.spec import Route

__all__ = ["UNMATCHED", "RouteLabels"]

UNMATCHED = "<unmatched>"
_MAX_DEPTH = 8
_MAX_PATHS = 4096


def _own_path(route: Any) -> str | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    if getattr(route, "routes", None) is not None and not hasattr(route, "endpoint"):
        return path.rstrip("/") + "/{path:path}"  # a Mount of something without routes
    return path


def _chains(routes: Sequence[Any], target: Any, prefix: str, depth: int) -> Iterator[str]:
    """Every full template under which ``target`` is reachable from ``routes``."""
    for route in routes:
        path = getattr(route, "path", "") or ""
        if route is target:
            own = _own_path(route)
            if own is not None:
                yield prefix + own
            continue
        children = getattr(route, "routes", None)
        if children and depth < _MAX_DEPTH:
            # A Mount adds its prefix; a Host adds none.
            yield from _chains(children, target, prefix + path.rstrip("/"), depth + 1)


def find_routes(app: Any) -> Sequence[Any] | None:
    """The top-level routes of a Starlette/FastAPI app, looking through wrapping middleware."""
    for _ in range(16):
        routes = getattr(app, "routes", None)
        if isinstance(routes, list):
            return routes
        app = getattr(app, "app", None) or getattr(app, "router", None)
        if app is None:
            return None
    return None


def _match(routes: Sequence[Any], scope: Any, prefix: str, depth: int) -> str | None:
    """The template the router would pick, for a request it never saw (refused by a guard)."""
    for route in routes:
        matches = getattr(route, "matches", None)
        if matches is None:
            continue
        try:
            match, child = matches(scope)
        except Exception:  # a route type with its own idea of scope: not ours to judge
            continue
        if getattr(match, "name", "") != "FULL":
            continue
        children = getattr(route, "routes", None)
        path = getattr(route, "path", "") or ""
        if children and depth < _MAX_DEPTH and not hasattr(route, "endpoint"):
            inner = _match(children, {**scope, **child}, prefix + path.rstrip("/"), depth + 1)
            return inner if inner is not None else prefix + (_own_path(route) or "")
        own = _own_path(route)
        return prefix + own if own is not None else None
    return None


class RouteLabels:
    """Maps a finished request's scope to its route label."""

    def __init__(self, templates: Sequence[Route] = (), app: Any = None) -> None:
        self._app = app
        self._routes: Sequence[Any] | None = None
        self._templates = tuple(dict.fromkeys(templates))
        self._by_path: dict[tuple[str, str], str] = {}
        self.cache: dict[int, str] = {}
        """id(route) -> label; the middleware reads it directly on its fast path."""
        # Routes are long-lived objects; keep them alive so an id() is never reused.
        self._keep: list[Any] = []

    def label(self, scope: Any) -> str:
        route = scope.get("route")
        if route is None:
            return self._fallback(scope)
        label = self.cache.get(id(route))
        if label is not None:
            return label
        return self._resolve(route, scope)

    def _resolve(self, route: Any, scope: Any) -> str:
        router = scope.get("router")
        top = getattr(router, "routes", None)
        found = list(dict.fromkeys(_chains(top, route, "", 0))) if top else []
        if len(found) == 1:
            label = found[0]
        elif found:
            # The same router mounted twice: the one whose static prefix this request has.
            path = scope.get("path", "")
            matching = [f for f in found if path.startswith(f.split("{", 1)[0])]
            return max(matching, key=len) if matching else found[0]
        else:
            label = _own_path(route) or UNMATCHED
        self.cache[id(route)] = label
        self._keep.append(route)
        return label

    def _fallback(self, scope: Any) -> str:
        # Apps that record no route are matched by hand; remember answers per path, within
        # bounds, since a scan of random URLs must not grow memory without end.
        key = (scope.get("method", "GET"), scope.get("path", ""))
        label = self._by_path.get(key)
        if label is None:
            label = self._match_by_hand(scope)
            if len(self._by_path) >= _MAX_PATHS:
                self._by_path.clear()
            self._by_path[key] = label
        return label

    def _match_by_hand(self, scope: Any) -> str:
        if self._routes is None and self._app is not None:
            self._routes = find_routes(self._app) or ()
        if self._routes:
            # The router may have rewritten root_path on its way down: match a clean copy.
            clean = {
                "type": "http",
                "method": scope.get("method", "GET"),
                "path": scope.get("path", ""),
                "root_path": scope.get("app_root_path", scope.get("root_path", "")),
            }
            found = _match(self._routes, clean, "", 0)
            if found is not None:
                return found
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        for template in self._templates:
            if template.matches(method, path):
                return template.path
        return UNMATCHED
