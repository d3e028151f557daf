"""Drill journals in the store: one row per ``slokit drill``, newest first per name.

The store takes the journal as the JSON document drill.json holds (``DrillJournal.to_dict``),
so it needs nothing of ``slokit.drill``: the dependency points from drills to the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from slokit import __version__
from slokit.store import _schema as s

__all__ = ["DrillRecord", "insert_drill", "select_drills"]


@dataclass(frozen=True)
class DrillRecord:
    id: int
    name: str
    title: str
    started: datetime
    ended: datetime
    status: str
    exit_code: int
    rto_s: float | None
    rpo_s: float | None
    ttd_s: float | None
    lost_writes: int | None
    git_commit: str | None
    journal: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


def _when(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def insert_drill(conn: Connection, journal: dict[str, Any], git_commit: str | None) -> int:
    timings = journal.get("timings") or {}
    rpo = journal.get("rpo") or {}
    lost = rpo.get("lost_writes") if rpo and not rpo.get("error") else None
    row = {
        "name": journal["name"],
        "title": journal["title"],
        "started": _when(journal.get("started")),
        "ended": _when(journal.get("ended")),
        "status": journal["status"],
        "exit_code": int(journal.get("exit_code", 3)),
        "rto_s": timings.get("rto_s"),
        "rpo_s": rpo.get("rpo_s") if rpo else None,
        "ttd_s": timings.get("ttd_s"),
        "lost_writes": lost,
        "git_commit": git_commit,
        "slokit_version": __version__,
        "recorded": datetime.now(UTC),
        "journal": journal,
    }
    key = conn.execute(insert(s.DRILLS).values(row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def select_drills(
    conn: Connection, *, name: str | None, drill_id: int | None, limit: int
) -> list[DrillRecord]:
    query = select(s.DRILLS)
    if name is not None:
        query = query.where(s.DRILLS.c.name == name)
    if drill_id is not None:
        query = query.where(s.DRILLS.c.id == drill_id)
    query = query.order_by(s.DRILLS.c.id.desc()).limit(max(limit, 0))
    found = []
    for row in conn.execute(query).mappings():
        data = {k: row[k] for k in DrillRecord.__dataclass_fields__}
        data["journal"] = dict(data["journal"])
        found.append(DrillRecord(**data))
    return found
