"""Migration drift: is the database at the alembic heads this code ships with?

Seed 001's ``GET /health/migrations`` and its CI "migration check". The heads come from the
project's alembic script directory (read once per process: a deploy replaces the process
with the scripts), the database's revisions from its ``alembic_version`` table. The answer:

- ``current``: the database is at every head;
- ``behind``: it is at ancestors of the heads, with the migrations still to apply;
- ``unknown``: it is at a revision the scripts do not have (newer code migrated it, or the
  wrong database);
- ``unmigrated``: it has no ``alembic_version`` table, or an empty one.

alembic is imported only when a migrations check runs, so ``slokit[service]`` stays light.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from slokit.errors import UsageError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

__all__ = [
    "MigrationState",
    "compare_revisions",
    "database_revisions",
    "migration_state",
    "script_directory",
]

State = Literal["current", "behind", "unknown", "unmigrated"]

_scripts: dict[str, ScriptDirectory] = {}
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class MigrationState:
    status: State
    database: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...] = ()
    """Revisions still to apply (``behind``), oldest first."""

    @property
    def current(self) -> bool:
        return self.status == "current"

    @property
    def detail(self) -> str:
        at = ", ".join(self.database) or "no revision"
        heads = ", ".join(self.heads) or "none"
        if self.status == "current":
            return f"at head ({heads})"
        if self.status == "behind":
            n = len(self.pending)
            return (
                f"behind: the database is at {at}, the heads are {heads}: {n} migration"
                f"{'s' if n != 1 else ''} to apply ({', '.join(self.pending)}): run "
                "alembic upgrade heads"
            )
        if self.status == "unknown":
            return (
                f"the database is at {at}, which these scripts do not have (heads {heads}): "
                "newer code migrated it, or this is the wrong database"
            )
        return f"the database has no alembic revision (heads {heads}): run alembic upgrade heads"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "database": list(self.database),
            "heads": list(self.heads),
            "pending": list(self.pending),
            "detail": self.detail,
        }


def script_directory(config: str | Path) -> ScriptDirectory:
    """The alembic scripts of ``config`` (an alembic.ini), cached per path. A relative
    ``script_location`` is the ini file's, not the current directory's."""
    path = Path(config).resolve()
    key = str(path)
    with _lock:
        found = _scripts.get(key)
    if found is not None:
        return found
    try:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
    except ImportError:
        raise UsageError(
            "the migrations check needs alembic: pip install alembic (or 'slokit[drill]')"
        ) from None
    if not path.is_file():
        raise UsageError(f"no alembic config at {path}: give the project's alembic.ini")
    cfg = Config(str(path))
    location = cfg.get_main_option("script_location")
    if not location:
        raise UsageError(f"{path} has no script_location under [alembic]")
    if not Path(location).is_absolute() and "%(" not in location:
        cfg.set_main_option("script_location", str(path.parent / location))
    try:
        scripts = ScriptDirectory.from_config(cfg)
        scripts.get_heads()  # reads every script now, so a broken one fails here, once
    except Exception as exc:
        raise UsageError(f"alembic cannot read the scripts of {path}: {exc}") from None
    with _lock:
        _scripts[key] = scripts
    return scripts


def compare_revisions(scripts: ScriptDirectory, database: set[str]) -> MigrationState:
    """Where ``database`` (its alembic_version rows) stands against the scripts' heads."""
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    heads = tuple(sorted(scripts.get_heads()))
    at = tuple(sorted(database))
    if not database:
        pending = tuple(r.revision for r in reversed(list(scripts.walk_revisions())))
        return MigrationState("unmigrated", at, heads, pending)
    if set(at) == set(heads):
        return MigrationState("current", at, heads)
    try:
        below = _ancestors(scripts, at)
    except (RevisionError, CommandError):
        return MigrationState("unknown", at, heads)  # not in these scripts
    wanted = _ancestors(scripts, heads)
    if not below <= wanted:
        return MigrationState("unknown", at, heads)  # in the scripts, but off every head's line
    # Oldest first: walk_revisions goes from the heads down to the base.
    order = [r.revision for r in reversed(list(scripts.walk_revisions()))]
    pending = tuple(r for r in order if r in wanted - below)
    return MigrationState("behind", at, heads, pending)


def _ancestors(scripts: ScriptDirectory, revisions: tuple[str, ...]) -> set[str]:
    """``revisions`` and everything below them, down to the base."""
    found: set[str] = set()
    for rev in revisions:
        found.update(r.revision for r in scripts.iterate_revisions(rev, "base"))
    return found


async def database_revisions(url: str, timeout: float) -> set[str]:
    """The rows of ``alembic_version`` (empty without the table), over a fresh connection."""
    from slokit.asgi._checks import postgres_connection

    async with postgres_connection(url, timeout) as conn:
        exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        rows = await conn.fetch("SELECT version_num FROM alembic_version") if exists else []
    return {str(r["version_num"]) for r in rows}


async def migration_state(url: str, config: str | Path, timeout: float = 5.0) -> MigrationState:
    """The database at ``url`` against the scripts of ``config``."""
    scripts = await asyncio.to_thread(script_directory, config)
    database = await database_revisions(url, timeout)
    return compare_revisions(scripts, database)
