"""The run store on real SQLite and real PostgreSQL: round trips, queries, migrations, errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url

from slokit.errors import StoreError, UsageError
from slokit.results import RunResults
from slokit.store import (
    SCHEMA_VERSION,
    GitInfo,
    RunStore,
    _migrations,
    _schema,
    default_path,
    open_store,
)
from tests.store.conftest import T0, gate, make_run


@pytest.fixture
def raw(store_url: str) -> Iterator[Engine]:
    """A plain engine on the same database, to look at (and tamper with) the tables."""
    url = make_url(store_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_record_then_get_rebuilds_the_run_exactly(store: RunStore) -> None:
    original = make_run(
        {
            "GET /a": ([1000, 1500, 2200, 48_000, 250_000] * 40, {"5xx": 3, "timeout": 2}),
            "POST /b": (list(range(2000, 300_000, 997)), {}),
        },
        scenarios=("smoke", "steady"),
        verdicts=[gate("p95 < 100ms", False, "smoke"), gate("rps > 1", True, "steady")],
    )
    spec_text = "service: svc\n# ünïcode\n"
    git = GitInfo(commit="a" * 40, branch="main")
    record = store.record(original, spec_text=spec_text, labels={"env": "ci"}, git=git)

    got = store.get(record.id)
    assert got == record
    rebuilt = got.results()
    # the document is results.json as `slokit run --out` writes it (durations rounded, rates
    # following them), and it rebuilds exactly
    assert got.document == RunResults.from_dict(original.to_dict()).to_dict()
    assert rebuilt.to_dict() == got.document
    assert [sc.name for sc in rebuilt.scenarios] == ["smoke", "steady"]  # run order kept
    for name, stats in original.requests.items():
        again = rebuilt.requests[name]
        assert again.latency.counts == stats.latency.counts
        for p in (50.0, 90.0, 95.0, 99.0, 99.9):
            assert again.latency.percentile(p) == stats.latency.percentile(p)
    assert got.spec_hash == hashlib.sha256(spec_text.encode()).hexdigest()
    assert got.git == git
    assert got.labels == {"env": "ci"}
    assert got.scenarios == ("smoke", "steady")
    assert got.started == T0
    assert got.ended == T0 + timedelta(seconds=40)
    assert (got.status, got.passed, got.exit_code, got.partial) == ("fail", False, 1, False)
    assert [(v.scenario, v.name, v.passed) for v in got.verdicts] == [
        ("smoke", "p95 < 100ms", False),
        ("steady", "rps > 1", True),
    ]
    doc = got.document
    assert [r.name for r in got.requests] == list(doc["requests"])
    a = next(r for r in got.requests if r.name == "GET /a")
    assert (a.method, a.path, a.failed, a.failures) == ("GET", "/a", 10, {"5xx": 6, "timeout": 4})
    assert a.p95_ms == doc["requests"]["GET /a"]["latency_ms"]["p95"]
    assert a.rps == doc["requests"]["GET /a"]["rps"]
    assert got.total.count == doc["total"]["count"]
    assert got.total.p99_ms == doc["total"]["latency_ms"]["p99"]
    assert got.to_dict()["verdicts"][0]["name"] == "p95 < 100ms"


def test_aborted_run_keeps_its_flag_and_reason(store: RunStore) -> None:
    record = store.record(make_run(partial=True), spec_text="", labels={}, git=None)
    assert (record.partial, record.status, record.exit_code) == (True, "aborted", 3)
    assert record.abort_reason == "interrupted (Ctrl-C)"
    assert record.git is None


def _fill(store: RunStore) -> list[int]:
    runs = [
        make_run(service="orders", verdicts=[gate("g", True)]),
        make_run(service="orders", verdicts=[gate("g", False)]),
        make_run(service="orders", scenarios=("smoke", "steady")),
        make_run(service="quotes", scenarios=("steady",)),
        make_run(service="orders", partial=True),
    ]
    labels = [{"env": "ci"}, {"env": "staging"}, {"env": "ci", "pr": "7"}, {}, {"env": "ci"}]
    return [
        store.record(r, spec_text="x", labels=lab, git=None).id
        for r, lab in zip(runs, labels, strict=True)
    ]


def test_list_filters_and_orders_newest_first(store: RunStore) -> None:
    a, b, c, d, e = _fill(store)
    assert a < b < c < d < e
    assert [r.id for r in store.list()] == [e, d, c, b, a]
    assert [r.id for r in store.list(service="orders")] == [e, c, b, a]
    assert [r.id for r in store.list(scenario="steady")] == [d, c]
    assert [r.id for r in store.list(scenarios=["steady", "smoke"])] == [c]
    assert [r.id for r in store.list(scenarios=["smoke"])] == [e, b, a]
    assert [r.id for r in store.list(label="env=ci")] == [e, c, a]
    assert [r.id for r in store.list(label="pr")] == [c]
    assert [r.id for r in store.list(label="env=prod")] == []
    assert [r.id for r in store.list(service="orders", label="env=ci", limit=2)] == [e, c]
    assert [r.id for r in store.list(complete=True)] == [d, c, b, a]
    listed = store.list(scenario="steady")[1]
    assert listed.labels == {"env": "ci", "pr": "7"}
    assert listed.scenarios == ("smoke", "steady")


def test_last_and_the_run_id_keywords(store: RunStore) -> None:
    a, b, c, d, e = _fill(store)
    assert store.last().id == e  # type: ignore[union-attr]
    assert store.last(passed=True).id == d  # type: ignore[union-attr]
    assert store.last(service="orders", passed=True).id == c  # type: ignore[union-attr]
    assert store.last(service="orders", passed=False).id == b  # type: ignore[union-attr]
    assert store.last(service="nobody") is None
    assert store.get("last").id == e
    assert store.get("last-pass").id == d
    assert store.get("last-fail").id == b
    assert store.get("last-pass", service="orders").id == c
    assert store.get(f"r-{b}").id == b
    assert store.get(f"#{b}").id == b
    assert store.get(str(a)).id == a
    with pytest.raises(UsageError, match="not a run id"):
        store.get("yesterday")
    with pytest.raises(StoreError, match=r"no run 999 in .*slokit runs list"):
        store.get(999)
    with pytest.raises(StoreError, match="no failed runs of service 'quotes'"):
        store.get("last-fail", service="quotes")


def test_delete_forgets_a_run_and_ids_are_not_reused(store: RunStore) -> None:
    first = store.record(make_run(), spec_text="", labels={"k": "v"}, git=None).id
    store.delete(first)
    assert store.list() == []
    second = store.record(make_run(), spec_text="", labels={}, git=None).id
    assert second > first


def test_migrations_run_once_and_reopening_is_idempotent(
    store_url: str, tmp_path: Path, raw: Engine
) -> None:
    with open_store(store_url, project_dir=tmp_path) as first:
        assert first.migrations_applied == SCHEMA_VERSION
        first.record(make_run(), spec_text="", labels={}, git=None)
    for _ in range(2):
        with open_store(store_url, project_dir=tmp_path) as again:
            assert again.migrations_applied == 0
            assert len(again.list()) == 1
    with raw.connect() as conn:
        versions = conn.execute(select(_migrations.VERSIONS.c.version)).scalars().all()
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        # the migrated database has exactly the columns the queries use
        inspector = inspect(conn)
        for table in _schema.METADATA.sorted_tables:
            found = {c["name"] for c in inspector.get_columns(table.name)}
            assert found == {c.name for c in table.columns}, table.name


def test_a_store_from_a_newer_slokit_is_refused(
    store_url: str, tmp_path: Path, raw: Engine
) -> None:
    open_store(store_url, project_dir=tmp_path).close()
    with raw.begin() as conn:
        conn.execute(insert(_migrations.VERSIONS).values(version=SCHEMA_VERSION + 1, applied=T0))
    with pytest.raises(StoreError) as info:
        open_store(store_url, project_dir=tmp_path)
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert "newer slokit" in message
    assert "pip install -U slokit" in message


def test_a_failing_migration_leaves_the_store_as_it_was(
    store_url: str, tmp_path: Path, raw: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(store_url, project_dir=tmp_path).close()

    def broken(conn: object) -> None:
        conn.execute(text("CREATE TABLE half_done (x INTEGER)"))  # type: ignore[attr-defined]
        conn.execute(text("SELECT * FROM no_such_table"))  # type: ignore[attr-defined]

    monkeypatch.setattr(_migrations, "MIGRATIONS", (*_migrations.MIGRATIONS, broken))
    monkeypatch.setattr(_migrations, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="cannot open"):
        open_store(store_url, project_dir=tmp_path)
    with raw.connect() as conn:
        assert _migrations.current_version(conn) == SCHEMA_VERSION
        assert not inspect(conn).has_table("half_done")


def test_default_store_lives_beside_the_spec_and_is_git_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLOKIT_STORE", raising=False)
    with open_store(None, project_dir=tmp_path) as store:
        store.record(make_run(), spec_text="", labels={}, git=None)
        assert store.where == str(tmp_path / ".slokit" / "runs.db")
    assert default_path(tmp_path).is_file()
    assert (tmp_path / ".slokit" / ".gitignore").read_text().splitlines()[-1] == "*"
    other = tmp_path / "elsewhere.db"
    monkeypatch.setenv("SLOKIT_STORE", str(other))
    with open_store(None, project_dir=tmp_path) as store:
        assert store.list() == []
    assert other.is_file()


def test_reading_commands_do_not_create_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no run history at .* yet: `slokit run SPEC`"):
        open_store(str(tmp_path / "none.db"), project_dir=tmp_path, create=False)
    assert not (tmp_path / "none.db").exists()


def test_unreachable_postgresql_says_where_why_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://slokit:s3cret@127.0.0.1:1/runs", project_dir=tmp_path)
    message = str(info.value)
    assert "PostgreSQL at postgresql+psycopg://slokit:***@127.0.0.1:1/runs" in message
    assert "s3cret" not in message
    assert "refused" in message.lower()
    assert "--no-store" in message


def test_unknown_schemes_and_bad_files_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="'mysql' is not supported"):
        open_store("mysql://u@h/db", project_dir=tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.db.*move it aside"):
        open_store(str(junk), project_dir=tmp_path)
