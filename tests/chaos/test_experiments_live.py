"""Experiments against the real demo stack: provider, slokit proxy and the demo service.

Abort conditions stop the load, rollbacks always run (also on Ctrl-C), and the journal says
what happened. Each experiment is short (a 3 s warm-up, a fault at 4-5 s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from slokit.chaos import ChaosOptions, parse_experiment, run_experiment
from slokit.demo import DemoChaosStack, spec_path
from slokit.errors import UsageError
from tests._support import slokit_cmd, stop


@pytest.fixture(scope="module")
def stack() -> Iterator[DemoChaosStack]:
    with DemoChaosStack() as running:
        yield running


def _toxics(stack: DemoChaosStack) -> list[object]:
    response = httpx.get(f"{stack.proxy_api}/proxies/provider/toxics", timeout=5)
    result: list[object] = response.json()
    return result


def _http_faults(stack: DemoChaosStack) -> list[object]:
    headers = {"Authorization": f"Bearer {stack.fault_token}"}
    response = httpx.get(f"{stack.url}/ops/faults", headers=headers, timeout=5)
    result: list[object] = response.json()["faults"]
    return result


ABORTING = f"""
title: quotes fail outright
spec: {spec_path()}
hypothesis: {{slos: [availability, quotes-errors], window: 3s, sustain: 2s}}
load: {{scenario: mixed, duration: 14s}}
proxy: {{api: http://127.0.0.1:1}}
method:
  - name: slow provider
    at: 4s
    proxy: provider
    toxic: {{type: latency, attributes: {{latency: 50}}}}
  - {{name: quotes 503, at: 4s, for: 5s, http: {{route: "GET /api/quotes/{{sku}}", abort: 503}}}}
abort:
  - {{slo: quotes-errors, below: 50%, for: 1s}}
rollbacks:
  - reset_proxies: true
  - clear_http_faults: true
"""


def test_an_abort_condition_stops_the_load_and_the_rollbacks_run(
    stack: DemoChaosStack,
) -> None:
    events: list[str] = []
    options = ChaosOptions(
        target=stack.url,
        proxy_api=stack.proxy_api,
        fault_token=stack.fault_token,
        workers=1,
        on_event=lambda _t, text: events.append(text),
    )
    journal = run_experiment(parse_experiment(ABORTING), options)
    assert journal.status == "aborted", journal.reasons
    assert journal.exit_code == 3
    assert journal.aborted_by == "quotes-errors below 50.00% for 1s"
    assert "quotes-errors at 0.00%" in journal.reasons[0]
    assert journal.load["partial"] is True
    # The load stopped within seconds of the abort, long before its 14 s.
    assert journal.load["duration_s"] < 12
    faults = {a.name: a for a in journal.actions if a.phase == "method"}
    assert faults["slow provider"].status == "succeeded"
    assert faults["slow provider"].ended is not None  # removed at the end
    rollbacks = [a for a in journal.actions if a.phase == "rollback"]
    assert [a.status for a in rollbacks] == ["succeeded"] * len(rollbacks)
    assert _toxics(stack) == []
    assert _http_faults(stack) == []
    assert any(e.startswith("ABORT:") for e in events)


def test_a_fault_that_cannot_be_applied_aborts_cleanly(stack: DemoChaosStack) -> None:
    text = ABORTING.replace(
        "abort: 503}", "abort: 503}}\n  - {name: ghost, at: 5s, command: exit 7"
    )
    text = text.replace("{slo: quotes-errors, below: 50%, for: 1s}", "{budget: 90%}")
    journal = run_experiment(
        parse_experiment(text),
        ChaosOptions(stack.url, stack.proxy_api, stack.fault_token, workers=1),
    )
    assert journal.status == "aborted"
    assert "fault 'ghost' could not be applied" in journal.reasons[0]
    assert "exited with 7" in journal.reasons[0]
    assert _toxics(stack) == []
    assert _http_faults(stack) == []


def test_an_unknown_proxy_is_refused_before_the_load(stack: DemoChaosStack) -> None:
    text = ABORTING.replace("proxy: provider", "proxy: pricing")
    with pytest.raises(UsageError, match=r"uses proxy 'pricing'.*it has: provider"):
        run_experiment(
            parse_experiment(text),
            ChaosOptions(stack.url, stack.proxy_api, stack.fault_token, workers=1),
        )


CUT = f"""
title: provider cut off until interrupted
spec: {spec_path()}
hypothesis: {{slos: [availability], window: 3s, sustain: 2s}}
load: {{scenario: mixed, duration: 30s}}
proxy: {{api: http://127.0.0.1:1}}
method:
  - {{name: provider down, at: 4s, proxy: provider, down: true}}
"""


def _read_until(proc: subprocess.Popen[str], needle: str, limit: float) -> list[str]:
    assert proc.stderr is not None
    lines: list[str] = []
    timer = threading.Timer(limit, proc.kill)
    timer.start()
    try:
        for line in proc.stderr:
            lines.append(line)
            if needle in line:
                return lines
    finally:
        timer.cancel()
    raise AssertionError(f"{needle!r} never printed; stderr:\n{''.join(lines)}")


def test_ctrl_c_ends_the_experiment_and_still_rolls_back(
    stack: DemoChaosStack, tmp_path: Path
) -> None:
    path = tmp_path / "cut.yaml"
    path.write_text(CUT)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    cmd = slokit_cmd("chaos", str(path), "-H", stack.url, "--proxy-api", stack.proxy_api)
    proc = subprocess.Popen(
        [*cmd, "-w", "1", "-o", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _read_until(proc, "fault on: provider down", limit=40)
        enabled = httpx.get(f"{stack.proxy_api}/proxies/provider", timeout=5).json()["enabled"]
        assert enabled is False
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        stop(proc)  # type: ignore[arg-type]
    assert proc.returncode == 3, stderr
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "aborted"
    assert "interrupted" in journal["reasons"][0]
    assert "EXPERIMENT ABORTED" in stdout
    # The fault had no end: the runner removed it when the load stopped.
    fault = next(a for a in journal["actions"] if a["phase"] == "method")
    assert fault["status"] == "succeeded"
    assert fault["ended"] is not None
    assert httpx.get(f"{stack.proxy_api}/proxies/provider", timeout=5).json()["enabled"] is True
