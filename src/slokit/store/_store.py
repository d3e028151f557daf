"""The run store: every ``slokit run`` recorded in SQLite (default) or PostgreSQL.

SQLAlchemy Core only (no ORM): rows go in as dicts and come out as frozen dataclasses. Every
database error is turned into :class:`~slokit.errors.StoreError` here, at the boundary, with
the store's location (password hidden), the reason and what to do.
"""

from __future__ import annotations

import builtins
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Select, delete, exists, insert, select
from sqlalchemy.exc import SQLAlchemyError

from slokit import __version__
from slokit.errors import StoreError, UsageError
from slokit.results import RunResults
from slokit.store import _rows as rows
from slokit.store import _schema as s
from slokit.store._connect import connect, failure
from slokit.store._drills import DrillRecord, insert_drill, select_drills
from slokit.store._migrations import migrate
from slokit.store._model import GitInfo, RequestSummary, RunRecord, RunSummary, StoredVerdict

__all__ = ["RunStore", "open_store"]

_SUMMARY_COLUMNS = [c for c in s.RUNS.c if c.name != "results"]
_RUN_ID = re.compile(r"(?:r-|#)?(\d+)")
_KEYWORDS = {"last": None, "last-pass": True, "last-fail": False}


def open_store(url: str | None, *, project_dir: Path, create: bool = True) -> RunStore:
    """Open (and create or migrate) the run store.

    ``url`` is ``postgresql://user:pass@host/db`` (driven by psycopg 3), ``sqlite:///path``, or
    a file path; None means the ``SLOKIT_STORE`` environment variable, else
    ``PROJECT_DIR/.slokit/runs.db``. ``create=False`` refuses to create a SQLite file that is
    not there yet (for commands that only read).
    """
    engine, where = connect(url, project_dir=project_dir, create=create)
    store = RunStore(engine, where)
    try:
        with store._errors("open"), store._write() as conn:
            store.migrations_applied = migrate(conn, where)
    except BaseException:
        store.close()
        raise
    return store


def _label_filter(label: str) -> Any:
    key, sep, value = label.partition("=")
    match = (s.RUN_LABELS.c.run_id == s.RUNS.c.id) & (s.RUN_LABELS.c.key == key.strip())
    if sep:
        match &= s.RUN_LABELS.c.value == value.strip()
    return exists().where(match)


