"""Schemathesis fuzzes the demo service's API, through the middleware, on real uvicorn.

The demo's own failures are part of its design (the quote provider answers 502 now and then);
what must never happen is a 500, which would mean a crash in the app or in this layer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from slokit.demo import DemoServer, create_app

pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_dict(create_app(instrumented=False).openapi())


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_makes_the_service_answer_500(case: schemathesis.Case, demo: DemoServer) -> None:
    response = case.call(base_url=demo.url, timeout=10)
    assert response.status_code != 500, (case.method, case.formatted_path, response.text[:300])
    assert response.status_code < 500 or response.status_code in (502, 503)
    # Every answer carries a request id, refusals by a guard included.
    assert response.headers.get("x-request-id")


def test_the_fuzzing_really_reached_the_service(demo: DemoServer) -> None:
    import urllib.request

    with urllib.request.urlopen(demo.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("http_requests_total{")
    )
    assert served >= 40
