"""Drills on real processes: a service killed and restarted under a health probe, a step that
hangs past its deadline, Ctrl-C mid-step, the alembic schema check on a real database, and
drill files that are wrong."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests._alembic import alembic_config, alembic_project
from tests._support import free_port, run_slokit, slokit_cmd, stop, wait_port


def _write(tmp: Path, body: str, name: str = "drill.yaml") -> Path:
    path = tmp / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _journal(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "drill.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _running(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def _http_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return proc


def test_a_killed_service_is_detected_restarted_and_timed(tmp_path: Path) -> None:
    port = free_port()
    server = _http_server(port)
    marker = f"http.server {port} --bind"
    restart = f"{sys.executable} -m http.server {port} --bind 127.0.0.1"
    _write(
        tmp_path,
        f"""
        service: web
        target: http://127.0.0.1:{port}
        scenarios:
          steady:
            executor: constant-arrival-rate
            rate: 40/s
            duration: 1m
            max_vus: 20
            flow: [{{get: /}}]
        """,
        "slokit.yaml",
    )
    spec = _write(
        tmp_path,
        f"""
        title: Web node crash and restart
        owner: sre-oncall
        target: http://127.0.0.1:{port}
        health: {{http: /, interval: 50ms, timeout: 500ms, sustain: 1s, deadline: 20s}}
        load: {{scenario: steady}}
        steps:
          - name: kill the web node
            failure: true
            process: {{pid: {server.pid}, signal: KILL}}
          - sleep: 300ms
          - name: the page is down
            http: {{url: /, status: 200}}
            keep_going: true
          - name: restart it
            owner: platform
            process: {{start: "{restart}"}}
            rollback: {{process: {{match: "{marker}", signal: TERM}}}}
          - name: it answers
            wait: {{http: {{url: /, status: 200}}, interval: 50ms}}
            timeout: 20s
        gates: ["rto < 60s", "ttd < 30s", "failed_steps == 1"]
        """,
    )
    out = tmp_path / "out"
    try:
        done = run_slokit("drill", str(spec), "--out", str(out), "--no-store", timeout=90)
        server.wait(timeout=5)  # the drill killed it
        left = _running(marker)
    finally:
        stop(server)
        for proc in _running(marker):
            proc.kill()
    said = done.stdout + done.stderr
    journal = _journal(out)
    # The page is down until the restart: that step fails (keep_going lets the drill go
    # on), as the gate expects, and the drill still fails because a step failed.
    assert done.returncode == 1, said
    steps = {s["name"]: s for s in journal["steps"]}
    assert steps["the page is down"]["status"] == "failed"
    assert steps["it answers"]["status"] == "ok"
    assert "started pid" in steps["restart it"]["detail"]
    assert steps["restart it"]["owner"] == "platform"
    assert steps["kill the web node"]["owner"] == "sre-oncall"
    t = journal["timings"]
    assert t["detected_by"] in ("health", "load")
    # The load ran all through and saw the outage too: failed seconds after T_fail only.
    load = journal["load"]
    assert load["error"] is None
    assert load["total"]["count"] > 0
    assert load["failed_seconds"]
    assert all(s >= t["t_fail"] for s in load["failed_seconds"])
    assert "load alongside: scenario steady" in said
    assert t["t_fail"] <= t["t_detect"] <= steps["restart it"]["started"]
    # The load sees in whole seconds (a second with failures counts at its end): restored
    # at most one second after the page answered again.
    assert steps["restart it"]["started"] <= t["t_restored"] <= steps["it answers"]["ended"] + 1.2
    assert t["rto_s"] == pytest.approx(t["t_restored"] - t["t_fail"], abs=1e-3)
    changes = [h["ok"] for h in journal["health"]]
    assert changes[:3] == [True, False, True]
    # The restarted server was stopped by the step's rollback: nothing is left running.
    assert left == []
    assert journal["rollbacks"][0]["status"] == "ok"
    assert {g["gate"]: g["passed"] for g in journal["gates"]} == {
        "rto < 60s": True,
        "ttd < 30s": True,
        "failed_steps == 1": True,
    }
    assert "step 'the page is down' failed" in said


def test_a_hung_step_is_killed_at_its_deadline_and_the_rollbacks_run(tmp_path: Path) -> None:
    marker = "sleep 31.4159"
    done_file = tmp_path / "rolled-back"
    spec = _write(
        tmp_path,
        f"""
        title: Hung step
        steps:
          - name: hangs
            shell: "echo before; {marker}; echo after"
            timeout: 1s
            rollback: {{shell: "echo step >> {done_file}"}}
          - name: never runs
            shell: "echo never"
        rollbacks:
          - shell: "echo drill >> {done_file}"
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("drill", str(spec), "--out", str(out), "--no-store", timeout=60)
    said = done.stdout + done.stderr
    journal = _journal(out)
    assert done.returncode == 1, said
    hung, never = journal["steps"]
    assert hung["status"] == "timed out"
    assert hung["exit_code"] is None
    assert "before" in hung["output"]
    assert "after" not in hung["output"]
    assert never["status"] == "skipped"
    assert "hangs" in never["detail"]
    # The step's own rollback first, then the drill's.
    assert done_file.read_text().split() == ["step", "drill"]
    assert _running(marker) == []  # the whole process group went at the deadline


