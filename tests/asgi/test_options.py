"""Options: spec defaults, keyword overrides, and clear errors for every wrong value."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from slokit.asgi import SlokitMiddleware, instrument
from slokit.asgi._options import build_options
from slokit.errors import SpecError, UsageError
from slokit.spec import parse_spec

SPEC = parse_spec(
    """
service: orders
slos:
  fast: {route: POST /orders, objective: 95%, latency: 300ms}
dependencies:
  db: {kind: postgres, url: "postgresql://u@127.0.0.1:1/x"}
guards:
  max_body: 1KiB
  concurrency: adaptive
  rate_limits: [{route: POST /orders, limit: 15/hour, key: "header:X-User-Id"}]
"""
)


def test_spec_gives_the_defaults_and_keywords_win() -> None:
    opts = build_options(SPEC, {"max_body": "2KiB", "drain_delay": timedelta(seconds=3)})
    assert opts.service == "orders"
    assert opts.max_body == 2048
    assert opts.drain_delay == 3.0
    assert opts.concurrency == "adaptive"
    assert [c.name for c in opts.checks] == ["db"]
    (rule,) = opts.rate_limits
    assert rule.parsed()[1:] == (15.0, 3600.0)
    assert opts.slos[0].latency == 0.3


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"max_bodyy": 1}, "did you mean 'max_body'"),
        ({"metrics_path": "metrics"}, "must be a path starting with '/'"),
        ({"drain_delay": "soon"}, "is not a duration"),
        ({"drain_delay": -1}, "must not be negative"),
        ({"concurrency": 0}, "'adaptive' or 'off'"),
        ({"max_body": "lots"}, "max_body"),
        ({"on_store_error": "maybe"}, "'open'"),
        ({"tracing": "sometimes"}, "True, False or 'auto'"),
        ({"trusted_proxies": ["not-an-ip"]}, "CIDR"),
        ({"rate_limits": [{"route": "POST /x", "limit": "often"}]}, "invalid rate"),
        ({"rate_limits": [{"route": "FETCH /x", "limit": "1/s"}]}, "unknown method"),
        ({"rate_limits": [{"route": "/x", "limit": "1/s", "key": "cookie"}]}, "'header:<Name>'"),
        ({"rate_limits": [{"route": "/x", "limit": "1/s", "per": "ip"}]}, "unknown keys"),
        ({"checks": {"db": 42}}, "callable"),
    ],
)
def test_wrong_options_say_what_is_accepted(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(UsageError, match=None) as info:
        build_options(None, options)
    assert fragment in str(info.value)


def test_instrument_validates_at_once_even_with_add_middleware() -> None:
    with pytest.raises(UsageError):
        instrument(FastAPI(), metrics_paht="/m")


def test_a_bad_spec_path_is_a_spec_error(tmp_path: Any) -> None:
    bad = tmp_path / "slokit.yaml"
    bad.write_text("service: [\n")
    with pytest.raises(SpecError):
        instrument(FastAPI(), spec=str(bad))


def test_plain_asgi_apps_are_labelled_from_the_spec_routes() -> None:
    """No Starlette router: route labels come from the spec's SLO and rate-limit routes."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    registry = CollectorRegistry()
    wrapped = SlokitMiddleware(app, spec=SPEC, registry=registry, access_log=False)

    async def drive(path: str, method: str = "POST") -> None:
        scope = {"type": "http", "method": method, "path": path, "headers": [], "client": None}

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            pass

        await wrapped(scope, receive, send)

    async def main() -> bytes:
        await drive("/orders")
        await drive("/elsewhere", "GET")
        wrapped._flush()  # finished requests reach the metrics in batches
        body, _ = wrapped._metrics.exposition("")  # type: ignore[union-attr]
        return body

    text = asyncio.run(main()).decode()
    assert 'http_requests_total{method="POST",route="/orders",status="200"} 1.0' in text
    assert 'route="<unmatched>"' in text
