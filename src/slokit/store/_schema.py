"""The store's tables as the queries see them: the schema after the newest migration.

The migrations in ``_migrations.py`` build these tables step by step; a test checks that a
freshly migrated store has exactly the columns declared here, so the two cannot drift apart.
Changing a table means a new migration *and* the matching change here.

``runs`` has one row per recorded run, with the run's totals in columns so lists and trends
need no join, and the whole results.json document (histograms included) in ``results``.
``run_scenarios``, ``run_labels``, ``run_verdicts`` and ``run_requests`` are the parts people
filter and chart on. ``drills`` has one row per ``slokit drill``: its measured RTO, RPO and
time to detect in columns (for trends), the whole drill.json in ``journal``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

__all__ = [
    "DRILLS",
    "METADATA",
    "RUNS",
    "RUN_LABELS",
    "RUN_REQUESTS",
    "RUN_SCENARIOS",
    "RUN_VERDICTS",
    "UTCDateTime",
    "count_columns",
    "latency_columns",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (no time zones) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def latency_columns(prefix: str = "") -> list[Column[float]]:
    """A request summary's numbers: rates and latency percentiles in milliseconds."""
    names = ("error_rate", "rps", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")
    return [Column(prefix + name, Float, nullable=False) for name in names]


def count_columns(prefix: str = "") -> list[Column[int]]:
    return [
        Column(prefix + name, Integer, nullable=False) for name in ("count", "failed", "dropped")
    ]


METADATA = MetaData()

RUNS = Table(
    "runs",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(200), nullable=False, index=True),
    Column("scenario_set", Text, nullable=False),
    Column("target", Text),
    Column("started", UTCDateTime, nullable=False),
    Column("ended", UTCDateTime, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("git_commit", String(64)),
    Column("git_branch", Text),
    Column("partial", Boolean, nullable=False),
    Column("abort_reason", Text),
    Column("passed", Boolean, nullable=False),
    Column("held_back", Integer, nullable=False),
    Column("exit_code", Integer, nullable=False),
    *count_columns("total_"),
    Column("total_failures", JSON, nullable=False),
    *latency_columns("total_"),
    Column("slokit_version", String(40), nullable=False),
    Column("recorded", UTCDateTime, nullable=False),
    Column("results", JSON, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused, even after runs are deleted
)

RUN_SCENARIOS = Table(
    "run_scenarios",
    METADATA,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("executor", String(40), nullable=False),
)

RUN_LABELS = Table(
    "run_labels",
    METADATA,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
)

RUN_VERDICTS = Table(
    "run_verdicts",
    METADATA,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("scenario", String(200), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("name", Text, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("gated", Boolean, nullable=False),
    Column("observed", Float),
    Column("op", String(4), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("unit", String(20), nullable=False),
    Column("detail", Text, nullable=False),
)

RUN_REQUESTS = Table(
    "run_requests",
    METADATA,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("method", String(20), nullable=False),
    Column("path", Text, nullable=False),
    *count_columns(),
    Column("failures", JSON, nullable=False),
    *latency_columns(),
)

DRILLS = Table(
    "drills",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("ended", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("rto_s", Float),
    Column("rpo_s", Float),
    Column("ttd_s", Float),
    Column("lost_writes", Integer),
    Column("git_commit", String(64)),
    Column("slokit_version", String(40), nullable=False),
    Column("recorded", UTCDateTime, nullable=False),
    Column("journal", JSON, nullable=False),
    sqlite_autoincrement=True,
)
