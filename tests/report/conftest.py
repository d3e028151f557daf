"""One real ``slokit run`` (with a warm-up, a failing gate and a hostile request name) whose
reports the HTML and CSV tests read; it runs once per session, against real uvicorn."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, run_slokit

EVIL = "<script>alert(1)</script>"
SERVICE = "report <test> & co"


@dataclass(frozen=True)
class RunOut:
    out: Path
    results: dict[str, Any]
    stdout: str

    def text(self, name: str) -> str:
        return (self.out / name).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunOut]:
    base = tmp_path_factory.mktemp("report-run")
    server = UvicornApp()
    try:
        spec = base / "slokit.yaml"
        spec.write_text(
            textwrap.dedent(
                f"""
                service: "{SERVICE}"
                target: {server.url}
                slos:
                  availability: {{objective: 40%}}
                  ok-latency: {{route: GET /ok, objective: 90%, latency: 5s}}
                gates:
                  - p95(GET /ok) < 5s
                  - error_rate < 1%
                scenarios:
                  steady:
                    executor: constant-arrival-rate
                    rate: 40/s
                    duration: 3s
                    warmup: 1s
                    max_vus: 10
                    flow:
                      - get: /ok
                      - get: /status/500
                        name: "{EVIL}"
                  short:
                    executor: constant-vus
                    vus: 2
                    duration: 1s
                    think: 20ms
                    gate: false
                    flow: [{{get: /items/7}}]
                    gates: ["requests > 1000000"]
                """
            ),
            encoding="utf-8",
        )
        out = base / "out"
        done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "-q")
        # error_rate < 1% fails on purpose (every /status/500 request is a 5xx).
        assert done.returncode == 1, done.stdout + done.stderr
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        yield RunOut(out, results, done.stdout)
    finally:
        server.kill()
