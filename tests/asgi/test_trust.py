"""Issue 13, "gates you can trust": spec dependencies plus checks=, a breaker's 503, /startupz.

Real uvicorn servers on loopback, real PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from fastapi import FastAPI

from slokit.asgi import instrument
from slokit.errors import UsageError
from slokit.spec import parse_spec
from tests._support import UvicornApp
from tests.asgi._service import call, get_json, metric, service

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"


def _require(port: int, what: str) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except OSError:
        if "CI" in os.environ:
            pytest.fail(f"{what} is not reachable on 127.0.0.1:{port}, and CI is set")
        pytest.skip(f"{what} is not reachable on 127.0.0.1:{port}")


# --- 1. checks= adds to the spec's dependencies -------------------------------------------


def test_checks_keyword_adds_to_the_specs_dependencies(tmp_path: Path) -> None:
    _require(5432, "PostgreSQL")
    _require(6379, "Redis")
    spec = (
        "service: merged\n"
        "dependencies:\n"
        f"  db: {{kind: postgres, url: '{PG}', timeout: 2s}}\n"
        f"  cache: {{kind: redis, url: '{REDIS}'}}\n"
    )
    flag = tmp_path / "flag"
    flag.write_text("ok")
    with service(tmp_path, spec, access_log=False, checks_file=str(flag), check_ttl=0) as srv:
        status, ready = get_json(srv.url, "/readyz")
        assert status == 200, ready
        assert ready["checks"] == {"db": "pass", "cache": "pass", "flag": "pass"}
        status, health = get_json(srv.url, "/healthz")
        assert status == 200, health
        assert {"db:postgres", "cache:redis", "flag:custom"} <= set(health["checks"])
        # The custom check is really run beside the others: failing it fails readiness while
        # the spec's dependencies still pass.
        flag.write_text("broken")
        status, ready = get_json(srv.url, "/readyz")
        assert status == 503
        assert ready["checks"] == {"db": "pass", "cache": "pass", "flag": "fail"}
        assert set(ready["failing"]) == {"flag"}


def test_a_check_named_in_both_the_spec_and_checks_is_refused() -> None:
    spec = parse_spec(f"service: dup\ndependencies:\n  db: {{kind: postgres, url: '{PG}'}}\n")
    with pytest.raises(UsageError, match=r"'db' is a dependency in the spec and also given"):
        instrument(FastAPI(), spec=spec, checks={"db": lambda: True})
    # A different name is simply added.
    instrument(FastAPI(), spec=spec, checks={"pool": lambda: True})


# --- 2. an unhandled CircuitOpenError is a 503 with Retry-After -------------------------


def _log_lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_an_open_breaker_the_app_does_not_handle_is_a_503_with_retry_after(
    tmp_path: Path,
) -> None:
    log = tmp_path / "access.log"
    server = UvicornApp("trust_app:app", env={"SLOKIT_TEST_LOG": str(log)})
    try:
        status, headers, body = call(server.url, "/pay")
        assert status == 503, body
        # The breaker was opened for 30 s just before: what is left of that, in whole seconds.
        assert 1 <= int(headers["retry-after"]) <= 30
        assert headers["x-request-id"]
        assert json.loads(body)["error"] == "circuit_open"
        assert b"payments" not in body  # internal names stay internal
        # The server is fine: the next request is served as usual.
        assert call(server.url, "/items/1")[0] == 200
        _, _, exposition = call(server.url, "/metrics")
        text = exposition.decode()
        assert metric(text, "http_requests_total", route="/pay", status="503") == 1
        assert metric(text, "http_requests_total", route="/pay", status="500") == 0
        limit = time.monotonic() + 10
        while not any(line["route"] == "/pay" for line in _log_lines(log)):
            assert time.monotonic() < limit, "no access-log line for /pay"
            time.sleep(0.05)
        (line,) = [line for line in _log_lines(log) if line["route"] == "/pay"]
        assert (line["status"], line["level"]) == (503, "error")
    finally:
        server.kill()


# --- 4. /startupz fails until the warm-up hooks have returned -----------------------------


def test_startupz_answers_503_until_warmup_has_finished_under_uvicorn(tmp_path: Path) -> None:
    flag = tmp_path / "warm"
    server = UvicornApp("trust_app:app", env={"SLOKIT_TEST_WARMUP_FLAG": str(flag)})
    try:
        # uvicorn listens: lifespan start-up is over, the warm-up is not.
        status, body = get_json(server.url, "/startupz")
        assert status == 503, body
        assert body["notes"] == ["warming up: cache not finished"]
        assert get_json(server.url, "/readyz")[0] == 503
        assert get_json(server.url, "/livez")[0] == 200  # alive: do not restart it
        assert call(server.url, "/items/1")[0] == 200  # and serving whoever calls anyway
        flag.write_text("ok")
        limit = time.monotonic() + 20
        while get_json(server.url, "/startupz")[0] != 200:
            assert time.monotonic() < limit, "/startupz never passed after the warm-up"
            time.sleep(0.05)
        assert get_json(server.url, "/startupz") == (200, {"status": "pass"})
        assert get_json(server.url, "/readyz")[0] == 200
    finally:
        server.kill()


def test_a_failed_warmup_keeps_startupz_failing_with_the_reason(tmp_path: Path) -> None:
    flag = tmp_path / "warm"
    flag.write_text("broken")
    server = UvicornApp("trust_app:app", env={"SLOKIT_TEST_WARMUP_FLAG": str(flag)})
    try:
        limit = time.monotonic() + 20
        while "failing" not in (body := get_json(server.url, "/startupz")[1]):
            assert time.monotonic() < limit, "the failed warm-up never showed"
            time.sleep(0.05)
        assert get_json(server.url, "/startupz")[0] == 503
        assert body["failing"] == {"cache": "RuntimeError: the cache source refused"}
        assert body["notes"] == ["warm-up failed: cache"]
    finally:
        server.kill()
