"""Streams leg: what holding thousands of SSE streams costs the load generator.

bench/sse_server.py (raw asyncio, one event per client per second, spread over the second)
runs on the server core. Each client tool connects N clients on the generator core; once
the server counts all N open, the leg measures for ``seconds``: CPU time of every process of
the tool (as % of one core), their peak RSS, and the events the server delivered. Rows:
slokit with one worker, the httpx peer (bench/sse_peer.py), and slokit with 5 x N clients
over two workers. The bars are on the one-worker row: under 10 % of a core and 200 MiB.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from _common import BENCH, LOOPBACK, Background, Cores, free_port, pinned

CPU_BAR = 10.0
"""% of one core the one-worker generator may use holding N streams."""
RSS_BAR = 200.0
"""MiB the one-worker generator's worker process may reach."""
CONNECT_LIMIT = 90.0
"""Seconds the clients get to open every stream before the window starts anyway."""


@dataclass(frozen=True)
class StreamRow:
    tool: str
    clients: int
    workers: int
    connected: int
    worker_cpu: float
    """% of one core: the busiest process (slokit's worker; the peer's only process)."""
    total_cpu: float
    """% of one core: every process of the tool (slokit's controller included)."""
    worker_rss: float
    """MiB, the busiest process's peak."""
    total_rss: float
    """MiB, the peak of the sum over the tool's processes."""
    events_per_s: float
    note: str = ""


def _stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/stats", timeout=5) as response:
        stats: dict[str, int] = json.loads(response.read())
    return stats


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu(procs: list[psutil.Process]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[proc.pid] = times.user + times.system
    return seconds


def _measure(
    tool: str, clients: int, workers: int, pid: int, port: int, seconds: float
) -> StreamRow:
    deadline = time.monotonic() + CONNECT_LIMIT
    while (connected := _stats(port)["open"]) < clients and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the last connections' handshakes and first events settle
    procs = _tree(pid)
    before, sent_before, start = _cpu(procs), _stats(port)["events"], time.monotonic()
    peak: dict[int, float] = {}
    peak_total = 0.0
    while time.monotonic() - start < seconds:
        total = 0.0
        for proc in procs:
            try:
                rss = proc.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                continue
            peak[proc.pid] = max(peak.get(proc.pid, 0.0), rss)
            total += rss
        peak_total = max(peak_total, total)
        time.sleep(0.25)
    after, sent_after = _cpu(procs), _stats(port)["events"]
    elapsed = time.monotonic() - start
    used = {p: after[p] - before[p] for p in after if p in before}
    busiest = max(used, key=lambda p: used[p]) if used else pid
    note = "" if connected >= clients else f"only {connected:,} of {clients:,} connected"
    return StreamRow(
        tool,
        clients,
        workers,
        connected,
        worker_cpu=100 * used.get(busiest, 0.0) / elapsed,
        total_cpu=100 * sum(used.values()) / elapsed,
        worker_rss=peak.get(busiest, 0.0),
        total_rss=peak_total,
        events_per_s=(sent_after - sent_before) / elapsed,
        note=note,
    )


def _slokit_cmd(workdir: Path, port: int, clients: int, workers: int, seconds: float) -> list[str]:
    spec = workdir / f"sse-{clients}.yaml"
    duration = int(CONNECT_LIMIT + seconds + 30)  # stopped after the window; never reached
    spec.write_text(
        f"service: bench-sse\ntarget: http://{LOOPBACK}:{port}\nscenarios:\n  listeners:\n"
        f"    executor: constant-vus\n    vus: {clients}\n    duration: {duration}s\n"
        "    flow:\n      - sse: /events\n        hold: 1h\n"
    )
    out = workdir / f"slokit-sse-{clients}"
    return [
        sys.executable, "-m", "slokit", "run", str(spec), "--workers", str(workers),
        "--out", str(out), "--quiet", "--no-store",
    ]  # fmt: skip


def _peer_cmd(port: int, clients: int, seconds: float) -> list[str]:
    return [
        sys.executable, str(BENCH / "sse_peer.py"), "--url", f"http://{LOOPBACK}:{port}/events",
        "--clients", str(clients), "--seconds", str(CONNECT_LIMIT + seconds + 30),
    ]  # fmt: skip


def streams_leg(clients: int, seconds: float, cores: Cores, workdir: Path) -> list[StreamRow]:
    port = free_port()
    server_cmd = [sys.executable, str(BENCH / "sse_server.py"), "--port", str(port)]
    legs = [
        ("slokit", clients, 1, _slokit_cmd(workdir, port, clients, 1, seconds)),
        ("httpx", clients, 1, _peer_cmd(port, clients, seconds)),
        ("slokit", 5 * clients, 2, _slokit_cmd(workdir, port, 5 * clients, 2, seconds)),
    ]
    rows: list[StreamRow] = []
    with Background("sse server", pinned(server_cmd, cores.server), workdir / "sse.log") as srv:
        srv.wait_port(port)
        for tool, n, workers, cmd in legs:
            print(f"  {tool}: {n:,} SSE clients on {workers} worker(s) ...", flush=True)
            log = workdir / f"{tool}-sse-{n}.log"
            with Background(tool, pinned(cmd, cores.generator), log) as client:
                assert client.proc is not None
                rows.append(_measure(tool, n, workers, client.proc.pid, port, seconds))
            deadline = time.monotonic() + 30  # the next leg starts from no open stream
            while _stats(port)["open"] and time.monotonic() < deadline:
                time.sleep(0.2)
    return rows
