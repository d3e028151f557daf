"""Runs that end early keep their results, mark them partial and exit 3; bad input exits 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests._support import UvicornApp, free_port, run_slokit, slokit_cmd
from tests.load.test_engine import write_spec


def spec_for(tmp_path: Path, url: str, duration: str = "30s") -> Path:
    """A long open-model run; it POSTs /count/<tmp dir name>, so the server counts it."""
    return write_spec(
        tmp_path,
        f"""
        service: abort-test
        target: {url}
        slos:
          availability: {{objective: 99%}}
        scenarios:
          long:
            executor: constant-arrival-rate
            rate: 50/s
            duration: {duration}
            max_vus: 20
            flow: [{{post: /count/{tmp_path.name}}}]
        """,
    )


def start_run(spec: Path, out: Path, workers: int = 2) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(
        slokit_cmd("run", str(spec), "-w", str(workers), "--out", str(out), "-q"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def wait_for_traffic(out_proc: subprocess.Popen[str], url: str, key: str) -> None:
    """Until the server has answered some of the run's requests (bounded): interrupting a run
    whose workers are still starting would test start-up, not a run cut short."""
    limit = time.monotonic() + 30
    while time.monotonic() < limit:
        assert out_proc.poll() is None, "the run ended before it was interrupted"
        with urllib.request.urlopen(f"{url}/count/{key}", timeout=5) as resp:
            if json.load(resp)["hits"] >= 20:
                return
        time.sleep(0.1)
    raise AssertionError("the run sent nothing within 30 s")


def finish(proc: subprocess.Popen[str], timeout: float = 60.0) -> tuple[int, str]:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.returncode, stdout + stderr


def worker_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_target_killed_mid_run_gives_partial_results(
    tmp_path: Path, app_server: UvicornApp
) -> None:
    out = tmp_path / "out"
    proc = start_run(spec_for(tmp_path, app_server.url), out)
    wait_for_traffic(proc, app_server.url, tmp_path.name)
    app_server.kill()
    code, text = finish(proc)
    assert code == 3, text
    res = json.loads((out / "results.json").read_text())
    assert res["partial"] is True
    assert "unreachable" in res["scenarios"]["long"]["abort_reason"]
    assert res["total"]["count"] > 0
    assert res["total"]["failures"].get("connect", 0) > 0
    assert "PARTIAL" in text


def test_worker_killed_mid_run_gives_partial_results(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    out = tmp_path / "out"
    proc = start_run(spec_for(tmp_path, shared_app.url), out)
    wait_for_traffic(proc, shared_app.url, tmp_path.name)
    workers = worker_pids(proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    code, text = finish(proc)
    assert code == 3, text
    res = json.loads((out / "results.json").read_text())
    assert res["partial"] is True
    assert "died" in res["scenarios"]["long"]["abort_reason"]
    assert res["total"]["count"] > 0
    assert not [p for p in workers if Path(f"/proc/{p}").exists() and _alive(p)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_ends_cleanly_with_partial_results(tmp_path: Path, shared_app: UvicornApp) -> None:
    out = tmp_path / "out"
    proc = start_run(spec_for(tmp_path, shared_app.url), out)
    wait_for_traffic(proc, shared_app.url, tmp_path.name)
    workers = worker_pids(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    code, text = finish(proc)
    assert code == 3, text
    assert "Traceback" not in text
    res = json.loads((out / "results.json").read_text())
    assert res["partial"] is True
    assert "interrupted" in res["scenarios"]["long"]["abort_reason"]
    assert res["total"]["count"] > 0
    assert not [p for p in workers if _alive(p)]


def test_unreachable_target_exits_3_before_loading(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run_slokit("run", str(spec_for(tmp_path, url, "2s")), "-q")
    assert done.returncode == 3
    assert "not reachable" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_spec_and_bad_options_exit_2(tmp_path: Path, shared_app: UvicornApp) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("service: x\nscenarios:\n  a:\n    executor: constant-vus\n    vus: ten\n")
    done = run_slokit("run", str(bad))
    assert done.returncode == 2
    assert "scenarios.a.vus (line 5)" in done.stderr
    assert "Traceback" not in done.stderr

    spec = spec_for(tmp_path, shared_app.url, "1s")
    done = run_slokit("run", str(spec), "--scenario", "nope")
    assert done.returncode == 2
    assert "long" in done.stderr
    done = run_slokit("run", str(spec), "--duration", "soon")
    assert done.returncode == 2
    assert "--duration" in done.stderr
    done = run_slokit("run", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
