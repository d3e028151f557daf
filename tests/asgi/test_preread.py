"""Bodies and concurrency slots: a body is read before a slot is taken (a slow sender holds
none), read within ``body_timeout`` (408 after it), replayed to the application intact, and
counted against ``max_body`` also when no header says how long it is (HTTP/2)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from slokit.asgi import SlokitMiddleware
from slokit.errors import UsageError
from tests.asgi._service import call, metric, raw, service

# -- HTTP/2: no Content-Length, no chunked, still counted --------------------------------------


def _h2_body(wrapped: Any, chunks: int, size: int) -> tuple[int, int]:
    """POST ``chunks`` x ``size`` bytes with an HTTP/2 scope: (status, bytes the app saw)."""
    scope = {
        "type": "http",
        "http_version": "2",
        "method": "POST",
        "path": "/upload",
        "raw_path": b"/upload",
        "query_string": b"",
        "headers": [(b"host", b"t")],
        "client": ("127.0.0.1", 5000),
    }
    pending = [{"type": "http.request", "body": b"x" * size, "more_body": True}] * (chunks - 1)
    pending.append({"type": "http.request", "body": b"x" * size, "more_body": False})
    sent: list[Any] = []

    async def receive() -> Any:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)  # the client waits for an answer; this never ends a test

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(wrapped(scope, receive, send), 10))
    starts = [m for m in sent if m["type"] == "http.response.start"]
    return starts[0]["status"], seen[0]


seen = [0]


async def _counting_app(scope: Any, receive: Any, send: Any) -> None:
    seen[0] = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        seen[0] += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("concurrency", ["off", 4])
def test_an_http2_body_of_unknown_length_is_cut_off_at_max_body(concurrency: object) -> None:
    wrapped = SlokitMiddleware(
        _counting_app,
        max_body=1024,
        concurrency=concurrency,
        registry=CollectorRegistry(),
        access_log=False,
    )
    status, got = _h2_body(wrapped, chunks=50, size=1000)
    assert status == 413
    assert got <= 1024  # the application never sees a byte past the limit
    status, got = _h2_body(wrapped, chunks=2, size=500)
    assert (status, got) == (200, 1000)


# -- slow senders hold no slot ------------------------------------------------------------------

HEAD_ONLY = b"POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"


def _slow_clients(url: str, count: int, stack: ExitStack) -> list[socket.socket]:
    """``count`` connections that sent the headers of a POST and none of its body."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=10))
        sock.sendall(HEAD_ONLY)
        socks.append(sock)
    return socks


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def test_clients_that_never_send_their_body_do_not_starve_the_service(tmp_path: Path) -> None:
    spec = "service: g\nguards: {concurrency: 4, body_timeout: 1s}\n"
    with service(tmp_path, spec, access_log=False, queue_timeout=0) as srv, ExitStack() as stack:
        stalled = _slow_clients(srv.url, 14, stack)
        time.sleep(0.3)  # every stalled request has reached the middleware
        # Four slots, fourteen stalled bodies: a GET and a whole POST still get through.
        assert [call(srv.url, "/items/1")[0] for _ in range(5)] == [200] * 5
        body = bytes(range(256)) * 40
        status, _, answer = call(srv.url, "/digest", method="POST", body=body)
        assert status == 200
        assert json.loads(answer) == {
            "received": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        # After body_timeout each stalled client gets a 408 and its connection is closed.
        answers = [_read_all(s) for s in stalled]
        text = call(srv.url, "/metrics")[2].decode()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[:2]
    assert all(b"body_timeout" in a and b"connection: close" in a.lower() for a in answers)
    assert metric(text, "slokit_requests_rejected_total", reason="body_timeout") == 14
    assert metric(text, "slokit_requests_rejected_total", reason="concurrency") == 0


def test_a_chunked_body_read_ahead_reaches_the_app_byte_for_byte(tmp_path: Path) -> None:
    chunks = [bytes([n]) * (100 + n) for n in range(20)]
    payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = b"POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
    spec = "service: g\nguards: {concurrency: 4, max_body: 64KiB}\n"
    with service(tmp_path, spec, access_log=False) as srv:
        answer = raw(srv.url, head + b"Connection: close\r\n\r\n" + payload)
        big = b"y" * (3 << 20)  # over the read-ahead bound: streamed once a slot is held
    with service(tmp_path, "service: g\nguards: {concurrency: 4}\n", access_log=False) as srv:
        status, _, upload = call(srv.url, "/digest", method="POST", body=big)
    assert answer.startswith(b"HTTP/1.1 200")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    whole = b"".join(chunks)
    assert body == {"received": len(whole), "sha256": hashlib.sha256(whole).hexdigest()}
    assert status == 200
    assert json.loads(upload) == {"received": len(big), "sha256": hashlib.sha256(big).hexdigest()}


def test_a_client_gone_before_its_body_arrived_is_logged_499_and_frees_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "access.log"
    spec = "service: g\nguards: {concurrency: 1}\n"
    with service(tmp_path, spec, access_log_file=str(log), queue_timeout=0) as srv:
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(HEAD_ONLY + b"only-half")
            time.sleep(0.3)
        time.sleep(0.3)
        # The one slot was never taken, so nothing is shed after the client left.
        assert call(srv.url, "/items/1")[0] == 200
        text = call(srv.url, "/metrics")[2].decode()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    gone = [entry for entry in lines if entry.get("path") == "/digest"]
    assert [entry["status"] for entry in gone] == [499]
    assert metric(text, "slokit_requests_rejected_total", reason="concurrency") == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"body_timeout": 0}, "body_timeout must be a finite duration above 0, got 0"),
        ({"body_timeout": -1}, "body_timeout must not be negative, got -1"),
        ({"body_timeout": float("inf")}, "body_timeout=inf is not a duration"),
        ({"body_timeout": "soon"}, "body_timeout"),
        ({"latency_target": 0}, "latency_target must be a finite duration above 0"),
    ],
)
def test_bad_body_timeout_and_latency_target_are_usage_errors(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        SlokitMiddleware(_counting_app, registry=CollectorRegistry(), **options)


def test_body_timeout_and_latency_target_from_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "slokit.yaml"
    path.write_text(
        "service: g\nguards: {concurrency: adaptive, body_timeout: 5s, latency_target: 250ms}\n"
    )
    wrapped = SlokitMiddleware(_counting_app, spec=str(path), registry=CollectorRegistry())
    assert wrapped.options.body_timeout == 5.0
    assert wrapped.options.latency_target == 0.25
