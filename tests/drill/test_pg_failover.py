"""Seed 004's PostgreSQL failover as a real drill: a primary and a streaming standby started
here, the primary SIGKILLed under write load, the standby promoted, the writer repointed.
RTO and RPO are measured; the lost writes are checked against what the primary acknowledged
by reading the promoted database directly."""

from __future__ import annotations

import json
import os
import shlex
import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest

from slokit.store import open_store
from tests._pgcluster import PgCluster, pg_binaries
from tests._support import run_slokit

if pg_binaries() is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI needs PostgreSQL's server binaries (initdb, pg_ctl) for drills")
    pytest.skip("PostgreSQL server binaries are not installed", allow_module_level=True)


def _drill(tmp: Path, cluster: PgCluster, gates: list[str]) -> Path:
    promote = shlex.join(cluster.promote_command())
    text = textwrap.dedent(
        f"""
        title: PostgreSQL primary crash + promote replica
        name: pg-failover-{"sync" if cluster.synchronous else "async"}
        owner: dba-oncall
        writer:
          postgres: {cluster.primary_dsn}
          interval: 10ms
        steps:
          - name: steady writes
            sleep: 1s
          - name: crash the primary
            failure: true
            process: {{pidfile: {cluster.primary_data}/postmaster.pid, signal: KILL}}
          - name: promote the standby
            owner: dba
            shell: {json.dumps(promote)}
            timeout: 30s
          - name: the standby takes writes
            wait:
              sql: {{dsn: "{cluster.standby_dsn}", query: "select not pg_is_in_recovery()",
                     expect: true}}
            timeout: 30s
          - name: repoint the writer
            owner: app-oncall
            writer: {{postgres: "{cluster.standby_dsn}"}}
        gates: {json.dumps(gates)}
        """
    )
    path = tmp / "drill.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _acked(journal: dict[str, Any]) -> set[int]:
    return {n for lo, hi in journal["writes"]["acknowledged_seqs"] for n in range(lo, hi + 1)}


def _present(cluster: PgCluster, journal: dict[str, Any]) -> set[int]:
    with psycopg.connect(cluster.standby_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select seq from slokit_drill_writes where run = %s", (journal["writes"]["run"],)
        ).fetchall()
    return {int(r[0]) for r in rows}


