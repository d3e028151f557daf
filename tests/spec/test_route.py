"""Routes: parsing ``"POST /api/orders"`` and matching requests against templates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slokit.spec import Route


@pytest.mark.parametrize(
    ("text", "method", "path", "shown"),
    [
        ("POST /api/orders", "POST", "/api/orders", "POST /api/orders"),
        ("post /api/orders", "POST", "/api/orders", "POST /api/orders"),
        ("/api/orders", "*", "/api/orders", "/api/orders"),
        ("* /api/orders", "*", "/api/orders", "/api/orders"),
        ("  GET   /items/{id}  ", "GET", "/items/{id}", "GET /items/{id}"),
        ("DELETE /files/{rest:path}", "DELETE", "/files/{rest:path}", "DELETE /files/{rest:path}"),
        ("OPTIONS /", "OPTIONS", "/", "OPTIONS /"),
    ],
)
def test_route_parses(text: str, method: str, path: str, shown: str) -> None:
    route = Route.model_validate(text)
    assert (route.method, route.path, str(route)) == (method, path, shown)
    assert Route.parse(text) == route


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("POSTT /x", "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or *"),
        ("FETCH /x", "unknown method 'FETCH'"),
        ("GET x", "must start with '/'"),
        ("GET", "expected '[METHOD] /path'"),
        ("GET /x /y", "expected '[METHOD] /path'"),
        ("", "expected '[METHOD] /path'"),
        ("GET /items/{id", "malformed parameter"),
        ("GET /items/{1x}", "malformed parameter"),
        ("GET /files/{rest:path}/x", "may only end the path"),
    ],
)
def test_route_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("*", r"\*").replace("[", r"\[")):
        Route.model_validate(text)


def test_route_parse_raises_value_error_with_the_grammar() -> None:
    with pytest.raises(ValueError, match="expected"):
        Route.parse("nonsense here too")


def test_route_rejects_non_strings() -> None:
    with pytest.raises(ValidationError, match="invalid route 42"):
        Route.model_validate(42)


def test_route_from_mapping_and_keywords() -> None:
    assert Route(method="get", path="/x") == Route.model_validate("GET /x")
    assert Route.model_validate({"method": "*", "path": "/x"}) == Route.model_validate("/x")
    with pytest.raises(ValidationError, match="unknown method 'FETCH'"):
        Route(method="FETCH", path="/x")


@pytest.mark.parametrize(
    ("route", "method", "path", "expected"),
    [
        ("GET /items/{id}", "GET", "/items/5", True),
        ("GET /items/{id}", "get", "/items/5", True),
        ("GET /items/{id}", "POST", "/items/5", False),
        ("GET /items/{id}", "GET", "/items/", False),
        ("GET /items/{id}", "GET", "/items/5/parts", False),
        ("GET /items/{id}", "GET", "/items/5?full=1", True),
        ("GET /items/{id}/parts/{part}", "GET", "/items/5/parts/a", True),
        ("/api/orders", "DELETE", "/api/orders", True),
        ("/api/orders", "GET", "/api/orders/", False),
        ("/api/orders", "GET", "/api/ordersX", False),
        ("GET /files/{rest:path}", "GET", "/files/a/b/c.txt", True),
        ("GET /files/{rest:path}", "GET", "/files/", False),
        ("GET /a.b", "GET", "/aXb", False),
        ("GET /a+b", "GET", "/a+b", True),
    ],
)
def test_route_matches(route: str, method: str, path: str, expected: bool) -> None:
    assert Route.model_validate(route).matches(method, path) is expected


def test_routes_are_frozen_and_hashable() -> None:
    route = Route.model_validate("GET /x")
    assert {route: 1}[Route.model_validate("get /x")] == 1
    with pytest.raises(ValidationError, match="frozen"):
        route.method = "POST"
