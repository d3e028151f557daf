"""Accuracy leg: slokit's open-model latencies against a server whose true percentiles are known.

bench/stall_server.py freezes for FREEZE seconds every PERIOD seconds. A request arriving at a
uniformly random moment waits max(0, freeze_end - t), so the latency distribution is exact:
P(latency > x) = (FREEZE - x) / PERIOD for 0 <= x < FREEZE. Coordinated omission (latency
timed from when a request was finally sent, not when it was due) would hide most of it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from _common import BENCH, LOOPBACK, Background, Cores, free_port, pinned
from _slokit import run_slokit

PERIOD = 2.0
FREEZE = 0.5
RATE = 200.0
"""Arrivals per second, as in bench/specs/stall.yaml."""


def theory_percentile(p: float) -> float:
    """Seconds: the p-th percentile (0-100) of max(0, freeze_end - t) for uniform arrivals."""
    above = 1.0 - p / 100.0
    return max(0.0, FREEZE - above * PERIOD)


@dataclass(frozen=True)
class Accuracy:
    p90_ms: float | None
    p99_ms: float | None
    achieved_rate: float | None
    requests: int
    dropped: int
    problem: str

    @property
    def theory_p90_ms(self) -> float:
        return theory_percentile(90) * 1000

    @property
    def theory_p99_ms(self) -> float:
        return theory_percentile(99) * 1000


def accuracy_leg(seconds: float, cores: Cores, workdir: Path) -> Accuracy:
    port = free_port()
    cmd = [sys.executable, str(BENCH / "stall_server.py"), "--host", LOOPBACK, "--port", str(port)]
    cmd += ["--period", str(PERIOD), "--freeze", str(FREEZE)]
    url = f"http://{LOOPBACK}:{port}"
    with Background("stall server", pinned(cmd, cores.server), workdir / "stall.log") as server:
        server.wait_port(port)
        print(f"  slokit at {RATE:g}/s ({seconds:g} s) ...", flush=True)
        run = run_slokit(
            "stall.yaml", url=url, seconds=seconds, core=cores.generator, workdir=workdir,
            label="accuracy",
        )  # fmt: skip
    if run.results is None:
        return Accuracy(None, None, None, 0, 0, run.problem)
    total = run.total
    scenario = run.scenario()
    window = float(scenario["duration_s"]) - float(scenario.get("warmup_s", 0.0))
    count = int(total["count"])
    dropped = int(total.get("dropped", 0))
    latency = total["latency_ms"]
    rate = (count + dropped) / window if window > 0 else None
    return Accuracy(float(latency["p90"]), float(latency["p99"]), rate, count, dropped, "")
