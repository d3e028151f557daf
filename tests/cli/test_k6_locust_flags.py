"""What k6 and Locust users type: -u/--vus, -i/--iterations, --rate, -t/--run-time, -H/--host,
-e KEY=VALUE, against a real server; and their flags slokit spells otherwise, answered."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests._support import UvicornApp, run_slokit
from tests.servers.raw import RawServer

SPEC = """service: flags
target: ${TARGET:-http://127.0.0.1:1}
scenarios:
  iterations:
    executor: per-vu-iterations
    vus: 1
    iterations: 1
    flow:
      - get: /ok
  arrivals:
    executor: constant-arrival-rate
    rate: 1
    duration: 1h
    flow:
      - get: /ok
  journey:
    executor: per-vu-iterations
    vus: 1
    iterations: 1
    script: journey.py:run
"""

JOURNEY = """import os

from slokit.load import Session


async def run(s: Session) -> None:
    await s.get("/ok")
    s.check(os.environ.get("GREETING") == "hello there", name="env reached the journey")
"""


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornApp]:
    app = UvicornApp("asgi_app:app")
    try:
        yield app
    finally:
        app.kill()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "journey.py").write_text(JOURNEY, encoding="utf-8")
    path = tmp_path / "slokit.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def _results(out: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return results


def test_vus_and_iterations_shape_a_closed_model_scenario(
    server: UvicornApp, spec: Path, tmp_path: Path
) -> None:
    done = run_slokit(
        "run", str(spec), "-s", "iterations", "-u", "3", "-i", "2", "-H", server.url,
        "-w", "1", "--no-store", "-q", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _results(tmp_path / "out")["total"]["count"] == 6  # 3 VUs x 2 iterations
    assert "--vus 3: iterations" in done.stderr
    assert "--iterations 2: iterations" in done.stderr


def test_rate_and_run_time_shape_an_open_model_scenario(
    server: UvicornApp, spec: Path, tmp_path: Path
) -> None:
    # The spec says 1/s for an hour: -t 2s and --rate 20 make it exactly 40 arrivals.
    done = run_slokit(
        "run", str(spec), "-s", "arrivals", "--rate", "20/s", "-t", "2s", "--host", server.url,
        "-w", "1", "--no-store", "-q", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    request = _results(tmp_path / "out")["scenarios"]["arrivals"]["requests"]["GET /ok"]
    assert request["count"] + request["dropped"] == 40
    assert request["dropped"] == 0


def test_env_sets_spec_variables_and_what_journeys_read(
    server: UvicornApp, spec: Path, tmp_path: Path
) -> None:
    done = run_slokit(
        "run", str(spec), "-s", "journey", "-e", f"TARGET={server.url}",
        "--env", "GREETING=hello there", "-w", "1", "--no-store", "-q",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    journey = _results(tmp_path / "out")["scenarios"]["journey"]
    assert journey["requests"]["GET /ok"]["failures"] == {}
    assert journey["checks"] == {"env reached the journey": {"passed": 1, "failed": 0}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "5"], "Locust's --users is -u/--vus here"),
        (["-r", "5"], "Locust's -r (spawn rate) is a ramp here"),
        (["--spawn-rate", "5"], "Locust's spawn rate is a ramp here"),
        (["--headless"], "slokit run is always headless"),
        (["--stage", "30s:10"], "stages live in the spec"),
        (["-t", "http://127.0.0.1:9/api"], "give the target with -H/--host URL or --target URL"),
        (["--out", "json=results.json"], "--out is a directory here, got k6's 'json=results.json'"),
        (["-s", "30s:10"], "-s picks a scenario here (k6's -s is a stage)"),
        (["-e", "NOEQUALS"], "--env expects KEY=VALUE"),
        (["-s", "arrivals", "-u", "5"], "--vus applies to closed-model scenarios"),
        (["-s", "iterations", "--rate", "5"], "--rate applies to open-model scenarios"),
        (["-s", "arrivals", "-i", "5"], "--iterations applies to per-vu-iterations scenarios"),
        (["--rate", "fast"], "--rate: invalid rate 'fast'"),
        (["-u", "0"], "--vus: the number of virtual users must be at least 1"),
    ],
)
def test_other_tools_flags_get_slokits_way(spec: Path, args: list[str], message: str) -> None:
    done = run_slokit("run", str(spec), "--no-store", "-q", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    # Rich boxes errors at the terminal's width: compare without the box and the folds.
    text = " ".join((done.stdout + done.stderr).replace("│", " ").split())
    assert message in text, text


def test_insecure_skip_tls_verify_accepts_a_self_signed_certificate(
    spec: Path, tmp_path: Path
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)  # a CA nobody trusts
    with RawServer(ssl_context=context) as srv:
        base = ["run", str(spec), "-s", "iterations", "-H", srv.url, "-w", "1", "--no-store"]
        refused = run_slokit(*base, "-q", "--out", str(tmp_path / "refused"))
        accepted = run_slokit(
            *base, "-q", "--insecure-skip-tls-verify", "--out", str(tmp_path / "ok")
        )
    assert refused.returncode == 0, refused.stdout + refused.stderr  # no gates: reported
    failed = _results(tmp_path / "refused")["requests"]["GET /ok"]["failures"]
    assert failed == {"connect": 1}  # certificate verify failed
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert _results(tmp_path / "ok")["requests"]["GET /ok"]["failures"] == {}


def test_http_debug_prints_the_first_exchanges_of_each_worker(
    server: UvicornApp, spec: Path
) -> None:
    done = run_slokit(
        "run", str(spec), "-s", "iterations", "-u", "4", "-i", "5", "-H", server.url,
        "-w", "1", "--no-store", "-q", "--http-debug",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    err = done.stderr
    assert err.count("-- http-debug: worker 0, request ") == 10  # of the 20 requests
    assert "-- http-debug: worker 0, request 10 of 10 --" in err
    assert "> GET /ok HTTP/1.1" in err
    assert f"> Host: 127.0.0.1:{server.port}" in err
    assert "< HTTP/1.1 200 (" in err
    assert "< content-type: text/plain; charset=utf-8" in err
    assert "\n< ok\n" in err
