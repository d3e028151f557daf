"""Routes: ``"POST /api/orders"`` or ``"/items/{id}"`` (any method)."""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import ConfigDict, field_validator

from slokit.spec._base import SpecModel, describe, suggest

__all__ = ["METHODS", "Route"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
STREAM_METHODS = ("SSE", "WS")
"""How a load test names what its stream steps open: ``SSE /events``, ``WS /ws``."""
_METHOD_LIST = ", ".join(METHODS)
_ROUTE_HELP = "expected '[METHOD] /path' such as 'POST /api/orders' or '/items/{id}'"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


@functools.lru_cache(maxsize=1024)
def _pattern(path: str) -> re.Pattern[str]:
    out, last = [], 0
    for match in _PARAM.finditer(path):
        out.append(re.escape(path[last : match.start()]))
        out.append(".+" if match.group(2) else "[^/]+")
        last = match.end()
    out.append(re.escape(path[last:]))
    return re.compile("".join(out) + r"\Z")


def _check_path(path: str) -> str | None:
    """What is wrong with a route template, or None."""
    if not path.startswith("/"):
        return f"the path {path!r} must start with '/'"
    rest = _PARAM.sub("", path)
    if "{" in rest or "}" in rest:
        return f"the path {path!r} has a malformed parameter; write {{name}} or {{name:path}}"
    names = [m.group(1) for m in _PARAM.finditer(path)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        # A framework refuses (or silently keeps one of) two parameters with one name.
        return (
            f"in {path!r} the parameter {{{repeated[0]}}} appears twice; give each parameter "
            "its own name"
        )
    tail = [m for m in _PARAM.finditer(path) if m.group(2)]
    if tail and (len(tail) > 1 or tail[0].end() != len(path)):
        return f"in {path!r} a {{name:path}} parameter may only end the path"
    return None


def _check_method(method: str) -> str | None:
    if method.upper() in METHODS or method.upper() in STREAM_METHODS or method == "*":
        return None
    hint = suggest(method.upper(), list(METHODS))
    extra = f" (did you mean '{hint}'?)" if hint else ""
    return (
        f"unknown method {method!r}; method must be one of {_METHOD_LIST} or * (SSE and WS "
        f"name a load test's streams){extra}"
    )


def _split(text: str) -> dict[str, str]:
    parts = text.split()
    if len(parts) == 1 and parts[0].startswith("/"):
        method, path = "*", parts[0]
    elif len(parts) == 2:
        method, path = parts
    else:
        raise ValueError(f"invalid route {text!r}; {_ROUTE_HELP}")
    problem = _check_method(method) or _check_path(path)
    if problem is not None:
        raise ValueError(f"invalid route {text!r}: {problem}")
    return {"method": method.upper(), "path": path}


def _string_schema(schema: dict[str, Any]) -> None:
    schema.clear()
    schema.update(
        type="string",
        pattern=r"^\s*(?:[A-Za-z]+\s+|\*\s+)?/\S*\s*$",
        description="A route: an HTTP method and a path template, or a path alone for any "
        "method, e.g. 'POST /api/orders', '/items/{id}', 'GET /files/{rest:path}'.",
    )


class Route(SpecModel):
    """An HTTP method and a path template; ``method`` is ``"*"`` for any method.

    Written in YAML as ``"POST /api/orders"`` or ``"/items/{id}"``; ``{name}`` matches one
    non-empty path segment, ``{name:path}`` (last only) the rest of the path.
    """

    model_config = ConfigDict(json_schema_extra=_string_schema)

    method: str
    path: str

    @classmethod
    def parse(cls, text: str) -> Route:
        """``"POST /api/orders"`` or ``"/api/orders"``; raises ValueError with the grammar."""
        return cls.model_validate(_split(text))

    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        if isinstance(data, str):
            return _split(data)
        if isinstance(data, dict | Route):
            return data
        raise ValueError(f"invalid route {describe(data)}; {_ROUTE_HELP}")

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        problem = _check_method(value)
        if problem is not None:
            raise ValueError(problem)
        return value.upper()

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        problem = _check_path(value)
        if problem is not None:
            raise ValueError(f"{problem}; {_ROUTE_HELP}")
        return value

    def matches(self, method: str, path: str) -> bool:
        """True when a request ``method path`` (no query string) falls under this route."""
        if self.method != "*" and self.method != method.upper():
            return False
        return _pattern(self.path).match(path.split("?", 1)[0]) is not None

    def __str__(self) -> str:
        return self.path if self.method == "*" else f"{self.method} {self.path}"
