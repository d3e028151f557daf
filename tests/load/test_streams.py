"""SSE and WebSocket steps against real servers: tests/servers/stream_app.py under uvicorn
(SSE) and tests/servers/ws_server.py (a raw wsproto WebSocket server). Resumes with
Last-Event-ID, reconnects after clean ends and drops, handshake delay measured, wrong content
type and bad status named, WebSocket echo, fragments, server pings, clean close and drop."""

from __future__ import annotations

import json
import shlex
import subprocess
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, WsServer, free_port, run_slokit, slokit_cmd

SSE_SCENARIOS = {
    # 9 events, the server ends each connection after 3: two reconnects, resumed at 3 and 6.
    "resume": (
        "- sse: /sse?drop_after=3&retry_ms=100&first_event_ms=30&interval_ms=30\n  events: 9"
    ),
    # The same but the connection is cut without the chunked terminator: dropped, twice.
    "abort": "- sse: /sse?drop_after=2&drop=abort&retry_ms=50&interval_ms=30\n  events: 6",
    "slow": "- sse: /sse?first_byte_ms=200&interval_ms=10\n  events: 1",
    "json": "- sse: /json\n  events: 1\n  reconnect: false",
    "status": "- sse: /sse?status=500\n  events: 1\n  reconnect: false",
    "multiline": (
        "- sse: /sse?multiline=1&heartbeat_ms=5&crlf=1&event=order&interval_ms=20\n"
        '  until: {body_contains: "line2 of 3"}\n'
        '  checks: [{event: order}, {body_contains: "line1"}]'
    ),
}
WS_SCENARIOS = {
    "echo": '- ws: /echo\n  send: [hello, {a: 1}]\n  checks: [{body_contains: "hello"}]',
    "ticks": "- ws: /ticks?n=4&interval_ms=20\n  hold: 5s",
    # Each tick in three frames while the server pings every 10 ms: messages are whole,
    # pings are answered and are not messages.
    "fragments": (
        "- ws: /ticks?n=5&interval_ms=30&fragment=1&ping_ms=10\n  hold: 5s\n"
        '  checks: [{body_contains: "tick "}]'
    ),
    "wsdrop": "- ws: /abort?after=2&interval_ms=20\n  events: 4\n  retry: 100ms",
}


JOURNEY = """
from slokit.load import Session


async def run(s: Session) -> None:
    got = await s.sse("/sse?interval_ms=20", until=lambda e: e.id == "4")
    s.check(got.count == 4 and got.last.data == '{"seq": 4}', name="sse until id 4")
    echoed = await s.ws(
        "WS_URL/echo",
        name="WS /echo",
        send=["one"],
        events=2,
        reply=lambda m: "two" if m.data == "one" else None,
    )
    s.check([m.data for m in echoed.received] == ["one", "two"], name="ws reply")
"""
GATES = """gates:
  - p95(handshake SSE /sse) < 5s
  - p99(reconnect SSE /sse) < 5s
  - stream_errors(WS /echo) == 0
"""


def _scenario(name: str, flow: str, target: str | None = None) -> str:
    return (
        f"  {name}:\n    executor: per-vu-iterations\n    vus: 1\n    iterations: "
        f"{3 if name == 'slow' else 1}\n    max_duration: 20s\n"
        + (f"    target: {target}\n" if target else "")
        + ("    gate: false\n" if name == "refused" else "")
        + "    flow:\n"
        + textwrap.indent(flow, "      ")
    )


