"""Soaks on real servers that leak a known amount, or not: the leak gate flags the leaky one
and passes the clean one and the noisy, GC-spiky clean one; drift and resources reach
results.json, the terminal, summary.md and report.html."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, slokit_cmd

MODES = ("leaky", "clean", "noisy")
SECONDS = 14


# Sampled every 100 ms: the noisy server's slope over 12 s then has a confidence interval
# narrow enough to judge even when a busy machine stalls its allocations (at 250 ms, 48
# samples gave -138 MiB/h to +1.3 GiB/h under CI contention: inconclusive).
def _spec(tmp_path: Path, mode: str, server: UvicornApp) -> Path:
    path = tmp_path / f"{mode}.yaml"
    gates = ["rss_slope < 1GiB/h", "max(threads) < 50"]
    if mode == "leaky":
        # Only where it is asserted judged: on the clean servers a latency gate would fail
        # whenever a busy CI box stalls the server, and these tests are about memory.
        gates.append("p99_drift < 1000%")
    path.write_text(
        textwrap.dedent(
            f"""
            service: soak-{mode}
            target: {server.url}
            gates: {gates}
            scenarios:
              soak:
                executor: constant-arrival-rate
                rate: 200/s
                duration: {SECONDS}s
                warmup: 2s
                max_vus: 20
                flow: [{{get: /}}]
                resources: {{pid: {server.proc.pid}, interval: 100ms}}
            """
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def soaks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The three soaks, run side by side (one server and one slokit each)."""
    base = tmp_path_factory.mktemp("soak")
    servers = {m: UvicornApp("leaky_app:app", env={"LEAK_MODE": m}) for m in MODES}
    runs = {}
    try:
        for mode, server in servers.items():
            out = base / mode
            cmd = slokit_cmd("run", str(_spec(base, mode, server)), "-w", "1", "--out", str(out))
            runs[mode] = (out, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
        done = {}
        for mode, (out, proc) in runs.items():
            stdout, _ = proc.communicate(timeout=SECONDS + 60)
            results = json.loads((out / "results.json").read_text(encoding="utf-8"))
            done[mode] = {"code": proc.returncode, "stdout": stdout, "results": results, "out": out}
        return done
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                proc.kill()
        for server in servers.values():
            server.kill()


def _verdict(run: dict[str, Any], name: str) -> dict[str, Any]:
    verdicts = run["results"]["scenarios"]["soak"]["verdicts"]
    return next(v for v in verdicts if v["name"] == name)


def test_the_leaky_server_fails_the_leak_gate(soaks: dict[str, dict[str, Any]]) -> None:
    run = soaks["leaky"]
    assert run["code"] == 1, run["stdout"]
    gate = _verdict(run, "rss_slope < 1GiB/h")
    assert gate["judged"]
    assert not gate["passed"]
    # 16 KiB kept per request at 200/s: about 11 GiB/h.
    assert gate["observed"] > 4 * 2**30
    rss = run["results"]["scenarios"]["soak"]["resources"]["summary"]["rss"]
    assert rss["growing"]
    assert rss["slope_low_per_hour"] > 2**30
    assert rss["projected_24h"] > rss["last"]


@pytest.mark.parametrize("mode", ["clean", "noisy"])
def test_clean_servers_pass_the_leak_gate(soaks: dict[str, dict[str, Any]], mode: str) -> None:
    run = soaks[mode]
    assert run["code"] == 0, run["stdout"]
    gate = _verdict(run, "rss_slope < 1GiB/h")
    assert gate["judged"], gate["detail"]
    assert gate["passed"]
    assert abs(gate["observed"]) < 2**30


def test_the_noisy_server_is_noisy_but_not_growing(soaks: dict[str, dict[str, Any]]) -> None:
    rss = soaks["noisy"]["results"]["scenarios"]["soak"]["resources"]["summary"]["rss"]
    clean = soaks["clean"]["results"]["scenarios"]["soak"]["resources"]["summary"]["rss"]
    assert rss["max"] - rss["mean"] > 32 * 2**20  # the 64 MiB spikes were seen
    assert clean["max"] - clean["mean"] < 16 * 2**20
    assert not rss["growing"]


def test_resources_and_drift_reach_every_report(soaks: dict[str, dict[str, Any]]) -> None:
    run = soaks["leaky"]
    sc = run["results"]["scenarios"]["soak"]
    resources = sc["resources"]
    assert resources["interval"] == 0.1
    assert resources["notes"] == []
    samples = resources["samples"]
    assert len(samples) >= SECONDS * 5  # every 100 ms, give or take start-up
    assert all(0 <= s["t"] <= SECONDS + 1 for s in samples)
    assert {"rss", "cpu", "fds", "threads"} <= set(samples[-1])
    assert samples[-1]["rss"] > samples[0]["rss"]
    drift = sc["drift"]
    assert drift["first"]["start_s"] >= 2  # the warm-up is left out
    assert set(drift["change"]) == {"p50", "p95", "p99", "error_rate"}
    assert _verdict(run, "p99_drift < 1000%")["judged"]
    assert "resources (after warm-up)" in run["stdout"]
    assert "growing" in run["stdout"]
    summary = (run["out"] / "summary.md").read_text(encoding="utf-8")
    assert "| rss |" in summary
    assert "Drift, seconds" in summary
    html = (run["out"] / "report.html").read_text(encoding="utf-8")
    assert 'id="figure-0-memory"' in html
    assert 'id="figure-0-cpu"' in html
    assert '<table class="resources">' in html
    assert '<table class="drift">' in html


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_validate_refuses_gates_on_resources_nobody_samples(tmp_path: Path) -> None:
    spec = _write(
        tmp_path,
        """
        service: x
        target: http://127.0.0.1:9
        gates: ["max(threads) < 100"]
        scenarios:
          soak:
            executor: constant-vus
            vus: 1
            duration: 1s
            flow: [{get: /}]
            gates: ["max(pg_connections) < 80"]
        """,
    )
    done = subprocess.run(slokit_cmd("validate", str(spec)), capture_output=True, text=True)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "scenarios.soak.gates[0]" in said
    assert "gates[0]" in said
    assert "samples no resources" in said
    assert "Traceback" not in said
    text = spec.read_text(encoding="utf-8").replace(
        "flow: [{get: /}]", "flow: [{get: /}]\n    resources: {process: uvicorn}"
    )
    spec.write_text(text, encoding="utf-8")
    done = subprocess.run(slokit_cmd("validate", str(spec)), capture_output=True, text=True)
    assert done.returncode == 2
    assert "add postgres: URL" in done.stdout + done.stderr


def test_run_refuses_unreachable_sources_before_any_load(tmp_path: Path) -> None:
    server = UvicornApp()
    try:
        for block, field in [
            ("{metrics: 'http://127.0.0.1:9/metrics'}", "resources.metrics"),
            ("{process: 'no-such-process-7b1f'}", "resources.process"),
            ("{pid: 999999999}", "resources.pid"),
            ("{postgres: 'postgresql://postgres@127.0.0.1:9/postgres'}", "resources.postgres"),
        ]:
            spec = _write(
                tmp_path,
                f"""
                service: x
                target: {server.url}
                resources: {block}
                scenarios:
                  soak: {{executor: constant-vus, vus: 1, duration: 1s, flow: [{{get: /ok}}]}}
                """,
            )
            out = tmp_path / "out"
            done = subprocess.run(
                slokit_cmd("run", str(spec), "--out", str(out)),
                capture_output=True,
                text=True,
                timeout=60,
            )
            said = done.stdout + done.stderr
            assert done.returncode == 2, (block, said)
            assert field in said, said
            assert "Traceback" not in said
            assert not (out / "results.json").exists()  # refused before load, not after
    finally:
        server.kill()


def test_a_run_gates_on_real_postgresql_connections(tmp_path: Path, pg_database: str) -> None:
    """The service's database connections (held open here, as a pool would) are sampled from
    pg_stat_activity and gated."""
    import psycopg

    server = UvicornApp("leaky_app:app")
    held = [psycopg.connect(pg_database, autocommit=True) for _ in range(6)]
    try:
        spec = _write(
            tmp_path,
            f"""
            service: pg
            target: {server.url}
            gates: ["max(pg_connections) < 10000", "max(pg_connections) < 3"]
            scenarios:
              soak:
                executor: constant-vus
                vus: 2
                duration: 3s
                flow: [{{get: /}}]
                resources: {{postgres: "{pg_database}", interval: 250ms}}
            """,
        )
        out = tmp_path / "out"
        done = subprocess.run(
            slokit_cmd("run", str(spec), "--out", str(out), "-w", "1"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        for conn in held:
            conn.close()
        server.kill()
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    sc = results["scenarios"]["soak"]
    assert sc["resources"]["summary"]["pg_connections"]["max"] >= 6
    loose, tight = sc["verdicts"]
    assert loose["passed"]
    assert not tight["passed"]
    assert sc["resources"]["sources"] == [pg_database]
