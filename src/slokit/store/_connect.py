"""From a store URL (or nothing) to a SQLAlchemy engine, and database errors to StoreErrors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from slokit.errors import StoreError

__all__ = ["ENV_VAR", "connect", "default_path", "failure"]

ENV_VAR = "SLOKIT_STORE"

_CONNECT_TIMEOUT_S = 5


def default_path(project_dir: Path) -> Path:
    """Where a project's runs are kept when no URL is given."""
    return project_dir / ".slokit" / "runs.db"


def _prepare_default(path: Path) -> None:
    """``.slokit/`` with a ``.gitignore`` of ``*``: run history never lands in a commit."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# slokit's run history (slokit runs list); not for version control\n*\n")


def _parse(url: str | None, project_dir: Path) -> tuple[URL, Path | None, bool]:
    """The SQLAlchemy URL, the SQLite file (if any), and whether it is the default store."""
    if url is None:
        path = default_path(project_dir)
        return URL.create("sqlite", database=str(path)), path, True
    if "://" not in url:  # a plain path: a SQLite file
        path = Path(url).expanduser()
        return URL.create("sqlite", database=str(path)), path, False
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"--store {url!r} is not a URL slokit can open: give postgresql://user@host/db, "
            "sqlite:///path/runs.db or a file path"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed, None, False
    if backend == "sqlite":
        database = parsed.database
        memory = database in (None, "", ":memory:")
        return parsed, None if memory else Path(str(database)).expanduser(), False
    raise StoreError(
        f"--store {describe(parsed)}: {backend!r} is not supported; slokit keeps runs in "
        "PostgreSQL (postgresql://user@host/db) or SQLite (sqlite:///path/runs.db)"
    )


def describe(url: URL) -> str:
    """The URL for people: passwords hidden, SQLite shown as its file."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def _sqlite_transactions(engine: Engine) -> None:
    """pysqlite's own transaction handling skips DDL; let SQLAlchemy's BEGIN be the real one.

    Writes begin with ``BEGIN IMMEDIATE``: two runs recording (or migrating) at the same time
    wait for each other (up to the connect timeout) instead of failing half-way.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("slokit_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def connect(url: str | None, *, project_dir: Path, create: bool) -> tuple[Engine, str]:
    """An engine for the store, and where it is (for messages). Nothing is queried yet."""
    url = url or os.environ.get(ENV_VAR) or None
    parsed, path, default = _parse(url, project_dir)
    where = describe(parsed)
    if path is not None:
        if not create and not path.exists():
            raise StoreError(
                f"no run history at {path} yet: `slokit run SPEC` records every run there "
                f"(under the spec's directory); or point at a store with --store URL or {ENV_VAR}"
            )
        try:
            if default:
                _prepare_default(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the run store {path}: {exc.strerror or exc}; make the "
                "directory writable, or give another store with --store URL (or --no-store)"
            ) from None
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        connect_args["timeout"] = 30
    elif "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = _CONNECT_TIMEOUT_S
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except ImportError:
        raise StoreError(
            f"a PostgreSQL store ({where}) needs psycopg 3: pip install 'slokit[store-postgres]'"
        ) from None
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    return engine, where


def failure(exc: SQLAlchemyError, action: str, where: str, dialect: str) -> StoreError:
    """A StoreError that says what failed, why, and what to try."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = "; ".join(line.strip() for line in reason[:2] if line.strip()) or type(exc).__name__
    if dialect == "postgresql":
        if isinstance(exc, OperationalError):
            hint = (
                "check that PostgreSQL is running and that the URL's host, port, user, password "
                "and database are right (create the database first: createdb NAME); or run "
                "without history: --no-store"
            )
            return StoreError(f"cannot {action}: PostgreSQL at {where} failed: {text}; {hint}")
        hint = "check that the user may create and write tables in that database"
    else:
        hint = (
            "check that the file is a slokit run store and is writable; move it aside to "
            "start a new history"
        )
    return StoreError(f"cannot {action} in the run store {where}: {text}; {hint}")
