"""Default request names: ``METHOD /path``, folded onto SLO route templates.

A journey that requests ``/items/1``, ``/items/2`` ... must not create one result row per
id. When an SLO route template such as ``GET /items/{id}`` matches, the request is named by
the template; past :data:`MAX_NAMES` distinct names, further ones fold into one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from slokit.spec import Route

__all__ = ["MAX_NAMES", "NameFolder", "request_name"]

MAX_NAMES = 500


def request_name(explicit: str | None, method: str, path: str, routes: Sequence[Route]) -> str:
    if explicit:
        return explicit
    bare = path.split("?", 1)[0]
    match_path = urlsplit(bare).path or "/" if bare.startswith(("http://", "https://")) else bare
    for route in routes:
        if "{" in route.path and route.matches(method, match_path):
            return f"{method} {route.path}"
    return f"{method} {bare}"


class NameFolder:
    """Bounds the number of distinct default names a Python journey can create."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes = tuple(routes)
        self._cache: dict[tuple[str, str], str] = {}

    def name(self, method: str, path: str) -> str:
        key = (method, path)
        name = self._cache.get(key)
        if name is None:
            name = request_name(None, method, path, self._routes)
            if len(self._cache) >= MAX_NAMES:
                name = f"{method} (other paths)"
            else:
                self._cache[key] = name
        return name
