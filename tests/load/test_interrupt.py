"""Ctrl-C and SIGTERM end any run within seconds, partial results written, no worker left.

Each run is a real ``slokit run -o DIR`` in its own process group, interrupted the way a
terminal (SIGINT to the group) or a CI runner (SIGTERM to the group) does it. Scenarios last
120 s and allow 60 s per request, so a run that only ends at its deadline, or after waiting
out a request timeout or a think time, misses the 15 s the tests allow by far.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import UvicornApp
from tests.load.test_abort import _alive, finish, start_run, worker_pids
from tests.load.test_engine import write_spec
from tests.servers.raw import RawServer

DEADLINE = 15.0
"""Seconds from the signal to the process's exit: generous, and far below 120 s."""


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    with RawServer() as srv:
        yield srv


def _spec(tmp_path: Path, url: str, scenario: str) -> Path:
    return write_spec(
        tmp_path,
        f"""
        service: interrupt-test
        target: {url}
        slos:
          availability: {{objective: 99%}}
        scenarios:
          long:
            duration: 120s
            timeout: 60s
{scenario}
        """,
    )


def _wait_for_workers(proc: subprocess.Popen[str], count: int, settle: float) -> list[int]:
    """The run's worker pids once ``count`` are up, after ``settle`` more seconds of load."""
    limit = time.monotonic() + 30.0
    workers: list[int] = []
    while time.monotonic() < limit:
        assert proc.poll() is None, "the run ended before it was interrupted"
        workers = worker_pids(proc.pid)
        if len(workers) >= count:
            break
        time.sleep(0.1)
    assert len(workers) == count, f"expected {count} workers, found {workers}"
    limit = time.monotonic() + settle
    while time.monotonic() < limit:
        assert proc.poll() is None, "the run ended before it was interrupted"
        time.sleep(0.1)
    return workers


def _interrupt(
    tmp_path: Path,
    spec: Path,
    *,
    workers: int = 2,
    sig: signal.Signals = signal.SIGINT,
    settle: float = 2.5,
) -> dict[str, object]:
    """Start the run, signal its process group, check how it ended; return the scenario."""
    out = tmp_path / "out"
    proc = start_run(spec, out, workers=workers)
    pids = _wait_for_workers(proc, workers, settle)
    sent = time.monotonic()
    os.killpg(proc.pid, sig)
    try:
        code, text = finish(proc, timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the run did not end within {DEADLINE} s of {sig.name}")
    took = time.monotonic() - sent
    assert code == 3, text
    assert "Traceback" not in text
    assert "PARTIAL" in text
    assert took < DEADLINE
    leftover = [p for p in pids if _alive(p)]
    assert not leftover, f"worker processes left behind: {leftover}"
    res = json.loads((out / "results.json").read_text())
    assert res["partial"] is True
    scenario: dict[str, object] = res["scenarios"]["long"]
    assert scenario["partial"] is True
    assert "interrupted" in str(scenario["abort_reason"])
    return scenario


def _count(scenario: dict[str, object]) -> int:
    total = scenario["total"]
    assert isinstance(total, dict)
    return int(total["count"])


def test_ctrl_c_while_a_million_vus_are_being_created(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    # Each VU sends one request and thinks: the load is light, the creation is the work.
    spec = _spec(
        tmp_path,
        shared_app.url,
        """
            executor: constant-vus
            vus: 1000000
            think: 60s
            flow: [{get: /ok}]
        """,
    )
    scenario = _interrupt(tmp_path, spec, settle=3.0)
    assert _count(scenario) > 0


def test_ctrl_c_during_a_long_think_time(tmp_path: Path, shared_app: UvicornApp) -> None:
    spec = _spec(
        tmp_path,
        shared_app.url,
        """
            executor: constant-vus
            vus: 4
            think: 100s
            flow: [{get: /ok}]
        """,
    )
    scenario = _interrupt(tmp_path, spec)
    assert _count(scenario) == 4  # one request per VU, then the think time


def test_ctrl_c_while_requests_hang_on_a_stalled_server(
    tmp_path: Path, raw_server: RawServer
) -> None:
    # /stall reads each request and never answers: every VU hangs in its request. Four of
    # them are busy within 0.2 s of the start, so arrivals are dropped however late the
    # load starts within the settle time on a loaded machine.
    spec = _spec(
        tmp_path,
        raw_server.url,
        """
            executor: constant-arrival-rate
            rate: 20/s
            max_vus: 4
            flow: [{get: /stall}]
        """,
    )
    scenario = _interrupt(tmp_path, spec)
    assert int(scenario["total"]["dropped"]) > 0  # type: ignore[index]


def test_ctrl_c_between_sparse_arrivals(tmp_path: Path, shared_app: UvicornApp) -> None:
    # At 2/min the executor waits 30 s between arrivals: it must notice the stop meanwhile.
    spec = _spec(
        tmp_path,
        shared_app.url,
        """
            executor: constant-arrival-rate
            rate: 2/min
            max_vus: 2
            flow: [{get: /ok}]
        """,
    )
    scenario = _interrupt(tmp_path, spec, workers=1)
    assert _count(scenario) == 1  # the arrival at second 0


def test_sigterm_to_the_group_with_several_workers(tmp_path: Path, shared_app: UvicornApp) -> None:
    # A CI runner cancelling a job signals the whole group, workers included: they must stop
    # and ship what they measured, not die with their last second unsent.
    key = f"sigterm-{tmp_path.name}"
    spec = _spec(
        tmp_path,
        shared_app.url,
        f"""
            executor: constant-arrival-rate
            rate: 60/s
            max_vus: 20
            flow: [{{post: /count/{key}}}]
        """,
    )
    scenario = _interrupt(tmp_path, spec, workers=3, sig=signal.SIGTERM)
    assert "SIGTERM" in str(scenario["abort_reason"])
    with urllib.request.urlopen(f"{shared_app.url}/count/{key}", timeout=5) as resp:
        served = int(json.load(resp)["hits"])
    assert served > 0
    assert _count(scenario) == served  # every request the server answered is in the results
