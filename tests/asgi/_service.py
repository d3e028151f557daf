"""Helpers for the middleware tests: the instrumented service under uvicorn, and HTTP calls."""

from __future__ import annotations

import http.client
import json
import socket
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests._support import UvicornApp


@contextmanager
def service(
    tmp_path: Path,
    spec: str | None = None,
    workers: int | None = None,
    env: dict[str, str] | None = None,
    **options: Any,
) -> Iterator[UvicornApp]:
    """tests/servers/service_app.py under uvicorn with these options; always stopped."""
    env = {**(env or {}), "SLOKIT_TEST_OPTIONS": json.dumps(options)}
    if spec is not None:
        path = tmp_path / "slokit.yaml"
        path.write_text(textwrap.dedent(spec), encoding="utf-8")
        env["SLOKIT_TEST_SPEC"] = str(path)
    args = ["--workers", str(workers)] if workers else []
    server = UvicornApp("service_app:app", env=env, args=args)
    try:
        yield server
    finally:
        server.kill()


def call(
    url: str,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: status, lower-cased headers, body."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def get_json(url: str, path: str, **kw: Any) -> tuple[int, Any]:
    status, _, body = call(url, path, **kw)
    return status, json.loads(body)


def raw(url: str, payload: bytes, read_timeout: float = 5.0) -> bytes:
    """Send raw bytes over a socket and return everything the server answers until it closes
    (or stops talking for ``read_timeout``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as sock:
        sock.sendall(payload)
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            pass
        return b"".join(chunks)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
