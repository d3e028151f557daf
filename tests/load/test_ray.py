"""Distributed runs on a real Ray cluster: a head and a second node (``ray start``) on this
machine, each offering one CPU, loading a loopback server through ``slokit run --ray``.

The tests share one cluster and run in order: the last one kills the second node.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, free_port, run_slokit, slokit_cmd, stop_processes_of
from tests.load.test_abort import finish
from tests.load.test_engine import write_spec

try:
    import ray  # noqa: F401
except ImportError:  # pragma: no cover - CI installs slokit[ray]
    if os.environ.get("CI"):
        raise
    pytest.skip("needs Ray: pip install 'slokit[ray]'", allow_module_level=True)

RAY = str(Path(sys.executable).parent / "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "NO_COLOR": "1"}
# A lost node is noticed in about 1.5 s, not Ray's default 15 s or more.
SYSTEM = '{"health_check_period_ms": 500, "health_check_failure_threshold": 3}'
NODE = ["--num-cpus", "1", "--object-store-memory", "80000000", "--disable-usage-stats"]


def _ray(*args: str) -> None:
    done = subprocess.run([RAY, *args], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    port = free_port()
    address = f"127.0.0.1:{port}"
    # A temp dir of its own marks this cluster's processes: stopped alone at the end.
    temp = tempfile.mkdtemp(prefix="slokit-ray-")
    try:
        _ray(
            "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
            "--include-dashboard=false", "--resources", '{"head": 1}', "--temp-dir", temp,
            "--system-config", SYSTEM, *NODE,
        )  # fmt: skip
        _ray(
            "start", "--address", address, "--node-ip-address", "127.0.0.1",
            "--resources", '{"generator": 1}', *NODE,
        )  # fmt: skip
        yield address
    finally:
        stop_processes_of(temp)
        shutil.rmtree(temp, ignore_errors=True)


def _hits(app: UvicornApp, key: str) -> int:
    with urllib.request.urlopen(f"{app.url}/count/{key}", timeout=5) as resp:
        return int(json.loads(resp.read())["hits"])


def _key() -> str:
    return f"ray{os.getpid()}{time.monotonic_ns()}"


def test_two_nodes_send_exactly_the_schedule_the_server_counts(
    tmp_path: Path, shared_app: UvicornApp, cluster: str
) -> None:
    key = _key()
    spec = write_spec(
        tmp_path,
        f"""
        service: spread
        target: {shared_app.url}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 100
            duration: 4s
            flow: [{{post: /count/{key}}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit(
        "run", str(spec), "--ray", cluster, "-w", "2", "--no-store", "-q", "-o", str(out),
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sc = json.loads((out / "results.json").read_text())["scenarios"]["open"]
    total = sc["total"]
    assert total["count"] + total["dropped"] == 400  # the schedule, whatever the split
    assert total["count"] == _hits(shared_app, key)  # every request the server saw, counted
    workers = sc["per_worker"]
    assert len({w["node"] for w in workers}) == 2, workers  # one actor on each node
    # Arrival k belongs to worker k mod 2: two halves that add up to the spec's rate.
    assert total["dropped"] == 0
    assert [w["requests"] for w in workers] == [200, 200]
    assert not any(w["lost"] for w in workers)
    assert "Workers:" in (out / "summary.md").read_text()  # two machines: said where


def test_a_journey_and_its_data_travel_to_the_actors(
    tmp_path: Path, shared_app: UvicornApp, cluster: str
) -> None:
    key = _key()
    (tmp_path / "journey.py").write_text(
        """
import csv, os
from pathlib import Path

ROWS = list(csv.DictReader(open(Path(__file__).parent / "skus.csv")))  # beside the journey


async def buy(s):
    where = "driver" if Path.cwd() == Path(os.environ["DRIVER_DIR"]) else "actor"
    sku = ROWS[s.vu % len(ROWS)]["sku"]
    await s.post(f"/count/KEY-{where}-{sku}", name="buy")
""".replace("KEY", key),
        encoding="utf-8",
    )
    (tmp_path / "skus.csv").write_text("sku\nA1\n", encoding="utf-8")
    spec = write_spec(
        tmp_path,
        f"""
        service: journey
        target: {shared_app.url}
        scenarios:
          buy:
            executor: per-vu-iterations
            vus: 2
            iterations: 5
            script: journey.py:buy
        """,
    )
    out = tmp_path / "out"
    done = run_slokit(
        "run", str(spec), "--ray", cluster, "-w", "2", "-e", f"DRIVER_DIR={tmp_path}",
        "--no-store", "-q", "-o", str(out), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _hits(shared_app, f"{key}-actor-A1") == 10  # 2 VUs x 5 iterations, on the actors
    assert _hits(shared_app, f"{key}-driver-A1") == 0


def test_a_cluster_that_is_not_there_is_refused_before_any_load(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
        service: nowhere
        target: http://127.0.0.1:9
        scenarios:
          a: {executor: constant-vus, vus: 1, duration: 1s, flow: [{get: /}]}
        """,
    )
    done = run_slokit("run", str(spec), "--ray", f"127.0.0.1:{free_port()}", "--no-store")
    assert done.returncode == 2
    assert "cannot reach the Ray cluster" in done.stderr
    alone = run_slokit("run", str(spec), "--ray-resource", "generator", "--no-store")
    assert alone.returncode == 2
    assert "--ray-resource only apply with --ray" in alone.stderr


def test_workers_go_only_where_the_resource_is(
    tmp_path: Path, shared_app: UvicornApp, cluster: str
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: pinned
        target: {shared_app.url}
        scenarios:
          a: {{executor: constant-vus, vus: 2, duration: 2s, think: 50ms, flow: [{{get: /ok}}]}}
        """,
    )
    out = tmp_path / "out"
    done = run_slokit(
        "run", str(spec), "--ray", cluster, "--ray-resource", "generator", "--no-store", "-q",
        "-o", str(out), timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    workers = json.loads((out / "results.json").read_text())["scenarios"]["a"]["per_worker"]
    assert len(workers) == 1  # one generator node with one CPU
    too_many = run_slokit(
        "run", str(spec), "--ray", cluster, "--ray-resource", "generator", "-w", "3",
        "--no-store", "-q", timeout=120,
    )  # fmt: skip
    assert too_many.returncode == 2
    assert "more than the 1 generator slots" in too_many.stderr
    none = run_slokit(
        "run", str(spec), "--ray", cluster, "--ray-resource", "gpu-box", "--no-store", "-q",
        timeout=120,
    )  # fmt: skip
    assert none.returncode == 2
    assert "no node with the resource 'gpu-box'" in none.stderr


def test_scenarios_side_by_side_share_the_cluster(
    tmp_path: Path, shared_app: UvicornApp, cluster: str
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: mixed
        target: {shared_app.url}
        scenarios:
          browse:
            executor: constant-vus
            vus: 1
            duration: 2s
            think: 50ms
            start_time: 0s
            flow: [{{get: /ok}}]
          buy:
            executor: constant-vus
            vus: 1
            duration: 2s
            think: 50ms
            start_time: 0s
            flow: [{{get: /items/1}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit(
        "run", str(spec), "--ray", cluster, "-w", "2", "--no-store", "-q", "-o", str(out),
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    scenarios = json.loads((out / "results.json").read_text())["scenarios"]
    (browse,), (buy,) = scenarios["browse"]["per_worker"], scenarios["buy"]["per_worker"]
    assert browse["node"] != buy["node"]  # one slot each: the cluster's two CPUs
    assert scenarios["browse"]["alongside"] == ["buy"]


def _actor_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::_Generator"):
                found.append(int(entry.name))
    return found


def test_fail_on_worker_loss_ends_the_run_when_an_actor_dies(
    tmp_path: Path, shared_app: UvicornApp, cluster: str
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: strict
        target: {shared_app.url}
        scenarios:
          long:
            executor: constant-vus
            vus: 2
            duration: 1h
            think: 20ms
            flow: [{{get: /ok}}]
        """,
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        slokit_cmd(
            "run", str(spec), "--ray", cluster, "-w", "2", "--fail-on-worker-loss",
            "--no-store", "-q", "-o", str(out),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,
    )  # fmt: skip
    try:
        limit = time.monotonic() + 60.0
        while len(_actor_pids()) < 2 and time.monotonic() < limit:
            assert proc.poll() is None, "the run ended before an actor was killed"
            time.sleep(0.2)
        time.sleep(2.0)
        os.kill(_actor_pids()[0], signal.SIGKILL)
        code, text = finish(proc, timeout=60.0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 3, text
    sc = json.loads((out / "results.json").read_text())["scenarios"]["long"]
    assert sc["partial"] is True
    assert "died" in sc["abort_reason"]
    assert sc["total"]["count"] > 0


def _generator_raylet() -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "raylet/raylet" in cmdline and "generator,1" in cmdline:
            return int(entry.name)
    raise AssertionError("the second node's raylet is not running")


def test_losing_a_node_keeps_what_it_reported_and_ctrl_c_still_writes_results(
    tmp_path: Path, shared_app: UvicornApp, cluster: str
) -> None:
    key = _key()
    spec = write_spec(
        tmp_path,
        f"""
        service: lossy
        target: {shared_app.url}
        scenarios:
          long:
            executor: constant-arrival-rate
            rate: 50
            duration: 1h
            flow: [{{post: /count/{key}}}]
        """,
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        slokit_cmd(
            "run", str(spec), "--ray", cluster, "-w", "2", "--no-store", "-q", "-o", str(out)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    try:
        limit = time.monotonic() + 60.0
        while _hits(shared_app, key) < 100 and time.monotonic() < limit:
            assert proc.poll() is None, "the run ended before the node was lost"
            time.sleep(0.2)
        os.kill(_generator_raylet(), signal.SIGKILL)
        before = _hits(shared_app, key)
        limit = time.monotonic() + 30.0
        while _hits(shared_app, key) < before + 100 and time.monotonic() < limit:
            assert proc.poll() is None, "losing a node ended the run"
            time.sleep(0.2)
        assert _hits(shared_app, key) >= before + 100, "the other node stopped too"
        os.killpg(proc.pid, signal.SIGINT)
        code, text = finish(proc, timeout=30.0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 3, text  # interrupted: partial
    sc = json.loads((out / "results.json").read_text())["scenarios"]["long"]
    assert sc["partial"] is True
    assert "interrupted" in sc["abort_reason"]
    lost = [w for w in sc["per_worker"] if w["lost"]]
    kept = [w for w in sc["per_worker"] if not w["lost"]]
    assert (len(lost), len(kept)) == (1, 1), sc["per_worker"]
    assert lost[0]["requests"] > 0  # what it reported before the node died is kept
    assert kept[0]["requests"] > lost[0]["requests"]
    assert sum(w["requests"] for w in sc["per_worker"]) == sc["total"]["count"]
    assert sc["total"]["count"] <= _hits(shared_app, key)  # its last moments went with it
    assert any("1 of 2 workers lost" in note for note in sc["notes"])
    assert "lost at" in text


def _offline_cluster(cpus: dict[str, int], per_node: int | None = None) -> Any:
    import threading

    from slokit.load._ray import RayCluster, RayNode

    # The placement logic alone: no connection is needed to decide where workers go.
    cluster = object.__new__(RayCluster)
    cluster.nodes = [RayNode(id=n, name=n, cpus=c) for n, c in cpus.items()]
    cluster.per_node = per_node
    cluster._lock = threading.Lock()
    cluster._held = []
    return cluster


def test_workers_spread_over_nodes_and_side_by_side_scenarios_share_the_slots() -> None:
    from slokit.errors import UsageError

    cluster = _offline_cluster({"a": 2, "b": 1, "c": 2})
    first = cluster.placement(3)
    assert [n.id for n in first] == ["a", "b", "c"]  # spread first, then doubled up
    second = cluster.placement(2)
    assert [n.id for n in second] == ["a", "c"]  # what the first scenario left
    with pytest.raises(UsageError, match=r"0 generator slots .* 5 held by other scenarios"):
        cluster.placement(1)
    cluster.release(first)
    assert [n.id for n in cluster.placement(3)] == ["b", "a", "c"]  # beside the second's
    pinned = _offline_cluster({"a": 2, "b": 1}, per_node=2)
    with pytest.raises(UsageError, match="b offers only 1 CPU"):
        pinned.placement(2)
