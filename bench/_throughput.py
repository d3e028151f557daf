"""Throughput leg: wrk, Locust and slokit, each pinned to one core, against one nginx worker."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

from _common import BENCH, LOOPBACK, Background, Cores, free_port, pinned, run_to_end, tail
from _slokit import run_slokit

USERS = 50
LOCUST_EXTRA = 2.0
"""Locust runs this much longer than the others: its aggregate includes the 1 s spawn ramp."""

_TEMP_MODULES = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True)
class Measured:
    tool: str
    rps: float | None
    note: str


def _nginx_conf(prefix: Path, port: int, core: int | None) -> str:
    built = subprocess.run(["nginx", "-V"], capture_output=True, text=True, check=False).stderr
    temp_paths = []
    for module in _TEMP_MODULES:
        flag = "http" if module == "client_body" else f"http_{module}_module"
        if f"--without-{flag}" in built:
            continue
        # Default temp paths live under /var/lib/nginx: keep everything in our own directory.
        temp_paths.append(f"    {module}_temp_path {prefix}/{module}_temp;")
    affinity = "" if core is None else "worker_cpu_affinity " + "1" + "0" * core + ";"
    template = Template((BENCH / "nginx.conf").read_text())
    return template.substitute(
        nofile=_nofile(),
        affinity=affinity,
        prefix=prefix,
        host=LOOPBACK,
        port=port,
        temp_paths="\n".join(temp_paths),
    )


def _nofile() -> int:
    """Descriptors nginx may ask for: as many as the hard limit lets it, up to 65,536."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)


@contextlib.contextmanager
def running_nginx(workdir: Path, cores: Cores) -> Iterator[str]:
    """nginx on a free loopback port for the block; yields its URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = workdir / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(_nginx_conf(prefix, port, cores.server))
    cmd = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    try:
        with Background("nginx", pinned(cmd, cores.server), workdir / "nginx.log") as server:
            server.wait_port(port)
            yield f"http://{LOOPBACK}:{port}"
    finally:
        log = tail(prefix / "error.log")
        if "[emerg]" in log or "[alert]" in log:
            print(f"nginx error log:\n{log}", file=sys.stderr)


def run_wrk(url: str, seconds: float, cores: Cores, workdir: Path) -> Measured:
    if shutil.which("wrk") is None:
        return Measured("wrk", None, "wrk not installed (apt-get install wrk)")
    cmd = ["wrk", "-t1", f"-c{USERS}", f"-d{seconds:g}s", url + "/"]
    done = run_to_end(pinned(cmd, cores.generator), workdir / "wrk.log", timeout=seconds + 30)
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.output)
    if match is None:
        return Measured("wrk", None, f"no Requests/sec in wrk output:\n{done.output[-400:]}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", done.output)
    note = f"-t1 -c{USERS} {seconds:g}s" + (f"; {errors.group(0)}" if errors else "")
    return Measured("wrk", float(match.group(1)), note)


def run_locust(url: str, seconds: float, cores: Cores, workdir: Path) -> Measured:
    run_for = seconds + LOCUST_EXTRA
    prefix = workdir / "locust"
    cmd = [sys.executable, "-m", "locust", "-f", str(BENCH / "locustfile.py"), "--headless"]
    cmd += ["-u", str(USERS), "-r", str(USERS), "-t", f"{run_for:g}s", "--host", url]
    cmd += ["--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "2"]
    done = run_to_end(pinned(cmd, cores.generator), workdir / "locust.log", timeout=run_for + 60)
    stats = Path(f"{prefix}_stats.csv")
    if not stats.is_file():
        return Measured("locust", None, f"no stats CSV (exit {done.returncode}): {tail(stats)}")
    with stats.open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows.get("Aggregated")
    if total is None:
        return Measured("locust", None, "no Aggregated row in the stats CSV")
    failures = int(total["Failure Count"])
    note = f"FastHttpUser x{USERS}, 1 process, {run_for:g}s incl. 1 s spawn ramp (aggregate)"
    if failures:
        note += f"; {failures} failures"
    return Measured("locust", float(total["Requests/s"]), note)


def run_slokit_leg(url: str, seconds: float, cores: Cores, workdir: Path) -> Measured:
    return _slokit(url, seconds, cores, workdir, "callbacks")


def run_slokit_tasks_leg(url: str, seconds: float, cores: Cores, workdir: Path) -> Measured:
    """The same run on the task runner (a coroutine per VU): the callback runner's gain,
    measured against the same nginx in the same leg."""
    return _slokit(url, seconds, cores, workdir, "tasks")


def _slokit(url: str, seconds: float, cores: Cores, workdir: Path, runner: str) -> Measured:
    tool = "slokit" if runner == "callbacks" else "slokit-tasks"
    run = run_slokit(
        "throughput.yaml", url=url, seconds=seconds, core=cores.generator, workdir=workdir,
        label=f"throughput-{runner}", env={"SLOKIT_LANES": "1" if runner == "callbacks" else "0"},
    )  # fmt: skip
    if run.results is None:
        return Measured(tool, None, run.problem)
    total = run.total
    failures = sum(total.get("failures", {}).values())
    used = run.scenario()["generator"]["runner"]
    note = f"constant-vus {USERS}, --workers 1, {seconds:g}s incl. 1 s warm-up, {used} runner"
    if failures:
        note += f"; {failures} failures"
    return Measured(tool, float(total["rps"]), note)


def _peer(client: str) -> Callable[[str, float, Cores, Path], Measured]:
    """aiohttp or httpx driven by bench/http_peers.py: 50 tasks on keep-alive connections,
    on the standard asyncio loop (what a team's hand-written load script would be)."""

    def leg(url: str, seconds: float, cores: Cores, workdir: Path) -> Measured:
        cmd = [sys.executable, str(BENCH / "http_peers.py"), "--client", client, "--url", url]
        cmd += ["--users", str(USERS), "--seconds", f"{seconds:g}"]
        done = run_to_end(pinned(cmd, cores.generator), workdir / f"{client}.log", seconds + 60)
        lines = [line for line in done.output.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            return Measured(client, None, f"exit {done.returncode}: {done.output[-300:]}")
        result = json.loads(lines[-1])
        note = f"{USERS} asyncio tasks, keep-alive, one process"
        if result["failures"]:
            note += f"; {result['failures']:,} failures"
        return Measured(client, float(result["rps"]), note)

    return leg


def throughput_leg(seconds: float, cores: Cores, workdir: Path) -> list[Measured]:
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed: apt-get install -y nginx-light wrk")
    legs = {
        "wrk": run_wrk,
        "locust": run_locust,
        "aiohttp": _peer("aiohttp"),
        "httpx": _peer("httpx"),
        "slokit": run_slokit_leg,
        "slokit-tasks": run_slokit_tasks_leg,
    }
    measured = []
    with running_nginx(workdir, cores) as url:
        for name, leg in legs.items():
            print(f"  {name} ({seconds:g} s) ...", flush=True)
            measured.append(leg(url, seconds, cores, workdir))
    return measured
