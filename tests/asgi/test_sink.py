"""The batch of finished requests: what it folds into, and that it never breaks a request."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client import CollectorRegistry

from slokit.asgi import JsonLogFormatter
from slokit.asgi._logs import AccessLog
from slokit.asgi._metrics import Metrics, latency_buckets
from slokit.asgi._sink import MAX_PENDING, RequestSink
from slokit.asgi._trace import Holder, install_log_context, reset_current, set_current


def record(i: int) -> tuple:  # type: ignore[type-arg]
    return (
        1_700_000_000.0 + i, f"r{i}", "a" * 32, "b" * 16, "GET", "/x/{id}", f"/x/{i}",
        b"", 200 + i, 0.002, 0, 10 ** (i + 2), "127.0.0.1", None, None,
    )  # fmt: skip


def test_records_reach_metrics_and_log_in_order() -> None:
    stream = io.StringIO()
    metrics = Metrics(CollectorRegistry(), latency_buckets([]))
    sink = RequestSink(metrics, None, AccessLog(stream, service="s"))
    for i in range(3):
        sink.push(record(i))  # no running loop: flushed at once
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["r0", "r1", "r2"]
    assert [line["status"] for line in lines] == [200, 201, 202]
    assert [line["time"] for line in lines] == [
        "2023-11-14T22:13:20.000Z",
        "2023-11-14T22:13:21.000Z",
        "2023-11-14T22:13:22.000Z",
    ]
    assert {line["latency_ms"] for line in lines} == {2.0}
    ((key, series),) = metrics.series()
    assert key == ("/x/{id}", "GET")
    assert series.count == 3
    assert series.statuses == {200: 1, 201: 1, 202: 1}
    assert series.request == [3, 0, 0, 0, 0, 0, 0]  # no bodies
    assert series.response == [1, 1, 1, 0, 0, 0, 0]  # 100, 1000, 10000 bytes: one per bucket
    assert series.response_sum == 11_100


def test_a_full_batch_is_flushed_without_waiting_for_the_timer() -> None:
    import asyncio

    stream = io.StringIO()
    sink = RequestSink(None, None, AccessLog(stream, service="s"))

    async def main() -> int:
        for i in range(MAX_PENDING):
            sink.push(record(i))
        return len(stream.getvalue().splitlines())

    assert asyncio.run(main()) == MAX_PENDING


def test_a_broken_stream_never_raises_into_a_request(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    stream.close()
    sink = RequestSink(None, None, AccessLog(stream, service="s"))
    sink.push(record(1))  # must not raise


def test_logging_mode_sends_lines_through_the_slokit_access_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = RequestSink(None, None, AccessLog(None, service="s"))
    with caplog.at_level(logging.INFO, logger="slokit.access"):
        sink.push(record(7))
    (logged,) = caplog.records
    assert json.loads(logged.getMessage())["request_id"] == "r7"


def test_json_formatter_adds_the_current_request() -> None:
    install_log_context()
    holder = Holder()
    set_current(holder, ("rid", "t" * 32, "s" * 16, None, True))
    try:
        record_ = logging.getLogger("app").makeRecord("app", logging.INFO, "f", 1, "hi", (), None)
    finally:
        reset_current(holder)
    outside = logging.getLogger("app").makeRecord("app", logging.INFO, "f", 1, "x", (), None)
    line = json.loads(JsonLogFormatter().format(record_))
    assert line["request_id"] == "rid"
    assert line["message"] == "hi"
    assert "request_id" not in json.loads(JsonLogFormatter().format(outside))