def _spec(path: Path, url: str, ws_url: str, refused: str) -> Path:
    journey = JOURNEY.replace("WS_URL", ws_url.replace("http://", "ws://"))
    (path.parent / "journey.py").write_text(journey, encoding="utf-8")
    lines = [f"service: streams\ntarget: {url}\n{GATES}scenarios:"]
    lines.append(
        "  journey:\n    executor: per-vu-iterations\n    vus: 1\n    iterations: 1\n"
        "    script: journey.py:run\n    gates: ['checks >= 100%', 'stream_uptime > 50%']"
    )
    flows = {
        **SSE_SCENARIOS,
        "refused": f"- sse: {refused}/sse\n  events: 1\n  reconnect: false",
    }
    # Refused: no handshake at all, so the handshake gate fails there (reported, not gating).
    lines += [_scenario(name, flow) for name, flow in flows.items()]
    lines += [_scenario(name, flow, ws_url) for name, flow in WS_SCENARIOS.items()]
    # Open model: each arrival opens a stream (the open is the arrival) and takes one event.
    lines.append(
        "  arrivals:\n    executor: constant-arrival-rate\n    rate: 20\n    duration: 2s\n"
        "    max_vus: 50\n    flow:\n"
        "      - sse: /sse?interval_ms=10\n        events: 1\n"
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/stats", timeout=5) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("streams")
    app = UvicornApp("stream_app:app")
    try:
        ws = WsServer()
        try:
            refused = f"http://127.0.0.1:{free_port()}"
            spec = _spec(base / "streams.yaml", app.url, ws.url, refused)
            done = run_slokit("run", str(spec), "-w", "1", "--out", str(base / "out"), timeout=120)
            stats, ws_stats = _stats(app.url), _stats(ws.url)
        finally:
            ws.kill()
    finally:
        app.kill()
    results = json.loads((base / "out" / "results.json").read_text(encoding="utf-8"))
    return {"done": done, "results": results, "server": stats, "ws": ws_stats, "out": base / "out"}


def _sc(run: dict[str, Any], name: str) -> dict[str, Any]:
    scenario: dict[str, Any] = run["results"]["scenarios"][name]
    return scenario


def _stream(run: dict[str, Any], name: str) -> dict[str, Any]:
    streams = _sc(run, name)["streams"]
    assert len(streams) == 1, streams
    found: dict[str, Any] = next(iter(streams.values()))
    return found


def test_resume_after_the_server_ends_the_stream(run: dict[str, Any]) -> None:
    s = _stream(run, "resume")
    assert s["events"] == 9
    assert s["opened"] == 3
    assert s["reconnects"] == 2
    assert s["errors"] == {}  # a clean end is not an error: EventSource reconnects
    # Resumed where it left off: the server saw the ids of the last events received.
    assert run["server"]["last_event_ids"][:2] == ["3", "6"]
    # Reconnect time runs from the drop to the first event again: at least retry: 100 ms
    # plus one 30 ms interval.
    assert s["reconnect_ms"]["count"] == 2
    assert s["reconnect_ms"]["min"] >= 130
    assert s["first_event_ms"]["count"] == 3
    assert s["gap_ms"]["count"] == 6
    request = _sc(run, "resume")["requests"]["SSE /sse"]
    assert request["count"] == 3
    assert request["failures"] == {}


def test_a_connection_cut_mid_stream_is_dropped_and_reconnected(run: dict[str, Any]) -> None:
    s = _stream(run, "abort")
    assert s["events"] == 6
    assert s["errors"] == {"dropped": 2}
    assert s["reconnects"] == 2
    assert s["uptime"] < 1.0


def test_handshake_measures_the_servers_delay(run: dict[str, Any]) -> None:
    latency = _sc(run, "slow")["requests"]["SSE /sse"]["latency_ms"]
    # 200 ms of injected delay before the head, plus loopback: never below (but for the
    # server's timer, which uvloop may fire up to a millisecond early), barely above.
    assert latency["min"] >= 199.0
    assert latency["max"] < 200 * 1.25


def test_wrong_content_type_and_bad_status_are_named(run: dict[str, Any]) -> None:
    json_sc = _sc(run, "json")
    assert json_sc["requests"]["SSE /json"]["failures"] == {"content_type": 1}
    assert _stream(run, "json")["errors"] == {"content_type": 1}
    status_sc = _sc(run, "status")
    assert status_sc["requests"]["SSE /sse"]["failures"] == {"5xx": 1}
    assert _stream(run, "status")["errors"] == {"status": 1}
    refused = _stream(run, "refused")
    assert refused["errors"] == {"refused": 1}
    (request,) = _sc(run, "refused")["requests"].values()
    assert request["failures"] == {"connect": 1}


def test_multiline_data_heartbeats_crlf_and_until(run: dict[str, Any]) -> None:
    s = _stream(run, "multiline")
    assert s["events"] == 3  # until the third event's second data line
    assert s["checks"] == {"passed": 6, "failed": 0}


def test_websocket_echo_clean_close_and_drop(run: dict[str, Any]) -> None:
    echo = _stream(run, "echo")
    assert echo["sent"] == 2
    assert echo["events"] == 2
    assert echo["checks"] == {"passed": 1, "failed": 1}  # {"a":1} does not contain hello
    assert _sc(run, "echo")["requests"]["WS /echo"]["failures"] == {}
    ticks = _stream(run, "ticks")
    assert ticks["events"] == 4
    assert ticks["errors"] == {}
    assert ticks["reconnects"] == 0
    fragments = _stream(run, "fragments")
    assert fragments["events"] == 5  # fifteen frames, five messages
    assert fragments["checks"] == {"passed": 5, "failed": 0}
    assert fragments["errors"] == {}
    # The server pinged while ticking; the client's pongs reached it, and a close with 1000
    # was answered with 1000.
    assert run["ws"]["pongs"] >= 5
    assert 1000 in run["ws"]["close_codes"]
    drop = _stream(run, "wsdrop")
    assert drop["events"] == 4
    assert drop["reconnects"] == 1
    assert drop["errors"] == {"dropped": 1}


def test_journeys_hold_streams_and_gates_judge_them(run: dict[str, Any]) -> None:
    journey = _sc(run, "journey")
    assert journey["checks"] == {
        "sse until id 4": {"passed": 1, "failed": 0},
        "ws reply": {"passed": 1, "failed": 0},
    }
    assert journey["streams"]["SSE /sse"]["events"] == 4
    assert journey["streams"]["WS /echo"]["sent"] == 2
    verdicts = {(v["scenario"], v["name"]): v for v in run["results"]["verdicts"]}
    assert verdicts[("journey", "stream_uptime > 50%")]["passed"]
    assert verdicts[("resume", "p99(reconnect SSE /sse) < 5s")]["passed"]
    assert verdicts[("resume", "p99(reconnect SSE /sse) < 5s")]["judged"]
    # Nothing reconnected in the journey: the reconnect gate has nothing to judge there.
    assert not verdicts[("journey", "p99(reconnect SSE /sse) < 5s")]["judged"]
    # A spec-wide gate about a WebSocket is not judged where none was held.
    assert not verdicts[("resume", "stream_errors(WS /echo) == 0")]["judged"]
    assert verdicts[("echo", "stream_errors(WS /echo) == 0")]["passed"]


def test_open_model_counts_each_stream_open_as_an_arrival(run: dict[str, Any]) -> None:
    sc = _sc(run, "arrivals")
    request = sc["requests"]["SSE /sse"]
    assert request["count"] == 40  # 20/s for 2 s: every arrival opened a stream
    assert request["failures"] == {}
    assert request["dropped"] == 0
    stream = _stream(run, "arrivals")
    assert stream["opened"] == 40
    assert stream["events"] == 40


def test_reports_show_streams(run: dict[str, Any]) -> None:
    assert run["done"].returncode == 0, run["done"].stdout + run["done"].stderr
    assert "streams (after warm-up)" in run["done"].stdout
    summary = (run["out"] / "summary.md").read_text(encoding="utf-8")
    assert "| stream | opened | reconnects |" in summary
    html = (run["out"] / "report.html").read_text(encoding="utf-8")
    assert '<table class="streams">' in html


def test_bad_stream_steps_get_clear_errors(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "service: bad\ntarget: http://127.0.0.1:1\nscenarios:\n  a:\n"
        "    executor: constant-vus\n    vus: 1\n    duration: 1s\n    flow:\n"
        "      - sse: ws://127.0.0.1:1/ws\n        hold: 1s\n"
        "      - ws: http://127.0.0.1:1/ws\n        hold: 1s\n"
        "      - get: /x\n        hold: 1s\n"
        "      - sse: /events\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        slokit_cmd("validate", str(spec)), capture_output=True, text=True, timeout=30
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "a ws:// URL is a WebSocket: write it as ws: URL" in out
    assert "a WebSocket URL starts with ws:// or wss://; write ws://127.0.0.1:1/ws" in out
    assert "'hold' only applies to a stream step (sse: or ws:)" in out
    assert "an sse: step needs 'hold'" in out


def test_more_streams_than_the_soft_open_files_limit(tmp_path: Path) -> None:
    """200 held streams under a soft limit of 128 descriptors: the worker raises its soft
    limit to the hard one, so every stream opens (the usual 1,024 would cap a 2k run)."""
    app = UvicornApp("stream_app:app")
    try:
        spec = tmp_path / "many.yaml"
        spec.write_text(
            f"service: many\ntarget: {app.url}\nscenarios:\n  many:\n"
            "    executor: constant-vus\n    vus: 200\n    duration: 3s\n    flow:\n"
            "      - sse: /sse?interval_ms=200\n        hold: 10s\n",
            encoding="utf-8",
        )
        command = " ".join(
            [*map(shlex.quote, slokit_cmd("run", str(spec), "-w", "1", "--no-store")),
             "--out", shlex.quote(str(tmp_path / "out"))]
        )  # fmt: skip
        done = subprocess.run(
            ["bash", "-c", f"ulimit -Sn 128 && exec {command}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert _stats(app.url)["connections"] == 200
    finally:
        app.kill()
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    stream = results["scenarios"]["many"]["streams"]["SSE /sse"]
    assert stream["opened"] == 200
    assert stream["errors"] == {}
