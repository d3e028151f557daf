"""The demo service under real uvicorn in a subprocess, hit over loopback with http.client."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from slokit.demo import DemoServer
from slokit.errors import RunError


def call(
    server: DemoServer, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        headers = {}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None
    finally:
        conn.close()


@pytest.fixture(scope="module")
def healthy() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


def test_livez(healthy: DemoServer) -> None:
    assert call(healthy, "GET", "/livez") == (200, {"status": "pass"})


def test_daily_horoscope(healthy: DemoServer) -> None:
    status, body = call(healthy, "GET", "/api/horoscopes/daily")
    assert status == 200
    assert body["sign"] == "aries"
    assert body["reading"]
    status, body = call(healthy, "GET", "/api/horoscopes/daily?sign=leo")
    assert (status, body["sign"]) == (200, "leo")
    assert call(healthy, "GET", "/api/horoscopes/daily?sign=ophiuchus")[0] == 422


def test_order_is_created_and_read_back(healthy: DemoServer) -> None:
    status, order = call(healthy, "POST", "/api/orders", {"sku": "A1", "qty": 3})
    assert status == 201
    assert order["sku"] == "A1"
    assert order["qty"] == 3
    assert order["status"] == "created"
    assert call(healthy, "GET", f"/api/orders/{order['id']}") == (200, order)
    status, default = call(healthy, "POST", "/api/orders", {"sku": "B2"})
    assert (status, default["qty"]) == (201, 1)
    assert default["id"] != order["id"]


def test_unknown_order_is_404(healthy: DemoServer) -> None:
    assert call(healthy, "GET", "/api/orders/ord-nope")[0] == 404


@pytest.mark.parametrize(
    ("body", "raw"),
    [
        ({}, None),
        ({"sku": "A1", "qty": "many"}, None),
        ({"sku": "A1", "qty": 0}, None),
        ({"sku": ""}, None),
        (None, b"{not json"),
    ],
)
def test_bad_order_is_422(healthy: DemoServer, body: Any, raw: bytes | None) -> None:
    assert call(healthy, "POST", "/api/orders", body, raw)[0] == 422


def test_quote(healthy: DemoServer) -> None:
    status, quote = call(healthy, "GET", "/api/quotes/A1")
    assert status == 200
    assert quote["sku"] == "A1"
    assert quote["price"] > 0
    assert quote["stale"] is False
    # Prices are stable per SKU so runs are comparable.
    assert call(healthy, "GET", "/api/quotes/A1") == (200, quote)
    assert call(healthy, "GET", "/api/quotes/-bad-")[0] == 422


def quote_burst(server: DemoServer, n: int) -> tuple[list[int], list[float]]:
    def one(_: int) -> tuple[int, float]:
        started = time.perf_counter()
        status, _body = call(server, "GET", "/api/quotes/A1")
        return status, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=60) as pool:
        results = list(pool.map(one, range(n)))
    return [s for s, _ in results], [t for _, t in results]


def test_broken_provider_opens_the_breaker_and_answers_fast(healthy: DemoServer) -> None:
    _good, good_times = quote_burst(healthy, 100)
    with DemoServer(broken=True) as broken:
        statuses, times = quote_burst(broken, 300)
        provider = call(broken, "GET", "/api/provider")[1]
        health_status, health = call(broken, "GET", "/healthz")
    # Never a good price to fall back on: 502, and fast once the breaker refuses the calls.
    assert set(statuses) == {502}
    assert provider["breaker"]["opened"] >= 1
    assert provider["breaker"]["not_permitted"] > 150
    assert provider["calls"] < 150  # the breaker spared the provider most calls
    assert statistics.median(times) < 20 * max(statistics.median(good_times), 0.005)
    assert health_status == 200
    assert health["status"] == "warn"
    assert "pricing-provider:circuitBreaker" in health["checks"]


def test_an_outage_is_bridged_by_stale_answers_and_the_breaker_recovers() -> None:
    with DemoServer(outage=(0.5, 2.5)) as server:
        first = call(server, "GET", "/api/quotes/A1")
        assert first[1]["stale"] is False
        time.sleep(1.0)  # into the outage
        during = [call(server, "GET", "/api/quotes/A1") for _ in range(30)]
        assert all(status == 200 for status, _ in during)
        assert any(body["stale"] for _, body in during)
        assert all(body["price"] == first[1]["price"] for _, body in during)
        limit = time.monotonic() + 20
        while True:  # after the outage and the breaker's open time: fresh again
            status, body = call(server, "GET", "/api/quotes/A1")
            if status == 200 and not body["stale"]:
                break
            assert time.monotonic() < limit, "the breaker never closed after the outage"
            time.sleep(0.2)
        provider = call(server, "GET", "/api/provider")[1]
    assert provider["breaker"]["opened"] >= 1
    assert provider["breaker"]["state"] in ("closed", "half_open")
    assert provider["stale_served"] > 0


def connect_refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_server_is_gone_after_the_block() -> None:
    with DemoServer() as server:
        port = server.port
        proc = server._proc
        assert call(server, "GET", "/livez")[0] == 200
    assert proc is not None
    assert proc.returncode is not None
    assert connect_refused(port)
    with pytest.raises(RuntimeError):
        _ = server.url


def test_server_is_stopped_when_the_block_raises() -> None:
    ports: list[int] = []

    def failing_block() -> None:
        with DemoServer() as server:
            ports.append(server.port)
            raise KeyError("boom")

    with pytest.raises(KeyError):
        failing_block()
    assert connect_refused(ports[0])


def test_taken_port_is_a_clear_run_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = DemoServer(port=port)
        with pytest.raises(RunError, match="cannot listen") as caught:
            server.start()
    assert "exited with code" in str(caught.value)
    assert server.pid is None


def test_module_entry_point_serves_on_a_free_port() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "slokit.demo", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        deadline = time.monotonic() + 15
        while True:
            try:
                conn.request("GET", "/livez")
                assert conn.getresponse().status == 200
                break
            except OSError:
                conn.close()
                assert time.monotonic() < deadline, "demo did not answer /livez"
                time.sleep(0.05)
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM)


def test_same_seed_gives_the_same_provider_failures() -> None:
    counts = []
    for _ in range(2):
        with DemoServer(seed=11) as server:
            statuses, _times = quote_burst(server, 1000)
            provider = call(server, "GET", "/api/provider")[1]
        # A failed call is answered with the last good price: never an error.
        assert set(statuses) == {200}
        counts.append(provider["failures"])
    assert counts[0] == counts[1]
    assert counts[0] < 20
