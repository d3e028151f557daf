"""Service leg: what slokit's middleware costs a FastAPI service, next to a peer's.

The demo app runs under uvicorn (one worker, pinned to the server core) bare, with slokit's
full stack, with prometheus-fastapi-instrumentator, and with ``floor`` (``_floor.py``: the
least a pure-Python layer with slokit's per-request contract can do, for scale); wrk
(pinned to the other core) loads two routes: the demo's daily-horoscope read, and a bare
``/items/{id}`` that returns a tiny dict (the worst case for any middleware's share). The
variants take turns, several rounds, and each variant's figure is its median, so a noisy
second hurts every variant alike.
"""

from __future__ import annotations

import re
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from _common import BENCH, LOOPBACK, Background, Cores, free_port, pinned, run_to_end

VARIANTS = ("bare", "slokit", "pfi", "floor")
ROUTES = ("/api/horoscopes/daily", "/items/42")
CONNECTIONS = 50


@dataclass(frozen=True)
class ServiceRow:
    route: str
    rps: dict[str, float | None]

    def ratio(self, variant: str) -> float | None:
        bare, other = self.rps.get("bare"), self.rps.get(variant)
        return other / bare if bare and other else None


def _wrk(url: str, seconds: float, cores: Cores, log: Path) -> float | None:
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", url]
    done = run_to_end(pinned(cmd, cores.generator), log, timeout=seconds + 30)
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.output)
    return float(match.group(1)) if match else None


def _serve(variant: str, cores: Cores, work: Path) -> tuple[Background, int]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", "service_app:app", "--app-dir", str(BENCH),
        "--host", LOOPBACK, "--port", str(port), "--workers", "1",
        "--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "uvloop",
    ]  # fmt: skip
    log = work / f"service-{variant}.log"
    env = ["env", f"SLOKIT_BENCH_VARIANT={variant}"]
    return Background(f"uvicorn ({variant})", [*env, *pinned(cmd, cores.server)], log), port


def service_leg(seconds: float, rounds: int, cores: Cores, work: Path) -> list[ServiceRow]:
    if shutil.which("wrk") is None:
        print("  wrk not installed (apt-get install wrk): service leg skipped")
        return []
    samples: dict[tuple[str, str], list[float]] = {}
    for n in range(rounds):
        for variant in VARIANTS:
            print(f"  round {n + 1}/{rounds}: {variant} ...", flush=True)
            server, port = _serve(variant, cores, work)
            with server:
                server.wait_port(port)
                url = f"http://{LOOPBACK}:{port}"
                _wrk(url + ROUTES[0], 1.0, cores, work / "warmup.log")  # imports, caches, JIT-free
                for route in ROUTES:
                    log = work / f"wrk-{variant}-{n}-{route.strip('/').replace('/', '_')}.log"
                    rps = _wrk(url + route, seconds, cores, log)
                    if rps is not None:
                        samples.setdefault((variant, route), []).append(rps)
    return [
        ServiceRow(
            route,
            {
                v: statistics.median(samples[(v, route)]) if samples.get((v, route)) else None
                for v in VARIANTS
            },
        )
        for route in ROUTES
    ]
