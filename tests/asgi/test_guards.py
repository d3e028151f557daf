"""Guards on a real uvicorn service: body limits, rate limits (memory and Redis), shedding,
and malformed requests sent as raw bytes over a socket."""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests._support import free_port
from tests.asgi._service import call, metric, raw, service

REDIS = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def test_content_length_over_max_body_is_413_before_the_app(tmp_path: Path) -> None:
    with service(tmp_path, "service: g\nguards: {max_body: 1KiB}\n", access_log=False) as srv:
        status, _, body = call(srv.url, "/upload", method="POST", body=b"x" * 1025)
        assert status == 413
        assert json.loads(body)["error"] == "body_too_large"
        assert call(srv.url, "/upload", method="POST", body=b"x" * 1024)[0] == 200
        text = call(srv.url, "/metrics")[2].decode()
    assert metric(text, "slokit_requests_rejected_total", reason="body_too_large") == 1


def _chunked(chunks: list[bytes]) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
    return head + b"Connection: close\r\n\r\n" + body


def test_chunked_body_growing_past_max_body_is_cut_off_with_413(tmp_path: Path) -> None:
    with service(tmp_path, "service: g\nguards: {max_body: 1000}\n", access_log=False) as srv:
        small = raw(srv.url, _chunked([b"a" * 400, b"b" * 400]))
        assert small.startswith(b"HTTP/1.1 200")
        assert b'"received":800' in small
        big = raw(srv.url, _chunked([b"a" * 600, b"b" * 600, b"c" * 600]))
        assert big.startswith(b"HTTP/1.1 413")
        assert big.count(b"HTTP/1.1") == 1  # the app's own answer never follows
        text = call(srv.url, "/metrics")[2].decode()
    assert metric(text, "slokit_requests_rejected_total", reason="body_too_large") == 1


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /items/1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: \x01\x02bad\r\n\r\n",
        b"GET /items/1 HTTP/1.1\r\nHost: t\r\ntraceparent: 00-zz-yy-01\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly-ten-b",
    ],
)
def test_malformed_requests_get_a_clean_answer_never_a_500(
    tmp_path: Path, request_bytes: bytes
) -> None:
    log = tmp_path / "access.log"
    with service(tmp_path, "service: g\n", access_log_file=str(log)) as srv:
        answer = raw(srv.url, request_bytes, read_timeout=2.0)
        # The server is still fine afterwards.
        assert call(srv.url, "/items/2")[0] == 200
    status_line = answer.split(b"\r\n", 1)[0]
    if answer:
        code = int(status_line.split()[1])
        assert code < 500 or code == 503, answer[:200]
    assert b"Traceback" not in answer
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(line["status"] != 500 for line in lines), lines


def test_rate_limit_answers_429_with_ietf_headers(tmp_path: Path) -> None:
    spec = """
    service: g
    guards:
      rate_limits:
        - {route: "GET /items/{id}", limit: 3/min, key: "header:X-User-Id"}
    """
    with service(tmp_path, spec, access_log=False) as srv:
        for remaining in (2, 1, 0):
            status, headers, _ = call(srv.url, "/items/1", headers={"X-User-Id": "ann"})
            assert status == 200
            assert headers["ratelimit-policy"] == '"GET /items/{id}";q=3;w=60'
            assert headers["ratelimit"].startswith(f'"GET /items/{{id}}";r={remaining};t=')
        status, headers, body = call(srv.url, "/items/1", headers={"X-User-Id": "ann"})
        assert status == 429
        assert 1 <= int(headers["retry-after"]) <= 20
        assert headers["ratelimit"].startswith('"GET /items/{id}";r=0;')
        assert json.loads(body)["error"] == "rate_limit"
        # Another user has a quota of their own; other routes are not limited.
        assert call(srv.url, "/items/1", headers={"X-User-Id": "bob"})[0] == 200
        assert call(srv.url, "/api/things/1", headers={"X-User-Id": "ann"})[0] == 200


def _hammer(url: str, clients: int, requests: int, headers: dict[str, str]) -> list[int]:
    def one(_: int) -> int:
        return call(url, "/items/7", headers=headers)[0]

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(one, range(requests)))


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_limiter_never_over_admits_under_64_concurrent_clients(tmp_path: Path, store: str) -> None:
    options: dict[str, object] = {"access_log": False}
    if store == "redis":
        if not _redis_up() and not os.environ.get("CI"):
            pytest.skip("Redis not running on 127.0.0.1:6379")
        options["redis_url"] = REDIS
    options["rate_limits"] = [
        {"route": "GET /items/{id}", "limit": "50/hour", "key": "header:X-Run"}
    ]
    # A key of its own per run: Redis state outlives the service.
    run = {"X-Run": uuid.uuid4().hex}
    with service(tmp_path, "service: g\n", **options) as srv:
        statuses = _hammer(srv.url, clients=64, requests=300, headers=run)
    assert statuses.count(200) == 50
    assert statuses.count(429) == 250


def test_redis_down_fails_open_by_default_and_counts_it(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    rules = [{"route": "GET /items/{id}", "limit": "1/hour"}]
    with service(
        tmp_path, "service: g\n", access_log=False, redis_url=closed, rate_limits=rules
    ) as srv:
        assert [call(srv.url, "/items/1")[0] for _ in range(3)] == [200, 200, 200]
        text = call(srv.url, "/metrics")[2].decode()
    assert metric(text, "slokit_rate_limit_store_errors_total") == 3


def test_redis_down_fails_closed_when_asked(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    rules = [{"route": "GET /items/{id}", "limit": "1/hour"}]
    with service(
        tmp_path,
        "service: g\n",
        access_log=False,
        redis_url=closed,
        rate_limits=rules,
        on_store_error="closed",
    ) as srv:
        status, headers, _ = call(srv.url, "/items/1")
    assert status == 503
    assert headers["retry-after"] == "1"


def test_concurrency_limit_sheds_with_503_and_retry_after(tmp_path: Path) -> None:
    with service(
        tmp_path, "service: g\nguards: {concurrency: 2}\n", access_log=False, queue_timeout=0
    ) as srv:
        results: list[tuple[int, dict[str, str]]] = []
        lock = threading.Lock()

        def one(_: int) -> None:
            status, headers, _ = call(srv.url, "/slow?ms=600")
            with lock:
                results.append((status, headers))

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(one, range(6)))
        text = call(srv.url, "/metrics")[2].decode()
    statuses = sorted(s for s, _ in results)
    assert statuses.count(200) == 2
    assert statuses.count(503) == 4
    assert all(h.get("retry-after") == "1" for s, h in results if s == 503)
    assert metric(text, "slokit_requests_rejected_total", reason="concurrency") == 4
