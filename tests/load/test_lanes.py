"""The callback runner (load/_lane.py) against a raw HTTP server's edge cases, and side by
side with the task runner on the same spec: the same counts, the same failures, the same
checks. Nothing of correctness may be traded for its speed."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests._support import slokit_cmd
from tests.servers.raw import RawServer

# name -> (flow, vus, iterations, extra scenario lines)
CASES: dict[str, tuple[str, int, int, str]] = {
    "keepalive": ("[{get: /ok}, {get: '/ok?body=again'}]", 2, 10, ""),
    "chunked": (
        '[{get: /chunked, checks: [{body_contains: "chunked world"}]}]',
        2,
        5,
        "",
    ),
    "eof": ("[{get: /eof}, {get: '/eof?bytes=300'}]", 1, 4, ""),
    "close": ("[{get: /close}, {get: /http10}]", 1, 4, ""),
    "nobody": ("[{get: /204}, {get: /100-continue}]", 1, 4, ""),
    "stale": ("[{get: /drop-next}, {get: /ok}]", 1, 3, ""),
    "checks": (
        "[{get: /echo, checks: [{json: $.method, equals: GET}, {json: $.method, equals: PUT}]},"
        " {get: '/status?code=503'}]",
        2,
        3,
        "",
    ),
    "timeout": ("[{get: /stall}, {get: /ok}]", 1, 2, "timeout: 300ms"),
    "broken": ("[{get: /garbage}]", 1, 2, ""),
    "reset": ("[{get: /reset}]", 1, 2, ""),
    "post": ("[{post: /echo, json: {a: 1}}, {get: /ok}]", 1, 3, ""),
}


def _spec(tmp_path: Path, url: str) -> Path:
    scenarios = []
    for name, (flow, vus, iterations, extra) in CASES.items():
        more = f"\n    {extra}" if extra else ""
        scenarios.append(
            f"  {name}:\n    executor: per-vu-iterations\n    vus: {vus}\n"
            f"    iterations: {iterations}\n    max_duration: 20s{more}\n    flow: {flow}"
        )
    path = tmp_path / "lanes.yaml"
    path.write_text(
        f"service: lanes\ntarget: {url}\nscenarios:\n" + "\n".join(scenarios) + "\n",
        encoding="utf-8",
    )
    return path


def _run(spec: Path, out: Path, lanes: bool) -> dict[str, Any]:
    env = {**os.environ, "SLOKIT_LANES": "1" if lanes else "0", "NO_COLOR": "1"}
    cmd = slokit_cmd("run", str(spec), "-w", "1", "--out", str(out), "--no-store", "-q")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    results: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("lanes")
    found: dict[str, Any] = {}
    with RawServer() as srv:
        spec = _spec(base, srv.url)
        found["callbacks"] = _run(spec, base / "callbacks", lanes=True)
        found["tasks"] = _run(spec, base / "tasks", lanes=False)
    return found


def _requests(results: dict[str, Any], name: str) -> dict[str, Any]:
    requests: dict[str, Any] = results["scenarios"][name]["requests"]
    return requests


def test_each_runner_says_which_it_was(runs: dict[str, Any]) -> None:
    for runner, results in runs.items():
        for name, sc in results["scenarios"].items():
            assert sc["generator"]["runner"] == runner, name


@pytest.mark.parametrize("name", list(CASES))
def test_callbacks_count_what_tasks_count(runs: dict[str, Any], name: str) -> None:
    fast, slow = (_requests(runs[r], name) for r in ("callbacks", "tasks"))
    assert fast.keys() == slow.keys()
    for request, stats in fast.items():
        other = slow[request]
        for key in ("count", "failures", "checks", "check_failures", "bytes_sent"):
            assert stats[key] == other[key], (request, key)
    iterations = {r: runs[r]["scenarios"][name]["iterations"] for r in runs}
    vus, n = CASES[name][1], CASES[name][2]
    assert iterations == {"callbacks": vus * n, "tasks": vus * n}


def test_bodies_of_every_framing_arrive_whole(runs: dict[str, Any]) -> None:
    chunked = _requests(runs["callbacks"], "chunked")["GET /chunked"]
    assert chunked["count"] == 10
    assert chunked["checks"] == {"passed": 10, "failed": 0}
    eof = _requests(runs["callbacks"], "eof")
    assert eof["GET /eof"]["failures"] == {}
    assert eof["GET /eof"]["count"] == 8
    # The EOF-delimited 300-byte body is counted whole, head included.
    assert eof["GET /eof"]["bytes_received"] > 300 * 4
    for name in ("close", "nobody", "stale", "post"):
        for request, stats in _requests(runs["callbacks"], name).items():
            assert stats["failures"] == {}, (name, request)


def test_failures_below_http_are_counted_by_kind(runs: dict[str, Any]) -> None:
    fast = runs["callbacks"]
    timeout = _requests(fast, "timeout")
    assert timeout["GET /stall"]["failures"] == {"timeout": 2}
    assert "GET /ok" not in timeout  # a failure below HTTP ends the iteration
    assert _requests(fast, "broken")["GET /garbage"]["failures"] == {"protocol": 2}
    assert _requests(fast, "reset")["GET /reset"]["failures"] == {"protocol": 2}
    checks = _requests(fast, "checks")
    assert checks["GET /echo"]["check_failures"] == {'$.method == "PUT"': 6}
    assert checks["GET /status"]["failures"] == {"5xx": 6}


@pytest.mark.parametrize("lanes", [True, False], ids=["callbacks", "tasks"])
def test_keep_alive_connections_are_reused(tmp_path: Path, lanes: bool) -> None:
    with RawServer() as srv:
        spec = tmp_path / "reuse.yaml"
        spec.write_text(
            textwrap.dedent(
                f"""
                service: lanes
                target: {srv.url}
                scenarios:
                  reuse:
                    executor: per-vu-iterations
                    vus: 3
                    iterations: 40
                    max_duration: 20s
                    flow: [{{get: /ok}}, {{get: /echo}}]
                """
            ),
            encoding="utf-8",
        )
        results = _run(spec, tmp_path / "out", lanes=lanes)
        assert results["scenarios"]["reuse"]["total"]["count"] == 240
        # One connection per VU for the whole run, and the controller's reachability probe.
        assert srv.connections == 3 + 1


@pytest.mark.parametrize("lanes", [True, False], ids=["callbacks", "tasks"])
def test_open_model_arrivals_beyond_the_lanes_are_dropped_not_hidden(
    tmp_path: Path, lanes: bool
) -> None:
    with RawServer() as srv:
        spec = tmp_path / "open.yaml"
        spec.write_text(
            textwrap.dedent(
                f"""
                service: lanes
                target: {srv.url}
                scenarios:
                  open:
                    executor: constant-arrival-rate
                    rate: 50/s
                    duration: 2s
                    max_vus: 2
                    flow: [{{get: '/slow?ms=100'}}, {{get: /ok}}]
                """
            ),
            encoding="utf-8",
        )
        results = _run(spec, tmp_path / "out", lanes=lanes)
    sc = results["scenarios"]["open"]
    assert sc["generator"]["runner"] == ("callbacks" if lanes else "tasks")
    slow = sc["requests"]["GET /slow"]
    # 2 VUs at ~100 ms an iteration serve about 20 of the 50 arrivals a second: every
    # arrival is either sent or counted as dropped, none silently skipped.
    assert slow["count"] + slow["dropped"] == 100
    assert slow["dropped"] > 20
    assert sc["requests"]["GET /ok"]["count"] == slow["count"]
    # One send lag per arrival that was sent, measured from its intended time.
    assert sc["generator"]["schedule_lag_ms"]["count"] == slow["count"]
    # Latency counts from the intended start: at least the server's 100 ms.
    assert slow["latency_ms"]["p50"] >= 100
