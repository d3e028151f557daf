"""Probes on a real uvicorn service with real PostgreSQL and Redis, and a port nobody listens on."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from tests._support import free_port
from tests.asgi._service import call, get_json, service

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"


def _up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def services_up() -> None:
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _up(port)]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"{', '.join(missing)} not running on 127.0.0.1")


def spec_with(deps: str) -> str:
    return f"service: probe-test\ndependencies:\n{deps}"


def test_ready_with_real_postgres_and_redis(tmp_path: Path) -> None:
    spec = spec_with(
        f"  db: {{kind: postgres, url: '{PG}', timeout: 2s}}\n"
        f"  cache: {{kind: redis, url: '{REDIS}'}}\n"
    )
    with service(tmp_path, spec, access_log=False) as srv:
        assert get_json(srv.url, "/livez") == (200, {"status": "pass"})
        assert get_json(srv.url, "/startupz") == (200, {"status": "pass"})
        status, body = get_json(srv.url, "/readyz")
        assert (status, body["status"]) == (200, "pass")
        status, headers, raw_body = call(srv.url, "/healthz")
        assert status == 200
        assert headers["content-type"] == "application/health+json"
        import json

        health = json.loads(raw_body)
        assert health["status"] == "pass"
        assert health["serviceId"] == "probe-test"
        checks = {key.split(":")[0]: value[0] for key, value in health["checks"].items()}
        assert set(checks) == {"db", "cache"}
        for check in checks.values():
            assert check["status"] == "pass"
            assert check["observedUnit"] == "ms"
            assert check["observedValue"] >= 0
            assert check["time"].endswith("Z")


def test_critical_dependency_down_fails_readiness_not_liveness(tmp_path: Path) -> None:
    closed = free_port()
    spec = spec_with(
        f"  db: {{kind: postgres, url: 'postgresql://postgres:s3cret@127.0.0.1:{closed}/x'}}\n"
        f"  cache: {{kind: redis, url: '{REDIS}'}}\n"
    )
    with service(tmp_path, spec, access_log=False) as srv:
        status, body = get_json(srv.url, "/readyz")
        assert status == 503
        assert body["status"] == "fail"
        assert "db" in body["failing"]
        assert "s3cret" not in str(body)
        assert get_json(srv.url, "/livez")[0] == 200
        status, health = get_json(srv.url, "/healthz")
        assert status == 503
        db = next(v[0] for k, v in health["checks"].items() if k.startswith("db"))
        assert db["status"] == "fail"
        assert db["output"]
        cache = next(v[0] for k, v in health["checks"].items() if k.startswith("cache"))
        assert cache["status"] == "pass"


def test_non_critical_dependency_down_warns_but_stays_ready(tmp_path: Path) -> None:
    closed = free_port()
    spec = spec_with(f"  search: {{kind: tcp, url: '127.0.0.1:{closed}', critical: false}}\n")
    with service(tmp_path, spec, access_log=False) as srv:
        status, body = get_json(srv.url, "/readyz")
        assert (status, body["status"]) == (200, "warn")
        assert get_json(srv.url, "/healthz")[1]["status"] == "warn"


def test_custom_check_is_cached_for_its_ttl_and_recovers(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("ok")
    with service(
        tmp_path, "service: c\n", access_log=False, checks_file=str(flag), check_ttl=0.3
    ) as srv:
        assert get_json(srv.url, "/readyz")[0] == 200
        flag.write_text("broken")
        # Within the TTL the cached answer stands; after it the change shows.
        limit = time.monotonic() + 10
        while get_json(srv.url, "/readyz")[0] == 200:
            assert time.monotonic() < limit, "readiness never noticed the failing check"
            time.sleep(0.05)
        flag.write_text("ok")
        while get_json(srv.url, "/readyz")[0] != 200:
            assert time.monotonic() < limit, "readiness never recovered"
            time.sleep(0.05)


def test_sigterm_flips_readiness_first_and_lets_requests_finish(tmp_path: Path) -> None:
    with service(tmp_path, "service: d\n", access_log=False, drain_delay=1.5) as srv:
        results: dict[str, int] = {}

        def slow() -> None:
            results["slow"] = call(srv.url, "/slow?ms=1200")[0]

        worker = threading.Thread(target=slow)
        worker.start()
        time.sleep(0.2)  # the slow request is in flight
        os.kill(srv.proc.pid, signal.SIGTERM)
        time.sleep(0.2)
        # Draining: not ready, still alive, still serving.
        assert get_json(srv.url, "/readyz")[0] == 503
        assert get_json(srv.url, "/livez")[0] == 200
        assert call(srv.url, "/items/1")[0] == 200
        worker.join(timeout=10)
        assert results["slow"] == 200
        srv.proc.wait(timeout=15)
    assert srv.proc.returncode is not None