def _run(tmp_path: Path, cluster: PgCluster, gates: list[str]) -> tuple[Any, dict[str, Any]]:
    spec = _drill(tmp_path, cluster, gates)
    # --keep-rows is the file's own setting: here the test reads the rows itself.
    spec.write_text(
        spec.read_text().replace("  interval: 10ms", "  interval: 10ms\n  keep_rows: true"),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = run_slokit("drill", str(spec), "--out", str(out), "--store",
                      str(tmp_path / "runs.db"), timeout=120)  # fmt: skip
    journal = json.loads((out / "drill.json").read_text(encoding="utf-8"))
    return done, journal


@pytest.mark.parametrize("synchronous", [False, True], ids=["async", "sync"])
def test_a_primary_crash_is_measured(tmp_path: Path, synchronous: bool) -> None:
    gates = ["rto < 60s", "rpo <= 5m"] + (["lost_writes == 0"] if synchronous else [])
    with PgCluster(synchronous=synchronous) as cluster:
        done, journal = _run(tmp_path, cluster, gates)
        present = _present(cluster, journal)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert journal["status"] == "passed"
    steps = journal["steps"]
    assert [s["status"] for s in steps] == ["ok"] * 5, steps
    assert steps[1]["failure"]
    assert "SIGKILL" in steps[1]["detail"]
    timings = journal["timings"]
    # The writer sees the crash: writes fail from T_fail until it is repointed.
    assert timings["detected_by"] == "writer"
    assert timings["t_fail"] <= timings["t_detect"] <= steps[4]["ended"]
    assert timings["t_restored"] >= steps[4]["started"]
    assert timings["rto_s"] == pytest.approx(timings["t_restored"] - timings["t_fail"], abs=1e-3)
    rpo = journal["rpo"]
    acked = _acked(journal)
    assert rpo["acknowledged"] == len(acked) > 50
    # Lost = acknowledged by a primary, absent from the promoted standby: counted here directly.
    lost = sorted(acked - present)
    assert rpo["lost"] == lost
    assert rpo["lost_writes"] == len(lost)
    assert rpo["survived"] == len(acked) - len(lost)
    if synchronous:
        assert lost == []
        assert rpo["rpo_s"] == 0
    elif lost:
        assert rpo["rpo_s"] > 0
    assert "RTO" in said
    assert "RPO" in said
    assert "recorded as drill 1" in said
    with open_store(str(tmp_path / "runs.db"), project_dir=tmp_path) as store:
        (recorded,) = store.drills(journal["name"])
    assert recorded.rto_s == timings["rto_s"]
    assert recorded.rpo_s == rpo["rpo_s"]
    assert recorded.lost_writes == len(lost)
    assert recorded.journal == journal
    md = (tmp_path / "out" / "drill.md").read_text(encoding="utf-8")
    assert "Failover start (T_fail)" in md
    assert "Data currency" in md
    assert "| 2 | crash the primary **(T_fail)** | dba-oncall |" in md
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="figure-rto"' in html
    assert 'id="figure-rpo"' in html


def test_lost_writes_fail_the_gate_and_are_listed(tmp_path: Path) -> None:
    """Async replication with the standby cut off from the primary (no primary_conninfo):
    every write is acknowledged by the primary and lost in the failover, and the gate says so."""
    with PgCluster(synchronous=False) as cluster:
        with psycopg.connect(cluster.primary_dsn, autocommit=True) as conn:
            # The writer's table as the writer makes it, there before the standby is cut off.
            conn.execute(
                "create table slokit_drill_writes (run text not null, seq bigint not null, "
                "written_at timestamptz not null default clock_timestamp(), "
                "primary key (run, seq))"
            )
        with psycopg.connect(cluster.standby_dsn, autocommit=True) as conn:
            for _ in range(100):
                if conn.execute("select to_regclass('slokit_drill_writes')").fetchone() != (None,):
                    break
                conn.execute("select pg_sleep(0.1)")
            conn.execute("alter system set primary_conninfo = ''")
            conn.execute("select pg_reload_conf()")
        with psycopg.connect(cluster.primary_dsn, autocommit=True) as conn:
            for _ in range(100):  # bounded: until the primary has no standby streaming
                if not conn.execute("select 1 from pg_stat_replication").fetchall():
                    break
                conn.execute("select pg_sleep(0.1)")
            else:
                raise AssertionError("the standby kept streaming")
        spec = _drill(tmp_path, cluster, ["lost_writes == 0", "rpo <= 100ms"])
        spec.write_text(
            spec.read_text(encoding="utf-8").replace(
                "  interval: 10ms", f"  interval: 10ms\n  verify: {cluster.standby_dsn}"
            ),
            encoding="utf-8",
        )
        out = tmp_path / "out"
        done = run_slokit("drill", str(spec), "--out", str(out), "--no-store", timeout=120)
    said = done.stdout + done.stderr
    journal = json.loads((out / "drill.json").read_text(encoding="utf-8"))
    assert done.returncode == 1, said
    rpo = journal["rpo"]
    # Cut off from the start: every write the primary acknowledged is lost, and every write
    # after the repoint (to the promoted standby) is kept.
    acked = sorted(_acked(journal))
    lost = rpo["lost"]
    assert len(lost) == rpo["lost_writes"] > 50
    assert lost == acked[: len(lost)]
    assert rpo["survived"] == len(acked) - len(lost) > 0
    assert rpo["rpo_s"] >= 0.9  # about the 1 s of steady writes before the crash
    failed = {g["gate"]: g for g in journal["gates"]}
    assert not failed["lost_writes == 0"]["passed"]
    assert not failed["rpo <= 100ms"]["passed"]
    assert "gate lost_writes == 0 failed" in said
    md = (out / "drill.md").read_text(encoding="utf-8")
    assert f"**Lost writes (seq)**: {', '.join(map(str, lost[:50]))}" in md