def test_ctrl_c_mid_step_runs_the_rollbacks_and_exits_3(tmp_path: Path) -> None:
    marker = "sleep 27.1828"
    done_file = tmp_path / "rolled-back"
    spec = _write(
        tmp_path,
        f"""
        title: Interrupted
        steps:
          - name: long
            shell: "{marker}"
            timeout: 60s
            rollback: {{shell: "echo rolled >> {done_file}"}}
        """,
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        slokit_cmd("drill", str(spec), "--out", str(out), "--no-store"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(200):  # bounded: until the step's command runs
            if _running(marker):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        for left in _running(marker):
            left.kill()
    assert proc.returncode == 3, stdout + stderr
    journal = _journal(out)
    assert journal["status"] == "aborted"
    assert journal["steps"][0]["status"] == "interrupted"
    assert done_file.read_text().split() == ["rolled"]
    assert "Traceback" not in stderr


def test_the_alembic_check_compares_heads_with_the_database(
    tmp_path: Path, pg_database: str
) -> None:
    from alembic import command

    ini = alembic_project(tmp_path / "app", pg_database, {"a1": None, "b2": "a1"})
    config = alembic_config(ini)
    command.upgrade(config, "a1")  # one revision behind the code
    spec = _write(
        tmp_path,
        f"""
        title: Schema check after failover
        steps:
          - name: schema matches the code
            alembic: {{config: app/alembic.ini, dsn: "{pg_database}"}}
        """,
    )
    out = tmp_path / "out"
    behind = run_slokit("drill", str(spec), "--out", str(out), "--no-store")
    step = _journal(out)["steps"][0]
    assert behind.returncode == 1, behind.stdout + behind.stderr
    assert step["status"] == "failed"
    assert "the database is at a1, alembic heads are b2" in step["detail"]
    command.upgrade(config, "head")
    current = run_slokit("drill", str(spec), "--out", str(out), "--no-store")
    assert current.returncode == 0, current.stdout + current.stderr
    assert _journal(out)["steps"][0]["detail"] == "alembic_version b2 == alembic heads"


def test_bad_drill_files_are_refused_with_located_errors(tmp_path: Path) -> None:
    spec = _write(
        tmp_path,
        """
        title: Bad
        stepz: []
        steps:
          - name: two things
            shell: "true"
            sleep: 1s
          - failure: true
            shell: "true"
          - failure: true
            process: {signal: KILL}
          - writer: {postgres: "postgresql://x@127.0.0.1/x"}
        gates: ["rto < soon", "lost_writes == 0", "uptime > 1"]
        """,
    )
    done = run_slokit("drill", str(spec), "--check")
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "Traceback" not in said
    for expected in (
        "unknown field 'stepz'; did you mean 'steps'?",
        "a step needs exactly one of",
        "got shell and sleep",
        "only one step can be the failure",
        "a process action needs exactly one of pidfile, pid, match, start; got none",
        "repoints the writer, but the drill has no writer:",
        "lost_writes is measured by a writer: section",
        "unknown drill metric 'uptime'",
    ):
        assert expected in said, (expected, said)
    assert "line " in said  # located
    good = _write(tmp_path, "title: ok\nsteps: [{shell: 'true'}]\n", "good.yaml")
    checked = run_slokit("drill", str(good), "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "valid drill, 1 steps" in checked.stdout
    example = Path(__file__).parents[2] / "examples" / "drills" / "pg-failover.yaml"
    shipped = run_slokit("drill", str(example), "--check")
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    missing = run_slokit("drill", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "nope.yaml" in missing.stdout + missing.stderr


def test_an_unhealthy_service_or_an_unwritable_writer_refuses_the_drill(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    spec = _write(
        tmp_path,
        f"""
        title: Nothing to fail
        health: {{tcp: "127.0.0.1:{port}", interval: 100ms}}
        steps: [{{shell: "true"}}]
        """,
    )
    done = run_slokit("drill", str(spec), "--out", str(tmp_path / "out"), "--no-store")
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "not healthy before the drill" in said
    assert not (tmp_path / "out" / "drill.json").exists()
    spec = _write(
        tmp_path,
        f"""
        title: No database
        writer: {{postgres: "postgresql://postgres:secret@127.0.0.1:{port}/postgres"}}
        steps: [{{shell: "true"}}]
        """,
    )
    done = run_slokit("drill", str(spec), "--out", str(tmp_path / "out"), "--no-store")
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "the writer cannot write to postgresql://postgres:***@127.0.0.1" in said
    assert "secret" not in said


def _writes_app(port: int) -> str:
    servers = Path(__file__).parents[1] / "servers"
    return (
        f"{sys.executable} -m uvicorn writes_app:app --app-dir {servers} --host 127.0.0.1 "
        f"--port {port} --log-level warning"
    )


def test_the_http_writer_counts_writes_a_crash_lost(tmp_path: Path) -> None:
    """The service acknowledges writes but keeps them in memory: the crash loses exactly the
    writes acknowledged before it, the ones after the restart survive."""
    port = free_port()
    command = _writes_app(port)
    first = subprocess.Popen(command.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, first)  # type: ignore[arg-type]
    marker = command.split(" -m ", 1)[1]
    spec = _write(
        tmp_path,
        f"""
        title: In-memory writes lost in a crash
        target: http://127.0.0.1:{port}
        health: {{http: /readyz, interval: 50ms, sustain: 1s, deadline: 20s}}
        writer:
          http: {{url: /dr/writes, read: "/dr/writes/{{run}}"}}
          interval: 20ms
        steps:
          - sleep: 1s
          - name: crash
            failure: true
            process: {{pid: {first.pid}, signal: KILL}}
          - name: restart
            process: {{start: "{command}"}}
            rollback: {{process: {{match: "{marker}", signal: TERM}}}}
          - wait: {{http: /readyz}}
            timeout: 20s
        gates: ["lost_writes == 0"]
        """,
    )
    out = tmp_path / "out"
    try:
        done = run_slokit("drill", str(spec), "--out", str(out), "--no-store", timeout=90)
        first.wait(timeout=5)
        left = _running(marker)
    finally:
        stop(first)
        for proc in _running(marker):
            proc.kill()
    said = done.stdout + done.stderr
    journal = _journal(out)
    assert left == []
    assert done.returncode == 1, said  # the gate: writes were lost
    rpo = journal["rpo"]
    t_fail = journal["timings"]["t_fail"]
    acked = {n for lo, hi in journal["writes"]["acknowledged_seqs"] for n in range(lo, hi + 1)}
    lost = set(rpo["lost"])
    # Every write acknowledged before the crash is gone; every one after the restart is kept.
    assert lost, said
    assert lost < acked
    assert max(lost) < min(acked - lost)
    assert rpo["survived"] == len(acked - lost) > 0
    # Nothing was kept from before the crash: the data currency is the writer's first write.
    assert rpo["rpo_s"] == pytest.approx(t_fail - rpo["data_currency_t"], abs=0.05)
    assert rpo["rpo_s"] > 0.5  # about the 1 s of writes before the crash
    assert journal["timings"]["detected_by"] in ("health", "writer")
    failed = {g["gate"]: g["passed"] for g in journal["gates"]}
    assert failed == {"lost_writes == 0": False}


def test_fault_steps_apply_chaos_faults_and_the_rollbacks_remove_them(tmp_path: Path) -> None:
    import httpx

    from tests._proxy import fault_proxy

    port = free_port()
    server = _http_server(port)
    try:
        with fault_proxy("web", port, tmp_path) as (api, listen):
            spec = _write(
                tmp_path,
                f"""
                title: Web behind a proxy
                target: http://127.0.0.1:{listen}
                proxy: {{api: "{api}"}}
                health: {{http: /, interval: 50ms, timeout: 300ms, sustain: 1s, deadline: 20s}}
                steps:
                  - name: slow it down (until the rollbacks)
                    fault: {{proxy: web, toxic: {{type: latency, attributes: {{latency: 20ms}}}}}}
                  - name: cut it off for 1 s
                    failure: true
                    fault: {{proxy: web, down: true, for: 1s}}
                  - wait: {{http: /}}
                    timeout: 10s
                gates: ["rto < 30s"]
                """,
            )
            out = tmp_path / "out"
            done = run_slokit("drill", str(spec), "--out", str(out), "--no-store", timeout=90)
            toxics = httpx.get(f"{api}/proxies/web/toxics", timeout=5).json()
            enabled = httpx.get(f"{api}/proxies/web", timeout=5).json()["enabled"]
    finally:
        stop(server)
    said = done.stdout + done.stderr
    journal = _journal(out)
    assert done.returncode == 0, said
    slow, cut, _ = journal["steps"]
    assert "removed by the rollbacks" in slow["detail"]
    assert "for 1s, then removed" in cut["detail"]
    t = journal["timings"]
    assert t["detected_by"] == "health"
    assert t["t_fail"] <= t["t_detect"] < t["t_restored"]
    # The latency toxic was taken off at the end, the proxy is up again.
    assert journal["rollbacks"][0]["status"] == "ok"
    assert toxics == []
    assert enabled is True
