"""Mutated specs through `slokit validate` and `slokit run`: no traceback, exit 2 for every
spec validate refuses, run refusing it the same way before any load, nothing hanging.

A generated corpus (seeded, so a failure reproduces): each case is a valid spec with one
value replaced by something hostile. Validate and refused runs go through the real Typer
app in-process (they stop before any worker starts); accepted specs run for real, one
iteration against a loopback server, in a subprocess with a deadline.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slokit.cli._app import app
from tests._support import run_slokit

HOSTILE: list[object] = [
    "1e30",
    10**30,
    2**63,
    -1,
    0,
    "0",
    1,
    0.5,
    "300",
    "99.9",
    "1",
    "５s",
    "٥",
    "９９%",
    '"\\ud800"',
    '"a\\0b"',
    "[]",
    "{}",
    "null",
    "true",
    "'$$$['",
    "http://u:p@h:1/",
    "http://127.0.0.1:99999",
    "'x\\r\\ny'",
    "9" * 5000,
    "*bomb",
    "nope.csv",
    "-5s",
    "1.0e+30",
]
FIELDS = [
    "vus",
    "iterations",
    "duration",
    "timeout",
    "think",
    "objective",
    "window",
    "latency",
    "gate",
    "status",
    "json",
    "target",
    "header",
    "data",
    "service",
    "route",
]

BASE = """\
service: &bomb {service}
target: {target}
slos:
  avail: {{objective: {objective}, window: {window}}}
  slow: {{objective: 95%, latency: {latency}, route: {route}}}
gates: [{gate}]
scenarios:
  one:
    executor: per-vu-iterations
    vus: {vus}
    iterations: {iterations}
    max_duration: {duration}
    timeout: {timeout}
    think: {think}
    headers: {{X-Test: {header}}}
{data}    flow:
      - get: /
        status: {status}
        checks: [{{json: {json}, exists: true}}]
"""
GOOD = {
    "service": "fuzz",
    "target": "{target}",
    "objective": "99%",
    "window": "1h",
    "latency": "1s",
    "route": "GET /",
    "gate": "error_rate < 100%",
    "vus": "1",
    "iterations": "1",
    "duration": "20s",
    "timeout": "2s",
    "think": "0s",
    "header": "x",
    "data": "",
    "status": "200",
    "json": "$.ok",
}


def _cases(target: str, count: int) -> Iterator[tuple[str, str]]:
    rng = random.Random(13)
    for i in range(count):
        values = dict(GOOD, target=target)
        field = FIELDS[i % len(FIELDS)]
        value = str(rng.choice(HOSTILE))
        if field == "data":
            values["data"] = f"    data: {{file: {value}}}\n"
        else:
            values[field] = value
        yield f"{field}={value[:20]}", BASE.format(**values)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing its keep-alive connection is not news (and would land in
        # the output CliRunner captures for the next case)


@pytest.fixture
def target() -> Iterator[str]:
    server = _Quiet(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _first_problem(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else "")


def test_mutated_specs_are_refused_alike_or_run(tmp_path: Path, target: str) -> None:
    runner = CliRunner()
    ran_for_real = 0
    refused = 0
    for label, text in _cases(target, 60):
        spec = tmp_path / "slokit.yaml"
        spec.write_text(text, encoding="utf-8")
        checked = runner.invoke(app, ["validate", str(spec)])
        assert checked.exception is None or isinstance(checked.exception, SystemExit), (
            label,
            checked.exception,
        )
        assert "Traceback" not in checked.output, label
        assert checked.exit_code in (0, 2), (label, checked.output)
        if checked.exit_code == 2:
            refused += 1
            ran = runner.invoke(app, ["run", str(spec), "--no-store", "-q", "-w", "1"])
            assert ran.exit_code == 2, (label, ran.output)
            assert "Traceback" not in ran.output, label
            assert _first_problem(ran.output) == _first_problem(checked.output), label
        elif ran_for_real < 3:
            # Accepted: the run must start, finish its one iteration, and not exit 2.
            ran_for_real += 1
            done = run_slokit(
                "run", str(spec), "--no-store", "-q", "-w", "1", "-d", "5s", timeout=60
            )
            assert done.returncode in (0, 1), (label, done.stderr)
            assert "Traceback" not in done.stderr + done.stdout, label
    assert refused >= 30  # the corpus is mostly hostile: it must be exercising refusals
    assert ran_for_real >= 1