class RunStore:
    """Recorded runs: ``record`` after a run; ``list``, ``get`` and ``last`` to look back.

    Use :func:`open_store`; close it (or use it as a context manager) when done.
    """

    def __init__(self, engine: Engine, where: str) -> None:
        self._engine = engine
        self.where = where
        """Where the store is, for people: a file path, or the URL without its password."""
        self.migrations_applied = 0
        """How many schema migrations the last open applied (0: it was up to date)."""

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise failure(exc, action, self.where, self._engine.dialect.name) from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(slokit_write=True)  # BEGIN IMMEDIATE on SQLite
            with conn.begin():
                yield conn

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({self.where!r})"

    # -- writing --------------------------------------------------------------------------

    def record(
        self,
        results: RunResults,
        *,
        spec_text: str,
        labels: Mapping[str, str],
        git: GitInfo | None,
    ) -> RunRecord:
        """Keep one run: its summary rows and its whole results.json document."""
        # results.json is written from the results as read back from their own document
        # (durations rounded, rates following them): store exactly that document.
        document = RunResults.from_dict(results.to_dict()).to_dict()
        total = RequestSummary.of(document["total"])
        # A failed verdict that is not gated in a gated scenario was held back by --fail-after.
        held = sum(
            1
            for sc in results.scenarios
            if sc.gated
            for v in sc.verdicts
            if not v.gated and not v.passed
        )
        row = {
            "service": results.service,
            "scenario_set": ",".join(sorted(sc.name for sc in results.scenarios)),
            "target": results.target,
            "started": results.started,
            "ended": results.started + timedelta(seconds=results.duration_s),
            "duration_s": results.duration_s,
            "spec_hash": hashlib.sha256(spec_text.encode()).hexdigest(),
            "git_commit": git.commit if git else None,
            "git_branch": git.branch if git else None,
            "partial": results.partial,
            "abort_reason": next((sc.abort_reason for sc in results.scenarios if sc.partial), None),
            "passed": results.passed,
            "held_back": held,
            "exit_code": results.exit_code,
            **rows.summary_columns("total_", total),
            "slokit_version": __version__,
            "recorded": datetime.now(UTC),
            "results": document,
        }
        with self._errors("record the run"), self._write() as conn:
            key = conn.execute(insert(s.RUNS).values(row)).inserted_primary_key
            assert key is not None
            run_id = int(key[0])
            rows.insert_parts(conn, run_id, results, document, labels)
        return self.get(run_id)

    def delete(self, run_id: int) -> None:
        """Forget one run (its parts go with it)."""
        with self._errors("delete the run"), self._write() as conn:
            for table in (s.RUN_SCENARIOS, s.RUN_LABELS, s.RUN_VERDICTS, s.RUN_REQUESTS):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(s.RUNS).where(s.RUNS.c.id == run_id))

    def record_drill(self, journal: Mapping[str, Any], *, git: GitInfo | None) -> DrillRecord:
        """Keep one drill: its RTO, RPO and time to detect, and the whole drill.json."""
        with self._errors("record the drill"), self._write() as conn:
            drill_id = insert_drill(conn, dict(journal), git.commit if git else None)
        return self.drills(drill_id=drill_id)[0]

    # -- reading --------------------------------------------------------------------------

    def drills(
        self, name: str | None = None, limit: int = 50, *, drill_id: int | None = None
    ) -> builtins.list[DrillRecord]:
        """Recorded drills, newest first; ``name`` keeps one drill's history."""
        with self._errors("list drills"), self._engine.connect() as conn:
            return select_drills(conn, name=name, drill_id=drill_id, limit=limit)

    def _query(
        self,
        *,
        service: str | None,
        scenario: str | None,
        scenarios: Sequence[str] | None,
        label: str | None,
        passed: bool | None,
        complete: bool,
        started: tuple[datetime, datetime] | None = None,
    ) -> Select[Any]:
        query = select(*_SUMMARY_COLUMNS)
        if started is not None:
            query = query.where(s.RUNS.c.started >= started[0], s.RUNS.c.started < started[1])
        if service is not None:
            query = query.where(s.RUNS.c.service == service)
        if scenario is not None:
            query = query.where(
                s.RUNS.c.id.in_(
                    select(s.RUN_SCENARIOS.c.run_id).where(s.RUN_SCENARIOS.c.name == scenario)
                )
            )
        if scenarios is not None:
            query = query.where(s.RUNS.c.scenario_set == ",".join(sorted(scenarios)))
        if label is not None:
            query = query.where(_label_filter(label))
        if complete or passed is not None:
            query = query.where(s.RUNS.c.partial.is_(False))
        if passed is True:
            query = query.where(s.RUNS.c.exit_code == 0, s.RUNS.c.held_back == 0)
        elif passed is False:
            query = query.where((s.RUNS.c.exit_code != 0) | (s.RUNS.c.held_back > 0))
        return query.order_by(s.RUNS.c.id.desc())

    def list(
        self,
        service: str | None = None,
        scenario: str | None = None,
        label: str | None = None,
        limit: int = 50,
        *,
        scenarios: Sequence[str] | None = None,
        passed: bool | None = None,
        complete: bool = False,
        started: tuple[datetime, datetime] | None = None,
    ) -> builtins.list[RunSummary]:
        """Recorded runs, newest first.

        ``scenario`` keeps runs that ran that scenario; ``scenarios`` keeps runs that ran
        exactly that set. ``label`` is ``key=value`` (or ``key``: has the label at all).
        ``passed=True``: runs that passed every gate (none held back by ``--fail-after``);
        ``passed=False``: runs where a gate failed. Either excludes aborted runs, as does
        ``complete=True``. ``started`` keeps runs that started in ``[from, until)``.
        """
        query = self._query(
            service=service,
            scenario=scenario,
            scenarios=scenarios,
            label=label,
            passed=passed,
            complete=complete,
            started=started,
        ).limit(max(limit, 0))
        with self._errors("list runs"), self._engine.connect() as conn:
            found = [dict(r) for r in conn.execute(query).mappings()]
            return rows.summaries(conn, found)

    def last(
        self,
        service: str | None = None,
        scenario: str | None = None,
        label: str | None = None,
        *,
        scenarios: Sequence[str] | None = None,
        passed: bool | None = None,
        complete: bool = False,
    ) -> RunSummary | None:
        """The newest run that matches (see :meth:`list`), or None."""
        found = self.list(
            service,
            scenario,
            label,
            1,
            scenarios=scenarios,
            passed=passed,
            complete=complete,
        )
        return found[0] if found else None

    def resolve(self, ref: int | str, *, service: str | None = None) -> int:
        """A run id from ``12``, ``r-12``, ``#12``, ``last``, ``last-pass`` or ``last-fail``."""
        if isinstance(ref, int):
            return ref
        text = ref.strip().lower()
        if text in _KEYWORDS:
            found = self.last(service, passed=_KEYWORDS[text])
            if found is None:
                scope = f" of service {service!r}" if service else ""
                what = {"last": "runs", "last-pass": "passed runs", "last-fail": "failed runs"}
                raise StoreError(f"no {what[text]}{scope} recorded in {self.where} yet")
            return found.id
        match = _RUN_ID.fullmatch(text)
        if match is None:
            raise UsageError(
                f"{ref!r} is not a run id: give a number from `slokit runs list` (12, r-12), "
                "or last, last-pass, last-fail"
            )
        return int(match.group(1))

    def get(self, run_id: int | str, *, service: str | None = None) -> RunRecord:
        """One run in full. ``run_id`` as :meth:`resolve` reads it; ``service`` scopes
        ``last``, ``last-pass`` and ``last-fail``."""
        number = self.resolve(run_id, service=service)
        with self._errors("read the run"), self._engine.connect() as conn:
            row = conn.execute(select(s.RUNS).where(s.RUNS.c.id == number)).mappings().first()
            if row is None:
                raise StoreError(
                    f"no run {number} in {self.where}: `slokit runs list` shows the ids there"
                )
            data = dict(row)
            document = data.pop("results")
            summary = rows.summaries(conn, [data])[0]
            verdicts = rows.verdicts(conn, number)
            requests = conn.execute(
                select(s.RUN_REQUESTS)
                .where(s.RUN_REQUESTS.c.run_id == number)
                .order_by(s.RUN_REQUESTS.c.position)
            ).mappings()
            parts = tuple(rows.request_summary(dict(r)) for r in requests)
        fields = {f: getattr(summary, f) for f in RunSummary.__dataclass_fields__}
        return RunRecord(**fields, verdicts=verdicts, requests=parts, document=dict(document))

    def verdicts(self, run_id: int) -> tuple[StoredVerdict, ...]:
        """One run's verdicts, without loading its results document."""
        with self._errors("read the run's verdicts"), self._engine.connect() as conn:
            return rows.verdicts(conn, run_id)
