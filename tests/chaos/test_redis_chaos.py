"""Seed 004's "Redis/RQ queue: latency injection + crash" as chaos experiments on real
processes: a Redis of the test's own (never the machine's on 6379), a service keeping its
rate limits in it, and ``slokit chaos`` crashing Redis (SIGKILL, then a restart) or slowing it
through ``slokit proxy`` while the load runs. The experiment says whether the service degraded
as its options say: failing open (the SLO holds) or failing closed (it falls, then recovers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests._proxy import fault_proxy
from tests._support import free_port, run_slokit
from tests.asgi._service import call, service

if shutil.which("redis-server") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI needs redis-server for the Redis chaos experiments")
    pytest.skip("redis-server is not installed", allow_module_level=True)


@contextmanager
def private_redis(tmp: Path) -> Iterator[tuple[int, Path, str]]:
    """A redis-server on a free port, daemonised with a pid file (so an experiment's command
    can SIGKILL it and start it again); whatever is running from that pid file is stopped."""
    port = free_port()
    pidfile = tmp / f"redis-{port}.pid"
    start = (
        f"redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no "
        f"--daemonize yes --pidfile {pidfile} --dir {tmp} --logfile {tmp}/redis-{port}.log"
    )
    subprocess.run(start, shell=True, check=True, timeout=10)
    try:
        for _ in range(100):  # bounded: until it answers
            if _answers(port):
                break
            time.sleep(0.05)
        yield port, pidfile, start
    finally:
        if pidfile.exists():
            pid = pidfile.read_text().strip()
            if pid.isdigit():
                subprocess.run(["kill", "-9", pid], check=False)


def _answers(port: int) -> bool:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() == "PONG"


def _spec(name: str, url: str) -> str:
    return textwrap.dedent(
        f"""
        service: {name}
        target: {url}
        slos:
          availability: {{objective: 99%, window: 30d}}
        scenarios:
          steady:
            executor: constant-arrival-rate
            rate: 60/s
            duration: 16s
            max_vus: 30
            flow: [{{get: /items/1}}]
        """
    )


def _experiment(tmp: Path, spec: Path, expect: str, method: str) -> Path:
    path = tmp / "experiment.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            title: Redis for rate limits fails
            spec: {spec}
            hypothesis:
              slos: {{availability: {{expect: {expect}}}}}
              window: 2s
              sustain: 2s
            load: {{scenario: steady}}
            """
        )
        + method,
        encoding="utf-8",
    )
    return path


def _chaos(tmp: Path, experiment: Path, *more: str) -> tuple[Any, dict[str, Any]]:
    out = tmp / "chaos"
    done = run_slokit("chaos", str(experiment), "-w", "1", "--out", str(out), *more, timeout=120)
    journal = json.loads((out / "journal.json").read_text(encoding="utf-8"))
    return done, journal


def _store_errors(url: str) -> float:
    text = call(url, "/metrics")[2].decode()
    for line in text.splitlines():
        if line.startswith("slokit_rate_limit_store_errors_total"):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_a_redis_crash_degrades_the_service_as_its_options_say(tmp_path: Path, mode: str) -> None:
    with private_redis(tmp_path) as (port, pidfile, start):
        rules = [{"route": "GET /items/{id}", "limit": "100000/minute"}]
        options = {
            "access_log": False,
            "redis_url": f"redis://127.0.0.1:{port}/0",
            "rate_limits": rules,
            "on_store_error": mode,
        }
        name = f"redis-crash-{mode}"
        with service(tmp_path, f"service: {name}\n", **options) as srv:
            spec = tmp_path / "spec.yaml"
            spec.write_text(_spec(name, srv.url), encoding="utf-8")
            method = textwrap.dedent(
                f"""
                method:
                  - name: SIGKILL redis, restart it 5 s later
                    at: 5s
                    for: 5s
                    command: kill -9 $(cat {pidfile})
                    undo: "{start}"
                """
            )
            done, journal = _chaos(tmp_path, _experiment(tmp_path, spec, _expect(mode), method))
            errors = _store_errors(srv.url)
            back = _answers(port)
    said = done.stdout + done.stderr
    assert errors > 0, said  # the service really lost Redis
    assert back  # and the experiment's undo brought it back
    slo = journal["slos"][0]
    during = journal["phases"]["during"]
    t = journal["timings"]
    assert journal["status"] == "held", said
    assert done.returncode == 0, said
    assert slo["as_expected"]
    if mode == "open":
        # Fails open: rate limits are not enforced while Redis is down, nothing fails.
        assert slo["held"]
        assert during["error_rate"] < 0.01
        assert t["t_detect"] is None
    else:
        # Fails closed: 503 while Redis is down, detected, and recovered once it is back.
        assert not slo["held"]
        assert during["error_rate"] > 0.5
        assert t["t_detect"] is not None
        assert t["t_recover"] is not None
        assert journal["phases"]["after"]["error_rate"] < 0.2
        assert "expected to fall: fails closed" in said


def _expect(mode: str) -> str:
    return "hold" if mode == "open" else "breach"


def test_redis_latency_through_the_proxy_fails_open_within_the_slo(tmp_path: Path) -> None:
    with (
        private_redis(tmp_path) as (port, _, _),
        fault_proxy("redis", port, tmp_path) as (api, listen),
    ):
        rules = [{"route": "GET /items/{id}", "limit": "100000/minute"}]
        options = {
            "access_log": False,
            "redis_url": f"redis://127.0.0.1:{listen}/0",
            "rate_limits": rules,
            "on_store_error": "open",
        }
        with service(tmp_path, "service: redis-latency\n", **options) as srv:
            spec = tmp_path / "spec.yaml"
            spec.write_text(_spec("redis-latency", srv.url), encoding="utf-8")
            method = textwrap.dedent(
                f"""
                proxy: {{api: "{api}"}}
                method:
                  - name: redis 300 ms late
                    at: 5s
                    for: 5s
                    proxy: redis
                    toxic: {{type: latency, attributes: {{latency: 300ms}}}}
                rollbacks:
                  - reset_proxies: true
                """
            )
            done, journal = _chaos(tmp_path, _experiment(tmp_path, spec, "hold", method))
            errors = _store_errors(srv.url)
    said = done.stdout + done.stderr
    # Redis slower than the rate limiter's 50 ms budget counts as unavailable: the service
    # lets requests through (a little later) rather than failing them.
    assert errors > 0, said
    assert done.returncode == 0, said
    assert journal["slos"][0]["held"]
    assert journal["phases"]["during"]["error_rate"] < 0.01
    assert journal["actions"][0]["status"] == "succeeded"
