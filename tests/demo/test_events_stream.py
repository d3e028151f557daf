"""The demo's Server-Sent Events stream, ``GET /api/v1/events/stream``: the demo under real
uvicorn in a subprocess, read with httpx; and its event hub in process, for the bounds."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from slokit.demo import DemoServer
from slokit.demo._events import REPLAY, EventHub

STREAM = "/api/v1/events/stream"


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


@pytest.fixture
def client(demo: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.url, timeout=5) as c:
        yield c


Event = dict[str, str]


def read_until(
    lines: Iterator[str], done: Callable[[list[Event], list[str]], bool], limit_s: float = 5.0
) -> tuple[list[Event], list[str]]:
    """Events and comments until ``done(events, comments)``; bounded by time and lines (the
    stream's heartbeats keep lines coming, so the clock is looked at)."""
    events: list[Event] = []
    comments: list[str] = []
    fields: Event = {}
    deadline = time.monotonic() + limit_s
    for _, line in zip(range(10_000), lines, strict=False):
        if line.startswith(":"):
            comments.append(line)
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            events.append(fields)
            fields = {}
        if done(events, comments) or time.monotonic() > deadline:
            break
    return events, comments


def place(client: httpx.Client, sku: str) -> dict[str, object]:
    response = client.post("/api/orders", json={"sku": sku})
    assert response.status_code == 201
    order: dict[str, object] = response.json()
    return order


def orders_in(events: list[Event]) -> list[dict[str, object]]:
    return [json.loads(e["data"]) for e in events if e.get("event") == "order"]


def test_stream_opens_with_retry_and_keeps_idle_clients_alive(client: httpx.Client) -> None:
    with client.stream("GET", STREAM, params={"heartbeat": 0.1}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"
        _, comments = read_until(lines, lambda _, cs: len(cs) >= 3)
    assert comments[:3] == [": heartbeat"] * 3


def test_heartbeat_below_the_minimum_is_refused(client: httpx.Client) -> None:
    assert client.get(STREAM, params={"heartbeat": 0.01}).status_code == 422


def test_an_order_placed_while_connected_arrives_and_a_reconnect_replays_what_was_missed(
    client: httpx.Client,
) -> None:
    with client.stream("GET", STREAM, params={"heartbeat": 0.2}) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"  # subscribed: the hub adds the client first
        first = place(client, "EV1")
        events, _ = read_until(lines, lambda es, _: bool(orders_in(es)))
    (seen,) = [e for e in events if e.get("event") == "order"]
    assert json.loads(seen["data"]) == first
    last_id = int(seen["id"])

    missed = [place(client, "EV2"), place(client, "EV3")]  # while nobody listens
    headers = {"Last-Event-ID": str(last_id)}
    with client.stream("GET", STREAM, params={"heartbeat": 0.2}, headers=headers) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"
        events, _ = read_until(lines, lambda es, _: len(orders_in(es)) >= 2)
    assert orders_in(events)[:2] == missed
    assert [int(e["id"]) for e in events[:2]] == [last_id + 1, last_id + 2]

    # Caught up: a reconnect with the newest id replays nothing, only heartbeats follow.
    headers = {"Last-Event-ID": events[1]["id"]}
    with client.stream("GET", STREAM, params={"heartbeat": 0.1}, headers=headers) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"
        events, comments = read_until(lines, lambda es, cs: bool(es) or len(cs) >= 3)
    assert (events, comments[:3]) == ([], [": heartbeat"] * 3)


def test_a_client_that_never_reads_does_not_hold_up_orders(demo: DemoServer) -> None:
    stalled = httpx.Client(base_url=demo.url, timeout=5)
    try:
        with stalled.stream("GET", STREAM, params={"heartbeat": 0.05}) as response:
            assert response.status_code == 200
            with httpx.Client(base_url=demo.url, timeout=5) as client:
                start = time.monotonic()
                for k in range(10):
                    place(client, f"ST{k}")
                assert time.monotonic() - start < 5
    finally:
        stalled.close()


def test_each_listener_keeps_at_most_the_newest_thousand_and_replay_is_bounded() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        hub = EventHub()
        slow = hub.stream(None, 5.0)
        assert await anext(slow) == b"retry: 2000\n\n"  # listening, and reading nothing
        for k in range(REPLAY + 500):
            hub.publish("order", {"n": k})
        got = [_event_id(await anext(slow)) for _ in range(REPLAY)]
        await slow.aclose()
        late = hub.stream(0, 0.05)
        assert await anext(late) == b"retry: 2000\n\n"
        replayed = [_event_id(await anext(late)) for _ in range(REPLAY)]
        assert await anext(late) == b": heartbeat\n\n"
        await late.aclose()
        assert hub.listeners == 0
        return got, replayed

    got, replayed = asyncio.run(scenario())
    assert got == list(range(501, REPLAY + 501))  # the oldest 500 were dropped for it
    assert replayed == list(range(501, REPLAY + 501))


def test_an_order_placed_while_a_client_resumes_is_sent_once() -> None:
    async def scenario() -> list[bytes]:
        hub = EventHub()
        hub.publish("order", {"n": 1})
        stream = hub.stream(0, 0.05)
        assert await anext(stream) == b"retry: 2000\n\n"
        hub.publish("order", {"n": 2})  # while the retry line is being written
        frames = [await anext(stream) for _ in range(3)]
        await stream.aclose()
        return frames

    frames = asyncio.run(scenario())
    assert [f for f in frames if f.startswith(b"event:")] == [
        b'event: order\nid: 1\ndata: {"n": 1}\n\n',
        b'event: order\nid: 2\ndata: {"n": 2}\n\n',
    ]


def _event_id(frame: bytes) -> int:
    for line in frame.decode().splitlines():
        if line.startswith("id: "):
            return int(line[4:])
    raise AssertionError(f"no id in {frame!r}")
