"""The postgres source against the machine's real PostgreSQL (skipped only off CI)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from slokit.errors import UsageError
from slokit.sampling import ResourceSampler
from tests._support import free_port
from tests.sampling.test_process import wait_note, wait_sample

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url() -> str:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}")
    return PG_URL


@pytest.fixture
def app_name() -> str:
    return f"slokit-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def admin(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def _backends(conn: psycopg.Connection[tuple[object, ...]], app: str) -> list[object]:
    rows = conn.execute(
        "select pid from pg_stat_activity where application_name = %s", (app,)
    ).fetchall()
    return [row[0] for row in rows]


def test_extra_connections_are_counted(pg_url: str, app_name: str) -> None:
    sampler = ResourceSampler(interval=0.1, postgres=f"{pg_url}?application_name={app_name}")
    sampler.check()
    with sampler:
        wait_sample(sampler, lambda s: "pg_connections" in s.values)
        # Other test sessions may share this server and close connections meanwhile, which
        # can hide a rise: it must show in one of a few tries.
        for _ in range(3):
            base = sampler.samples[-1].values["pg_connections"]
            rose = _rise_with_five_connections(sampler, pg_url, base)
            if rose:
                break
    assert rose, f"pg_connections never rose by 5: {sampler.samples[-5:]}"
    assert sampler.notes == []


def _rise_with_five_connections(sampler: ResourceSampler, pg_url: str, base: float) -> bool:
    extra: list[psycopg.Connection[tuple[object, ...]]] = []
    try:
        extra.extend(psycopg.connect(pg_url) for _ in range(5))
        mark = len(sampler.samples)
        sample = wait_sample(sampler, lambda s: True, after=mark + 1)
        assert sample.values["pg_connections"] >= 5  # ours alone, whatever the others do
        try:
            wait_sample(
                sampler, lambda s: s.values["pg_connections"] >= base + 5, after=mark, timeout=3
            )
        except AssertionError:
            return False
        return True
    finally:
        for conn in extra:
            conn.close()


def test_a_running_query_is_active(
    pg_url: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    def sleep() -> None:
        with (
            psycopg.connect(pg_url, autocommit=True, application_name=busy) as conn,
            contextlib.suppress(psycopg.errors.QueryCanceled),  # the test cancels it
        ):
            conn.execute("select pg_sleep(5)")

    busy = f"slokit-busy-{uuid.uuid4().hex[:12]}"
    worker = threading.Thread(target=sleep)
    with ResourceSampler(interval=0.1, postgres=pg_url) as sampler:
        worker.start()
        try:
            deadline = time.monotonic() + 10
            while not _backends(admin, busy) and time.monotonic() < deadline:
                time.sleep(0.02)
            mark = len(sampler.samples)
            sample = wait_sample(sampler, lambda s: s.values["pg_active"] >= 1, after=mark)
        finally:
            for pid in _backends(admin, busy):
                admin.execute("select pg_cancel_backend(%s)", (pid,))
            worker.join(timeout=10)
    assert sample.values["pg_connections"] >= sample.values["pg_active"]


def test_a_lost_connection_is_replaced_without_an_outage(
    pg_url: str, app_name: str, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    sampler = ResourceSampler(interval=0.1, postgres=f"{pg_url}?application_name={app_name}")
    with sampler:
        wait_sample(sampler, lambda s: "pg_connections" in s.values)
        [first] = _backends(admin, app_name)
        admin.execute("select pg_terminate_backend(%s)", (first,))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = _backends(admin, app_name)
            if now and now != [first]:
                break
            time.sleep(0.02)
        mark = len(sampler.samples)
        wait_sample(sampler, lambda s: "pg_connections" in s.values, after=mark + 2)
    # stop() closed the replacement too; its backend leaves pg_stat_activity a moment later.
    deadline = time.monotonic() + 5
    while _backends(admin, app_name) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _backends(admin, app_name) == []
    assert now != [first]
    assert sampler.notes == []
    assert all("pg_connections" in s.values for s in sampler.samples)


def test_check_names_an_unreachable_postgres() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(UsageError) as caught:
        ResourceSampler(postgres=url).check()
    message = str(caught.value)
    assert message.startswith("resources.postgres: cannot query postgresql://postgres@127.0.0.1:")
    assert "start PostgreSQL or fix the URL" in message


def test_passwords_stay_out_of_messages() -> None:
    url = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/app"
    with pytest.raises(UsageError) as caught:
        ResourceSampler(postgres=url).check()
    assert "hunter2" not in str(caught.value)


def test_a_postgres_down_from_the_start_is_noted_and_the_rest_goes_on() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with ResourceSampler(interval=0.1, pid=os.getpid(), postgres=url) as sampler:
        note = wait_note(sampler, "stopped answering")
        wait_sample(sampler, lambda s: "rss" in s.values, after=3)
    assert note.startswith("resources.postgres: postgresql://postgres@127.0.0.1:")
    assert sampler.notes == [note]
    assert not any("pg_connections" in s.values for s in sampler.samples)
