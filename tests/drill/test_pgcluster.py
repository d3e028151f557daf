"""tests/_pgcluster.py against real PostgreSQL servers: a primary and a streaming standby on
free loopback ports. Missing binaries skip these tests on a laptop and fail them in CI."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import psycopg
import pytest

from tests._pgcluster import PgCluster, pg_binaries


@pytest.fixture(autouse=True)
def _need_postgres() -> None:
    if pg_binaries() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries (/usr/lib/postgresql/*/bin) are missing in CI")
        pytest.skip("PostgreSQL binaries (/usr/lib/postgresql/*/bin) are not installed")


def _running_on(*data_dirs: str) -> list[str]:
    """Command lines of live processes that name one of the data dirs."""
    found = []
    for proc in psutil.process_iter():
        try:
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if any(data in cmdline for data in data_dirs):
            found.append(cmdline)
    return found


def _count(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM drill").fetchone()
    assert row is not None
    return int(row[0])


def test_async_standby_takes_over_after_the_primary_is_killed() -> None:
    cluster = PgCluster(synchronous=False)
    data_dirs = (str(cluster.primary_data), str(cluster.standby_data))
    with cluster:
        assert 5432 not in (cluster.primary_port, cluster.standby_port)
        with psycopg.connect(cluster.primary_dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE drill (id int PRIMARY KEY, note text)")
            conn.execute("INSERT INTO drill SELECT i, 'before' FROM generate_series(1, 100) i")

        deadline = time.monotonic() + 10
        seen = -1
        for _ in range(200):  # bounded: 10 s at most
            try:
                seen = _count(cluster.standby_dsn)
            except psycopg.errors.UndefinedTable:
                seen = -1  # the CREATE TABLE has not been replayed yet
            if seen == 100 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert seen == 100

        os.kill(cluster.primary_pid(), signal.SIGKILL)
        subprocess.run(cluster.promote_command(), check=True, capture_output=True, timeout=40)

        with psycopg.connect(cluster.standby_dsn, autocommit=True) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            assert row == (False,)
            conn.execute("INSERT INTO drill VALUES (101, 'after failover')")
        assert _count(cluster.standby_dsn) == 101

    assert not cluster.root.exists()
    assert _running_on(*data_dirs) == []
    cluster.stop()  # idempotent


def test_sync_standby_has_every_commit_at_once() -> None:
    with PgCluster(synchronous=True) as cluster:
        with psycopg.connect(cluster.primary_dsn, autocommit=True) as primary:
            rows = primary.execute(
                "SELECT application_name, state, sync_state FROM pg_stat_replication"
            ).fetchall()
            assert [(state, sync) for _, state, sync in rows] == [("streaming", "sync")]
            setting = primary.execute("SHOW synchronous_commit").fetchone()
            assert setting == ("remote_apply",)

            primary.execute("CREATE TABLE drill (id int PRIMARY KEY)")
            primary.execute("INSERT INTO drill VALUES (1)")
        # remote_apply: the commit above returned only after the standby applied it.
        assert _count(cluster.standby_dsn) == 1

        with psycopg.connect(cluster.standby_dsn, autocommit=True) as standby:
            assert standby.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    assert not cluster.root.exists()
    assert _running_on(str(cluster.primary_data), str(cluster.standby_data)) == []
