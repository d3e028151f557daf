"""Streams through `slokit proxy` faults: an SSE client cut by a timeout or reset_peer toxic
reconnects, resumes without losing or repeating an event, and its reconnect time runs from
the drop, not from the last event and not from the last (successful) attempt.

The test process owns the timeline: it adds the toxic once events flow and removes it after
a window it measures itself. Every bound below follows from that order of events, whatever
the machine's speed:

- no event can reach the client while the toxic is on, so the time from the last event
  before the fault to the first one after it is longer than the window;
- a timeout toxic closes the connection ``CUT_MS`` after it was added, so a reconnect
  measured from that drop is shorter than the window by about ``CUT_MS``;
- the client waits ``retry`` before each attempt and at least one attempt fails inside the
  window, so a reconnect measured across attempts spans at least two waits.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._support import UvicornApp, free_port, slokit_cmd, stop, wait_port

pytestmark = pytest.mark.timeout(120)

EVENTS = 40
INTERVAL_MS = 50
RETRY_MS = 100
CUT_MS = 500  # the timeout toxic closes its connections this long after it is added
WINDOW_S = 1.2  # how long the toxic stays on


JOURNEY = """
from slokit.load import Session


async def run(s: Session) -> None:
    got = await s.sse(
        "PROXY/sse?interval_ms=INTERVAL&retry_ms=RETRY",
        name="SSE /sse",
        events=EVENTS,
        idle_timeout=10,
    )
    ids = [int(e.id) for e in got.received]
    s.check(ids == list(range(1, EVENTS + 1)), name="every id once, in order")
"""


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[UvicornApp, str]]:
    app = UvicornApp("stream_app:app")
    port = free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    proxy = subprocess.Popen(
        slokit_cmd("proxy", "--listen", f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_port(port, proxy)
        yield app, f"http://127.0.0.1:{port}"
    finally:
        stop(proxy)
        app.kill()


def _stats(app: UvicornApp) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{app.url}/stats", timeout=5).json()
    return stats


def _run_through(
    tmp: Path, app: UvicornApp, api: str, toxic: dict[str, Any]
) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """One SSE journey through a fresh proxy; the toxic goes on once 5 events were sent and
    off ``WINDOW_S`` later. Returns the scenario's results, the window and the server's
    stats."""
    name = toxic["type"]
    with httpx.Client(base_url=api, timeout=5) as http:
        httpx.post(f"{app.url}/reset", timeout=5)
        made = http.post(
            "/proxies",
            json={"name": name, "listen": "127.0.0.1:0", "upstream": app.url[len("http://") :]},
        )
        assert made.status_code == 201, made.text
        listen = made.json()["listen"]
        journey = (
            JOURNEY.replace("PROXY", f"http://{listen}")
            .replace("INTERVAL", str(INTERVAL_MS))
            .replace("RETRY", str(RETRY_MS))
            .replace("EVENTS", str(EVENTS))
        )
        (tmp / "journey.py").write_text(journey, encoding="utf-8")
        spec = tmp / "faults.yaml"
        spec.write_text(
            f"service: faults\ntarget: http://{listen}\nscenarios:\n  held:\n"
            "    executor: per-vu-iterations\n    vus: 1\n    iterations: 1\n"
            "    max_duration: 30s\n    script: journey.py:run\n",
            encoding="utf-8",
        )
        run = subprocess.Popen(
            slokit_cmd("run", str(spec), "-w", "1", "--out", str(tmp / "out")),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            deadline = time.monotonic() + 30
            while _stats(app)["events_sent"] < 5:
                assert run.poll() is None, run.communicate()[0].decode()
                assert time.monotonic() < deadline, "no events came through the proxy"
                time.sleep(0.02)
            added = time.monotonic()
            assert http.post(f"/proxies/{name}/toxics", json=toxic).status_code == 200
            time.sleep(WINDOW_S)
            assert http.delete(f"/proxies/{name}/toxics/{name}_downstream").status_code == 204
            window = time.monotonic() - added
            out, _ = run.communicate(timeout=60)
        finally:
            stop(run)
        http.delete(f"/proxies/{name}")
    assert run.returncode == 0, out.decode()
    results = json.loads((tmp / "out" / "results.json").read_text(encoding="utf-8"))
    return results["scenarios"]["held"], window, _stats(app)


def _one_stream(scenario: dict[str, Any]) -> dict[str, Any]:
    stream: dict[str, Any] = scenario["streams"]["SSE /sse"]
    assert scenario["checks"] == {"every id once, in order": {"passed": 1, "failed": 0}}
    assert stream["events"] == EVENTS
    assert stream["reconnects"] == 1
    assert stream["reconnect_ms"]["count"] == 1
    return stream


def test_a_timeout_toxic_is_a_drop_and_reconnect_runs_from_the_drop(
    servers: tuple[UvicornApp, str], tmp_path: Path
) -> None:
    app, api = servers
    toxic = {"type": "timeout", "attributes": {"timeout": CUT_MS}}
    scenario, window, server = _run_through(tmp_path, app, api, toxic)
    stream = _one_stream(scenario)
    reconnect = stream["reconnect_ms"]["max"]
    # From the drop (CUT_MS after the toxic went on), not from the last event before it:
    # that would be longer than the whole window.
    assert reconnect < window * 1000, (reconnect, window)
    # Across the attempts that failed inside the window: two waits of retry at least.
    assert reconnect >= 2 * RETRY_MS
    assert stream["errors"]["dropped"] == 1
    failed = scenario["requests"]["SSE /sse"]["failures"]
    assert sum(failed.values()) >= 1, failed  # attempts swallowed by the toxic
    assert sum(stream["errors"].values()) == 1 + sum(failed.values())
    # The server was asked to resume after the last event the client got, once per attempt.
    assert len(server["last_event_ids"]) == sum(failed.values()) + 1
    assert 5 <= int(server["last_event_ids"][-1]) < EVENTS


def test_a_reset_peer_toxic_is_a_drop_and_nothing_is_lost_or_repeated(
    servers: tuple[UvicornApp, str], tmp_path: Path
) -> None:
    app, api = servers
    toxic = {"type": "reset_peer", "attributes": {"timeout": 0}}
    scenario, window, server = _run_through(tmp_path, app, api, toxic)
    stream = _one_stream(scenario)
    # The reset comes with the next event after the toxic went on, so the drop is inside
    # the window and the reconnect (through failed attempts) spans two waits at least.
    assert stream["reconnect_ms"]["max"] >= 2 * RETRY_MS
    assert stream["errors"]["dropped"] == 1
    failed = scenario["requests"]["SSE /sse"]["failures"]
    assert sum(failed.values()) >= 1, failed  # attempts reset while the toxic was on
    # Uptime counts the outage: the stream was not live for part of the window.
    assert stream["uptime"] < 1.0
    assert server["connections"] == len(server["last_event_ids"]) + 1
    assert window > 0
