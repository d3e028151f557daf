"""Schema migrations: an ordered list of functions, applied at open inside one transaction.

Why not Alembic: the store has a handful of tables, is created by ``slokit run`` on users'
machines and CI runners (no migration step anyone would remember to run), and has to work on
SQLite and PostgreSQL from the same code. An ordered list of plain functions over SQLAlchemy
Core gives the same guarantees in ~60 lines: ``schema_version`` records every version applied,
each open applies only the missing ones (so opening is idempotent), everything happens in one
transaction (PostgreSQL and SQLite both have transactional DDL), concurrent openers are
serialised (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), and a store
written by a newer slokit is refused with a message instead of being misread.

Adding a migration: append a function to :data:`MIGRATIONS` and make the same change to the
tables in ``_schema.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
)

from slokit.errors import StoreError
from slokit.store import _schema

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "VERSIONS", "current_version", "migrate"]

VERSIONS = Table(
    "schema_version",
    MetaData(),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied", _schema.UTCDateTime, nullable=False),
)

_LOCK_ID = 0x510C17  # pg_advisory_xact_lock key: one migrator per database at a time


def _v1_create_tables(conn: Connection) -> None:
    """Version 1: runs, their scenarios, labels, verdicts and per-request summaries.

    It creates the tables as ``_schema`` declares them. When a later migration changes a
    table, copy the version-1 definitions in here first: otherwise a new store gets the new
    columns from this step and the later step fails (loudly, in every store test).
    """
    tables = [_schema.RUNS, _schema.RUN_SCENARIOS, _schema.RUN_LABELS, _schema.RUN_VERDICTS,
              _schema.RUN_REQUESTS]  # fmt: skip
    _schema.METADATA.create_all(conn, tables=tables)


def _v2_drills(conn: Connection) -> None:
    """Version 2: ``slokit drill`` journals, with RTO, RPO and time to detect as columns."""
    _schema.DRILLS.create(conn)


Migration = Callable[[Connection], None]

MIGRATIONS: tuple[Migration, ...] = (_v1_create_tables, _v2_drills)
"""Migration ``i`` (0-based) brings a store from version ``i`` to ``i + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this code writes and reads."""


def current_version(conn: Connection) -> int:
    """The store's schema version: 0 for an empty database."""
    if not inspect(conn).has_table(VERSIONS.name):
        return 0
    return int(conn.scalar(select(func.max(VERSIONS.c.version))) or 0)


def migrate(conn: Connection, where: str) -> int:
    """Bring the store to the newest version inside the caller's transaction.

    Returns how many migrations ran (0 when the store was up to date). Raises
    :class:`StoreError` when the store is newer than this code.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_ID})
    VERSIONS.create(conn, checkfirst=True)
    version = current_version(conn)
    known = SCHEMA_VERSION
    if version > known:
        raise StoreError(
            f"the run store {where} has schema version {version}, but this slokit only knows "
            f"versions up to {known}: it was written by a newer slokit. Upgrade slokit "
            "(pip install -U slokit), or record into another store with --store URL"
        )
    for number in range(version + 1, known + 1):
        MIGRATIONS[number - 1](conn)
        conn.execute(insert(VERSIONS).values(version=number, applied=datetime.now(UTC)))
    return known - version
