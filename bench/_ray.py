"""Ray leg: what running a worker as a Ray actor costs, and how far one controller scales.

Rows, against one nginx worker on the server core: slokit with one local worker process,
with one Ray actor, and with two Ray actors, all on the generator core (the local run is
pinned; the Ray node is started pinned, so its actors inherit the core). The same closed
model as the throughput leg. Two actors on one core cannot show scaling: they only say
what a second actor costs when it has no core of its own. The bar: one actor >= 0.9x one
local process.

Then the controller's side, which bounds how many workers one driver can take: the cost of
decoding and merging one worker's per-second snapshot (five request names, full
histograms), measured here and extrapolated to 100 and 1,000 workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import BENCH, Cores, free_port, pinned, run_to_end
from _throughput import running_nginx

SPEC = BENCH / "specs" / "throughput.yaml"
BAR = 0.9
"""One Ray actor's req/s over one local worker process's."""


@dataclass(frozen=True)
class RayRow:
    label: str
    workers: int
    rps: float | None
    note: str = ""


def _ray_bin() -> str:
    return str(Path(sys.executable).parent / "ray")


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def _run(
    url: str, seconds: float, work: Path, label: str, extra: list[str], core: int | None
) -> float | None:
    out = work / f"ray-{label}"
    cmd = [sys.executable, "-m", "slokit", "run", str(SPEC), "--duration", f"{seconds:g}s"]
    cmd += ["--target", url, "--out", str(out), "--quiet", "--no-store", *extra]
    run_to_end(pinned(cmd, core), work / f"ray-{label}.log", timeout=seconds + 120)
    results = out / "results.json"
    if not results.is_file():
        return None
    data = json.loads(results.read_text())
    return float(data["scenarios"]["throughput"]["total"]["rps"])


def ray_leg(seconds: float, cores: Cores, work: Path) -> tuple[list[RayRow], float]:
    rows: list[RayRow] = []
    try:
        import ray  # noqa: F401
    except ImportError:
        return [RayRow("ray actors", 0, None, "Ray not installed: pip install 'slokit[ray]'")], 0.0
    work = work / "ray-leg"  # its own nginx prefix: the throughput leg's is in work/nginx
    work.mkdir(exist_ok=True)
    with running_nginx(work, cores) as url:
        local = _run(url, seconds, work, "local", ["--workers", "1"], cores.generator)
        rows.append(RayRow("local process", 1, local))
        port = free_port()
        temp = tempfile.mkdtemp(prefix="slokit-bench-ray-")  # marks this cluster's processes
        start = [_ray_bin(), "start", "--head", "--port", str(port), "--num-cpus", "2"]
        start += ["--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp]
        start += ["--object-store-memory", "80000000", "--node-ip-address", "127.0.0.1"]
        started = subprocess.run(
            pinned(start, cores.generator), env=_env(), capture_output=True, text=True, check=False
        )
        try:
            if started.returncode != 0:
                note = f"ray start failed: {started.stderr.strip().splitlines()[-1:]}"
                return [*rows, RayRow("ray actors", 0, None, note)], _merge_cost()
            address = f"127.0.0.1:{port}"
            for n in (1, 2):
                rps = _run(url, seconds, work, f"ray{n}", ["--ray", address, "-w", str(n)], None)
                rows.append(RayRow(f"Ray, {n} actor{'s' if n > 1 else ''}", n, rps))
        finally:
            _stop_cluster(temp)
    return rows, _merge_cost()


def _stop_cluster(temp: str) -> None:
    """Stop the processes of the cluster started with ``temp`` (not ``ray stop``, which
    stops every cluster on the machine), then remove its directory."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        if temp in " ".join(proc.info["cmdline"] or ()):
            found.update({p.pid: p for p in (proc, *proc.children(recursive=True))})
    for proc in found.values():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(list(found.values()), timeout=5)
    shutil.rmtree(temp, ignore_errors=True)


def _merge_cost(rounds: int = 2000) -> float:
    """Microseconds to decode and merge one worker's one-second snapshot."""
    from slokit.results import Aggregator, RequestStats, Snapshot

    requests = {}
    for i in range(5):
        stats = RequestStats(f"GET /api/route/{i}", "GET", f"/api/route/{i}")
        for n in range(2000):
            stats.latency.record((n % 997) * 37 + 150)
        stats.count = 2000
        requests[stats.name] = stats
    wire = Snapshot(worker=0, second=0, warmup=False, requests=requests, vus=50).to_dict()
    aggregator = Aggregator("merge", "constant-vus", 0.0, 1)
    begin = time.perf_counter()
    for second in range(rounds):
        wire["second"] = second
        aggregator.add(Snapshot.from_dict(wire))
    return (time.perf_counter() - begin) / rounds * 1e6
