"""VU-scale leg: 50,000 closed-model users at one request a second each, and their memory.

The whole generator (the CLI and its worker processes) is sampled every 0.25 s with psutil;
its peak RSS is the figure. A second run with 1,000 users of the same shape gives the cost
of one user: (peak RSS at 50,000 - peak RSS at 1,000) / 49,000, an upper bound, for the bigger
run also holds more connections in flight and fuller per-second histograms. Rate: requests a
second over the hold, against what 50,000 users thinking 1 s each can send
(50,000 / (1 s + latency)).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from _common import BENCH, Cores, _stop_group
from _throughput import running_nginx

BIG, SMALL = 50_000, 1_000
THINK = 1.0


@dataclass(frozen=True)
class VuRun:
    vus: int
    rps: float | None
    expected_rps: float | None
    peak_rss: int | None
    p99_ms: float | None
    failures: int
    saturated: bool | None
    note: str


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def _run(url: str, vus: int, workers: int, work: Path, seconds: float) -> VuRun:
    out = work / f"vus-{vus}"
    cmd = [sys.executable, "-m", "slokit", "run", str(BENCH / "specs" / "vus.yaml")]
    cmd += ["--workers", str(workers), "--target", url, "-e", f"VUS={vus}"]
    cmd += ["-e", f"RAMP={seconds:g}s", "-e", f"HOLD={2 * seconds:g}s"]
    cmd += ["--out", str(out), "--quiet", "--no-store"]
    peak = [0]
    with (work / f"vus-{vus}.log").open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ},
        )  # fmt: skip
    stop = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not stop.wait(0.25):
            peak[0] = max(peak[0], _tree_rss(root))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        pass
    finally:
        stop.set()
        sampler.join(timeout=5)
        _stop_group(proc, grace=10.0)
    results_file = out / "results.json"
    if not results_file.is_file():
        return VuRun(vus, None, None, None, None, 0, None, f"no results (exit {proc.returncode})")
    sc = next(iter(json.loads(results_file.read_text())["scenarios"].values()))
    total = sc["total"]
    latency_s = float(total["latency_ms"]["mean"]) / 1000
    return VuRun(
        vus=vus,
        rps=float(total["rps"]),
        expected_rps=vus / (THINK + latency_s),
        peak_rss=peak[0] or None,
        p99_ms=float(total["latency_ms"]["p99"]),
        failures=sum(total.get("failures", {}).values()),
        saturated=bool(sc["generator"]["saturated"]),
        note=f"-w {workers}, {sc['generator']['runner']} runner",
    )


def vus_leg(cores: Cores, workdir: Path, big: int = BIG, seconds: float = 10.0) -> list[VuRun]:
    """``big`` users (and ``SMALL`` for the per-user cost): they arrive over ``seconds`` (the
    warm-up), then hold for twice that."""
    work = workdir / "vus"
    work.mkdir()
    workers = os.cpu_count() or 1
    runs = []
    with running_nginx(work, cores) as url:
        for vus in (SMALL, big):
            print(
                f"  {vus:,} VUs, think {THINK:g} s, -w {workers} ({3 * seconds:g} s) ...",
                flush=True,
            )
            runs.append(_run(url, vus, workers, work, seconds))
            time.sleep(1)
    return runs
