"""The migrations check on a tiny real alembic project and the real PostgreSQL: at head,
behind, branched, at an unknown revision, never migrated; as a readiness check of a service
under uvicorn (``/readyz`` and ``/healthz/migrations``) and as ``slokit check migrations``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from slokit.asgi._migrations import migration_state
from slokit.errors import SpecError
from slokit.spec import parse_spec
from tests._alembic import alembic_config, alembic_project
from tests._pg import throwaway_database
from tests._support import UvicornApp, run_slokit

LINE = {"a1": None, "b2": "a1", "c3": "b2"}
# Two branches from a1: heads b2 and x2.
BRANCHED = {"a1": None, "b2": "a1", "x1": "a1", "x2": "x1"}


@pytest.fixture
def database() -> Iterator[str]:
    yield from throwaway_database()


def _state(url: str, ini: Path) -> dict[str, object]:
    return asyncio.run(migration_state(url, ini, timeout=5.0)).to_dict()


def test_at_head_behind_unknown_and_never_migrated(tmp_path: Path, database: str) -> None:
    from alembic import command

    ini = alembic_project(tmp_path / "app", database, LINE)
    config = alembic_config(ini)
    never = _state(database, ini)
    assert never["status"] == "unmigrated"
    assert never["pending"] == ["a1", "b2", "c3"]
    command.upgrade(config, "a1")
    behind = _state(database, ini)
    assert behind["status"] == "behind"
    assert behind["database"] == ["a1"]
    assert behind["heads"] == ["c3"]
    assert behind["pending"] == ["b2", "c3"]
    assert "2 migrations to apply (b2, c3)" in str(behind["detail"])
    command.upgrade(config, "head")
    assert _state(database, ini)["status"] == "current"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("update alembic_version set version_num = 'zz9'")
    unknown = _state(database, ini)
    assert unknown["status"] == "unknown"
    assert "which these scripts do not have" in str(unknown["detail"])


def test_a_branched_project_needs_every_head(tmp_path: Path, database: str) -> None:
    from alembic import command

    ini = alembic_project(tmp_path / "app", database, BRANCHED)
    config = alembic_config(ini)
    command.upgrade(config, "b2")
    one = _state(database, ini)
    assert one["heads"] == ["b2", "x2"]
    assert one["status"] == "behind"
    assert one["pending"] == ["x1", "x2"]
    command.upgrade(config, "heads")
    both = _state(database, ini)
    assert both["status"] == "current"
    assert both["database"] == ["b2", "x2"]


def _spec(tmp_path: Path, database: str, critical: bool) -> Path:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(
        f"service: pg-app\ndependencies:\n  migrations:\n    kind: alembic\n"
        f"    url: {database}\n    config: app/alembic.ini\n    timeout: 5s\n"
        f"    critical: {str(critical).lower()}\n",
        encoding="utf-8",
    )
    return spec


def _until(client: httpx.Client, path: str, code: int) -> httpx.Response:
    """Probe results are cached for 2 s: ask until the answer changes (bounded)."""
    deadline = time.monotonic() + 15
    while True:
        response = client.get(path)
        if response.status_code == code or time.monotonic() > deadline:
            return response
        time.sleep(0.25)


def test_the_service_is_not_ready_while_its_database_is_behind(
    tmp_path: Path, database: str
) -> None:
    from alembic import command

    ini = alembic_project(tmp_path / "app", database, LINE)
    config = alembic_config(ini)
    command.upgrade(config, "b2")
    spec = _spec(tmp_path, database, critical=True)
    app = UvicornApp("pg_app:app", env={"PG_DSN": database, "SLOKIT_TEST_SPEC": str(spec)})
    try:
        with httpx.Client(base_url=app.url, timeout=10) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"migrations": "fail"}
            detail = client.get("/healthz/migrations")
            assert detail.status_code == 503
            entry = detail.json()["checks"]["migrations:alembic"][0]
            assert "behind: the database is at b2, the heads are c3" in entry["output"]
            assert client.get("/livez").status_code == 200  # never restarted for a schema
            command.upgrade(config, "head")
            assert _until(client, "/readyz", 200).status_code == 200
            assert client.get("/healthz/migrations").json()["status"] == "pass"
    finally:
        app.kill()


def test_a_non_critical_migrations_check_warns(tmp_path: Path, database: str) -> None:
    alembic_project(tmp_path / "app", database, LINE)  # never migrated
    spec = _spec(tmp_path, database, critical=False)
    app = UvicornApp("pg_app:app", env={"PG_DSN": database, "SLOKIT_TEST_SPEC": str(spec)})
    try:
        with httpx.Client(base_url=app.url, timeout=10) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["status"] == "warn"
            assert "no alembic revision" in ready.json()["failing"]["migrations"]
    finally:
        app.kill()


def test_slokit_check_migrations_for_ci(tmp_path: Path, database: str) -> None:
    from alembic import command

    ini = alembic_project(tmp_path / "app", database, LINE)
    config = alembic_config(ini)
    command.upgrade(config, "a1")
    args = ("check", "migrations", "--url", database, "--config", str(ini))
    behind = run_slokit(*args)
    assert behind.returncode == 1
    assert "2 migrations to apply" in behind.stderr
    command.upgrade(config, "head")
    current = run_slokit(*args, "--json")
    assert current.returncode == 0, current.stderr
    assert json.loads(current.stdout)["status"] == "current"
    spec = _spec(tmp_path, database, critical=True)
    assert run_slokit("check", "migrations", "--spec", str(spec)).returncode == 0
    missing = run_slokit("check", "migrations", "--url", database, "--config", "nope.ini")
    assert missing.returncode == 2
    assert "no alembic config at" in missing.stderr
    down = run_slokit(
        "check", "migrations", "--url", "postgresql://postgres@127.0.0.1:1/x", "--config",
        str(ini), "--timeout", "2",
    )  # fmt: skip
    assert down.returncode == 2
    assert "cannot reach the database" in down.stderr


def test_bad_alembic_dependencies_are_located() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(
            "service: s\ndependencies:\n"
            "  a: {kind: alembic, url: 'postgresql://x@h/db'}\n"
            "  b: {kind: alembic, url: 'redis://h', config: alembic.ini}\n"
            "  c: {kind: redis, url: 'redis://h', config: alembic.ini}\n"
        )
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith("dependencies.a.config") and "needs config" in p for p in problems)
    assert any(p.startswith("dependencies.b.url") and "postgresql://" in p for p in problems)
    assert any(p.startswith("dependencies.c.config") and "kind: alembic" in p for p in problems)
