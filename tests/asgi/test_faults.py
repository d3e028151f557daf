"""HTTP fault injection (chaos experiments) on real services over real HTTP.

Most tests share one instrumented FastAPI service under uvicorn (``faults=True``, the token
from ``$SLOKIT_FAULT_TOKEN``); each test clears its faults when it ends. ``FaultMiddleware``
alone runs under uvicorn in a thread of this process.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from slokit.asgi import FaultMiddleware, instrument
from slokit.errors import UsageError
from tests._support import UvicornApp, free_port
from tests.asgi._service import metric, service

TOKEN = "chaos-test-Zq81-x7Kp"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UvicornApp, Path]]:
    tmp = tmp_path_factory.mktemp("faults")
    log = tmp / "access.log"
    env = {"SLOKIT_FAULT_TOKEN": TOKEN}
    with service(tmp, env=env, faults=True, fault_seed=7, access_log_file=str(log)) as srv:
        yield srv, log


@pytest.fixture
def http(faulty: tuple[UvicornApp, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=faulty[0].url, timeout=10) as client:
        try:
            yield client
        finally:
            client.delete("/ops/faults", headers=AUTH)  # no test leaves a fault behind


def add(client: httpx.Client, **fault: Any) -> dict[str, Any]:
    response = client.post("/ops/faults", json=fault, headers=AUTH)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/ops/faults/{document['id']}"
    return document


def active(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/ops/faults", headers=AUTH)
    assert response.status_code == 200
    faults: list[dict[str, Any]] = response.json()["faults"]
    return faults


# Off by default, and the token --------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "env"),
    [
        ({}, {"SLOKIT_FAULT_TOKEN": TOKEN}),  # a token in the environment does not switch it on
        ({"faults": True}, {"SLOKIT_FAULT_TOKEN": ""}),  # faults=True without any token
    ],
    ids=["default", "no-token"],
)
def test_off_the_endpoint_does_not_exist(
    tmp_path: Path, options: dict[str, Any], env: dict[str, str]
) -> None:
    with service(tmp_path, env=env, access_log=False, **options) as srv:
        unknown = httpx.get(srv.url + "/no/such/path")
        for method in ("GET", "POST", "DELETE"):
            response = httpx.request(
                method, srv.url + "/ops/faults", headers=AUTH, json={"abort": 503}
            )
            assert response.status_code == 404
            assert response.content == unknown.content  # the application's own 404
            assert "www-authenticate" not in response.headers
        assert httpx.get(srv.url + "/items/1").status_code == 200


def test_token_required(http: httpx.Client) -> None:
    wrong = [
        {},
        {"Authorization": "Bearer not-the-token-at-all"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ]
    before = http.get("/ops/faults", headers=wrong[0])
    fault = add(http, route="GET /items/{item_id}", abort=503)
    for headers in wrong:
        for method, path in [("GET", ""), ("POST", ""), ("DELETE", ""), ("DELETE", "/x")]:
            response = http.request(method, "/ops/faults" + path, headers=headers, json={})
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.content == before.content  # says nothing about what is active
        response = http.delete(f"/ops/faults/{fault['id']}", headers=headers)
        assert response.status_code == 401
    assert [f["id"] for f in active(http)] == [fault["id"]]  # nothing was removed
    lower = {"Authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive
    assert http.get("/ops/faults", headers=lower).status_code == 200


def test_weak_or_misplaced_tokens_are_refused_at_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLOKIT_FAULT_TOKEN", raising=False)
    for weak, why in [
        ("short-token", "at least 16"),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", "different characters"),
        ("has a space in it, sadly", "without spaces"),
    ]:
        with pytest.raises(UsageError, match=why) as caught:
            instrument(FastAPI(), faults=True, fault_token=weak)
        assert weak not in str(caught.value)
        with pytest.raises(UsageError, match=why):
            FaultMiddleware(FastAPI(), token=weak)
    with pytest.raises(UsageError, match="faults=True"):
        instrument(FastAPI(), fault_token=TOKEN)
    monkeypatch.setenv("SLOKIT_FAULT_TOKEN", "weak")
    with pytest.raises(UsageError, match="SLOKIT_FAULT_TOKEN"):
        instrument(FastAPI(), faults=True)
    with pytest.raises(UsageError, match="SLOKIT_FAULT_TOKEN"):
        FaultMiddleware(FastAPI())
    monkeypatch.setenv("SLOKIT_FAULT_TOKEN", TOKEN)
    assert FaultMiddleware(FastAPI(), registry=CollectorRegistry()).enabled
    monkeypatch.delenv("SLOKIT_FAULT_TOKEN")
    assert not FaultMiddleware(FastAPI()).enabled


# Injection ----------------------------------------------------------------------------------


def test_abort_every_matching_request_and_no_other(http: httpx.Client) -> None:
    fault = add(http, route="GET /items/{item_id}", abort=503)
    assert fault["share"] == 1.0
    assert (fault["abort"], fault["route"], fault["delay"]) == (503, "GET /items/{item_id}", None)
    for i in range(5):
        response = http.get(f"/items/{i}")
        assert response.status_code == 503
        assert response.json() == {"detail": "fault injected by slokit", "fault": fault["id"]}
        assert response.headers["x-slokit-fault"] == fault["id"]
        assert response.headers["x-request-id"]  # still answered through the whole stack
    for path in ["/api/things/1", "/v1/users/ann", "/slow?ms=1", "/status/201"]:
        response = http.get(path)
        assert response.status_code < 300, path
        assert "x-slokit-fault" not in response.headers
    one = http.get(f"/ops/faults/{fault['id']}", headers=AUTH).json()
    assert one["injected"] == 5


def test_route_templates_in_mounts_routers_and_exact_paths(http: httpx.Client) -> None:
    add(http, route="/v1/users/{name}", abort=502)  # parameter names need not agree
    add(http, route="GET /api/things/{thing_id}", abort=504)
    add(http, route="GET /items/special", abort=418)
    assert http.get("/v1/users/ann").status_code == 502
    assert http.get("/api/things/x").status_code == 504
    assert http.get("/items/special").status_code == 418
    assert http.get("/items/other").status_code == 200
    assert http.get("/api/things").status_code == 404  # not the template: the app's 404


def test_method_matching(http: httpx.Client) -> None:
    add(http, route="POST /items/{item_id}", abort=503)
    add(http, route="POST /upload", abort=507)
    assert http.get("/items/1").status_code == 200
    assert http.post("/upload", content=b"abc").status_code == 507
    assert http.put("/upload", content=b"abc").status_code == 405  # the app's answer


def test_share_draws_about_half(http: httpx.Client) -> None:
    fault = add(http, route="GET /items/{item_id}", abort=503, share="50%")
    assert fault["share"] == 0.5
    statuses = [http.get(f"/items/{i}").status_code for i in range(400)]
    aborted = statuses.count(503)
    assert statuses.count(200) + aborted == 400
    assert 140 <= aborted <= 260
    assert http.get(f"/ops/faults/{fault['id']}", headers=AUTH).json()["injected"] == aborted


def test_delay_adds_at_least_the_delay(http: httpx.Client) -> None:
    fault = add(http, route="GET /slow", delay="300ms")
    assert fault["delay"] == 0.3
    started = time.monotonic()
    response = http.get("/slow?ms=1")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert response.json() == {"slept_ms": 1}
    assert response.headers["x-slokit-fault"] == fault["id"]
    both = add(http, route="GET /items/{item_id}", delay=0.2, abort=500)
    started = time.monotonic()
    response = http.get("/items/1")
    assert time.monotonic() - started >= 0.2
    assert (response.status_code, response.json()["fault"]) == (500, both["id"])


def test_duration_expires(http: httpx.Client) -> None:
    fault = add(http, route="GET /items/{item_id}", abort=503, duration="500ms")
    assert fault["duration"] == 0.5
    assert 0 < fault["expires_in"] <= 0.5
    assert http.get("/items/1").status_code == 503
    deadline = time.monotonic() + 5
    while http.get("/items/1").status_code == 503:
        assert time.monotonic() < deadline, "the fault did not expire"
        time.sleep(0.05)
    assert active(http) == []
    assert http.get(f"/ops/faults/{fault['id']}", headers=AUTH).status_code == 404


def test_delete_one_and_all(http: httpx.Client) -> None:
    a = add(http, route="GET /items/{item_id}", abort=503)
    b = add(http, route="GET /api/things/{thing_id}", abort=502)
    assert [f["id"] for f in active(http)] == [a["id"], b["id"]]
    removed = http.delete(f"/ops/faults/{a['id']}", headers=AUTH)
    assert (removed.status_code, removed.json()) == (200, {"removed": [a["id"]]})
    assert [f["id"] for f in active(http)] == [b["id"]]
    assert http.delete(f"/ops/faults/{a['id']}", headers=AUTH).status_code == 404
    assert http.get("/items/1").status_code == 200
    assert http.get("/api/things/1").status_code == 502
    cleared = http.delete("/ops/faults", headers=AUTH)
    assert (cleared.status_code, cleared.json()) == (200, {"removed": [b["id"]]})
    assert active(http) == []
    assert http.get("/api/things/1").status_code == 200
    wrong_method = http.put("/ops/faults", headers=AUTH, json={})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, POST, DELETE"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"", "JSON object"),
        (b"[503]", "JSON object"),
        ({"abrt": 503}, "unknown key 'abrt' (did you mean 'abort'?)"),
        ({"abort": 503, "ratio": 0.5}, "unknown key 'ratio'"),
        ({"abort": 200}, "abort must be an HTTP status from 400 to 599, got 200"),
        ({"abort": 600}, "from 400 to 599"),
        ({"abort": "503"}, "from 400 to 599"),
        ({"abort": True}, "from 400 to 599"),
        ({"route": "/items/{item_id}"}, "needs abort"),
        ({"delay": 0}, "needs abort"),
        ({"abort": 503, "share": 1.5}, "share must be between 0 and 1"),
        ({"abort": 503, "share": "150%"}, "share must be between 0 and 1"),
        ({"abort": 503, "share": -0.1}, "share must be between 0 and 1"),
        ({"delay": "soon"}, "delay: invalid duration 'soon'"),
        ({"delay": "2m"}, "delay must be at most 60s"),
        ({"abort": 503, "duration": "0s"}, "duration must be above 0"),
        ({"abort": 503, "duration": "forever"}, "duration: invalid duration"),
        ({"abort": 503, "route": "GET items"}, "route: invalid route"),
        ({"abort": 503, "route": 7}, "route:"),
        ({"abort": 503, "route": "/livez"}, "never faulted"),
        ({"abort": 503, "route": "GET /metrics"}, "never faulted"),
        ({"abort": 503, "route": "/ops/slo"}, "never faulted"),
    ],
)
def test_invalid_bodies_are_refused_with_a_reason(
    http: httpx.Client, body: bytes | dict[str, Any], fragment: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = http.post("/ops/faults", content=content, headers=AUTH)
    assert response.status_code == 400
    document = response.json()
    assert document["error"] == "invalid_fault"
    assert fragment in document["detail"], document["detail"]
    assert document["problems"]
    assert active(http) == []


def test_aborts_show_in_metrics_and_access_log(
    http: httpx.Client, faulty: tuple[UvicornApp, Path]
) -> None:
    labels = {"route": "/items/{item_id}", "method": "GET", "status": "503"}
    injected = {"route": "/items/{item_id}", "kind": "abort"}
    before = http.get("/metrics").text
    add(http, route="GET /items/{item_id}", abort=503)
    ids = {http.get(f"/items/m{i}").headers["x-request-id"] for i in range(3)}
    add(http, route="GET /slow", delay="10ms")
    http.get("/slow?ms=1")
    after = http.get("/metrics").text
    name = "http_requests_total"
    assert metric(after, name, **labels) - metric(before, name, **labels) == 3
    name = "slokit_faults_injected_total"
    assert metric(after, name, **injected) - metric(before, name, **injected) == 3
    delayed = {"route": "/slow", "kind": "delay"}
    assert metric(after, name, **delayed) - metric(before, name, **delayed) == 1
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(line) for line in faulty[1].read_text().splitlines() if line]
        logged = [entry for entry in lines if entry["request_id"] in ids]
        if len(logged) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(logged) == 3
    for entry in logged:
        assert (entry["status"], entry["route"], entry["level"]) == (
            503,
            "/items/{item_id}",
            "error",
        )


def test_probes_metrics_and_ops_are_never_faulted(http: httpx.Client) -> None:
    fault = add(http, abort=503)  # no route: every request
    assert fault["route"] is None
    for path in ["/livez", "/readyz", "/startupz", "/healthz", "/metrics"]:
        response = http.get(path)
        assert response.status_code == 200, path
        assert "x-slokit-fault" not in response.headers
    assert http.get("/ops/slo").status_code == 404  # not configured here; still not faulted
    assert http.post("/metrics").status_code == 404  # the app's answer, not a fault
    assert [f["id"] for f in active(http)] == [fault["id"]]
    assert http.get("/items/1").status_code == 503
    assert http.get("/no/such/path").status_code == 503


# FaultMiddleware alone ----------------------------------------------------------------------


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on loopback, in a thread of this process; always stopped."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def quote(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"quote {request.path_params['sku']}")


async def plain_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app with no router: faults match by the template's pattern."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"plain"})


def test_fault_middleware_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLOKIT_FAULT_TOKEN", raising=False)
    app = Starlette(routes=[Route("/api/quotes/{sku:str}", quote)])
    registry = CollectorRegistry()
    app.add_middleware(FaultMiddleware, token=TOKEN, seed=1, registry=registry)
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        assert http.get("/ops/faults").status_code == 401
        fault = add(http, route="GET /api/quotes/{sku:str}", abort=429)  # as Starlette writes it
        response = http.get("/api/quotes/abc")
        assert (response.status_code, response.headers["x-slokit-fault"]) == (429, fault["id"])
        assert http.head("/api/quotes/abc").status_code == 200  # methods match exactly
        assert http.post("/api/quotes/abc").status_code == 405
        assert http.get("/api/quotes/abc/extra").status_code == 404
        labels = {"route": "/api/quotes/{sku:str}", "kind": "abort"}
        assert registry.get_sample_value("slokit_faults_injected_total", labels) == 1
        assert http.delete("/ops/faults", headers=AUTH).json() == {"removed": [fault["id"]]}
        assert http.get("/api/quotes/abc").text == "quote abc"
    bare = Starlette(routes=[Route("/api/quotes/{sku}", quote)])
    with serve(FaultMiddleware(bare)) as url:  # no token anywhere: the path does not exist
        response = httpx.get(url + "/ops/faults", headers=AUTH)
        assert response.status_code == 404
        assert response.content == httpx.get(url + "/nowhere").content
    plain = FaultMiddleware(plain_app, token=TOKEN, metrics=False)
    with serve(plain) as url, httpx.Client(base_url=url, timeout=10) as http:
        add(http, route="GET /api/quotes/{sku}", abort=503, share=1)
        assert http.get("/api/quotes/abc").status_code == 503
        assert http.get("/api/quotes/abc/extra").status_code == 200
        assert http.post("/api/quotes/abc").status_code == 200
        assert http.get("/livez").text == "plain"
