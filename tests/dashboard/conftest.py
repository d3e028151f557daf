"""A run history with known numbers, and the real ``slokit dashboard`` serving it.

The history (on real SQLite and on the machine's real PostgreSQL) holds, newest last:

* ``orders-api`` / ``baseline``: six runs an hour apart; run *i* answered 90 requests in
  1 ms and 10 in (1.2 + 0.1 i) ms, so its p95 is exactly 1.2 + 0.1 i ms (latencies under 2 ms
  are exact), and failed *i* of them with a 5xx. Its gate ``p95(...) < 1.55ms`` passes in the
  first four runs and fails in the last two; its SLO "90% within 2ms" always holds. The last
  run is labelled ``env=staging``, the others ``env=ci``.
* ``orders-api`` / ``smoke`` and ``stress``: one run of both scenarios.
* ``EVIL_SERVICE`` / ``EVIL_SCENARIO``: one aborted run whose names are hostile HTML and
  hold a ``/`` (trend URLs must encode it).
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from slokit.results import Verdict
from slokit.store import GitInfo, RunStore, open_store
from tests._pg import pg_schema_url
from tests._support import slokit_cmd, stop, wait_port
from tests.store.conftest import gate, make_run

SERVICE = "orders-api"
REQUEST = "GET /api/orders"
EVIL_SERVICE = '<b>evil</b> & "co"'
EVIL_SCENARIO = "x/<script>alert(1)</script>"
BASELINE_RUNS = 6
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(hours=BASELINE_RUNS + 2)
GIT = GitInfo("0123456789abcdef0123456789abcdef01234567", "main")


GATE = f"p95({REQUEST}) < 1.55ms"
SLO = "orders-latency"


def baseline_p95_ms(i: int) -> float:
    return 1.2 + 0.1 * i


def baseline_verdicts(i: int) -> list[Verdict]:
    """The latency gate (passes while p95 < 1.55 ms) and a latency SLO that always holds."""
    p95 = baseline_p95_ms(i) / 1000.0
    total = 100
    return [
        Verdict(GATE, "gate", "baseline", p95 < 0.00155, p95, 0.00155, "<", "s", f"p95 = {p95}"),
        Verdict(
            SLO,
            "slo",
            "baseline",
            True,
            1.0,
            0.9,
            ">=",
            "ratio",
            f"100% of {total} requests of {REQUEST} within 2ms (objective 90%)",
            good=total,
            total=total,
        ),
    ]


@dataclass(frozen=True)
class History:
    """What was recorded: run ids by role."""

    url: str
    project: Path
    baseline: tuple[int, ...]
    """The six baseline runs, oldest first."""
    pair: int
    """The run of smoke and stress."""
    evil: int


def fill(store: RunStore, project: Path, url: str) -> History:
    baseline = []
    for i in range(BASELINE_RUNS):
        slow = int(baseline_p95_ms(i) * 1000)
        requests = {REQUEST: ([1000] * 90 + [slow] * 10, {"5xx": i} if i else {})}
        run = make_run(
            requests,
            service=SERVICE,
            scenarios=("baseline",),
            verdicts=baseline_verdicts(i),
            started=START + timedelta(hours=i),
        )
        labels = {"env": "staging" if i == BASELINE_RUNS - 1 else "ci"}
        baseline.append(store.record(run, spec_text="spec", labels=labels, git=GIT).id)
    pair = make_run(
        {REQUEST: ([1500] * 50, {})},
        service=SERVICE,
        scenarios=("smoke", "stress"),
        verdicts=[gate("error_rate < 1%", True, "smoke"), gate("error_rate < 1%", True, "stress")],
        started=START + timedelta(hours=BASELINE_RUNS, minutes=30),
    )
    pair_id = store.record(pair, spec_text="spec", labels={}, git=None).id
    evil = make_run(
        {REQUEST: ([1000] * 5, {})},
        service=EVIL_SERVICE,
        scenarios=(EVIL_SCENARIO,),
        partial=True,
        started=START + timedelta(hours=BASELINE_RUNS + 1),
    )
    evil_id = store.record(evil, spec_text="evil", labels={"who": "<i>me</i>"}, git=None).id
    return History(url, project, tuple(baseline), pair_id, evil_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> History:
    """The history above, in a fresh store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    else:
        url = pg_schema_url(request.getfixturevalue("pg_database"))
    with open_store(url, project_dir=tmp_path) as store:
        return fill(store, tmp_path, url)


@pytest.fixture
def sqlite_history(tmp_path: Path) -> History:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with open_store(url, project_dir=tmp_path) as store:
        return fill(store, tmp_path, url)


@dataclass
class Dashboard:
    url: str
    proc: subprocess.Popen[str]

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20, **kw)  # type: ignore[arg-type]


_URL = re.compile(r"slokit dashboard on (http://\S+)")


@contextmanager
def running_dashboard(*args: str, cwd: Path | None = None) -> Iterator[Dashboard]:
    """``slokit dashboard --port 0 ARGS`` as a real subprocess; always stopped."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        slokit_cmd("dashboard", "--port", "0", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                line = proc.stdout.readline()
                break
        match = _URL.search(line)
        if match is None:
            stop(proc)  # type: ignore[arg-type]
            errors = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"slokit dashboard did not start: {line!r} {errors}")
        url = match.group(1)
        wait_port(int(url.rsplit(":", 1)[1]), proc)  # type: ignore[arg-type]
        yield Dashboard(url, proc)
    finally:
        stop(proc)  # type: ignore[arg-type]


@pytest.fixture
def dashboard(history: History) -> Iterator[Dashboard]:
    with running_dashboard("--store", history.url, "--project", str(history.project)) as d:
        yield d
