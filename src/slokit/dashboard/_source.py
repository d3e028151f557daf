"""The dashboard's view of the run store: opened once, read by every page, never written.

A store that does not exist yet (a SQLite file no ``slokit run`` has created) is not an
error: the pages say how to record runs, and the file is looked for again on every request,
so the first recorded run shows up without a restart. Any other failure to open the store is
raised at start (the command exits 2); a store that fails later makes the pages answer 503.

Recorded runs never change, so what the pages derive from one (its per-scenario totals and
its verdicts) is kept in a small LRU cache keyed by run id.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from starlette.exceptions import HTTPException

from slokit.errors import StoreError, UsageError
from slokit.store import (
    ENV_VAR,
    DrillRecord,
    RequestSummary,
    RunRecord,
    RunStore,
    RunSummary,
    StoredVerdict,
    default_path,
    open_store,
)

__all__ = ["Source", "pending_file"]

T = TypeVar("T")
_CACHED_RUNS = 2048


def pending_file(url: str | None, project_dir: Path) -> Path | None:
    """The SQLite file a store URL names when that file does not exist yet, else None."""
    url = url or os.environ.get(ENV_VAR) or None
    if url is None:
        path = default_path(project_dir)
    elif "://" not in url:
        path = Path(url).expanduser()
    elif url.lower().startswith("sqlite:"):
        from sqlalchemy import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            database = make_url(url).database
        except ArgumentError:
            return None  # open_store says what is wrong with it
        if not database or database == ":memory:":
            return None
        path = Path(database).expanduser()
    else:
        return None
    return None if path.exists() else path


class _Cache:
    """A thread-safe LRU map from run id to what was derived from that (immutable) run."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int], object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kind: str, run_id: int, make: Callable[[], T]) -> T:
        key = (kind, run_id)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class Source:
    """The store behind the pages; :class:`~slokit.errors.StoreError` from the constructor
    when it cannot be opened (unless it simply does not exist yet)."""

    def __init__(self, url: str | None, *, project_dir: Path) -> None:
        self._url = url
        self._project_dir = project_dir
        self._store: RunStore | None = None
        self._lock = threading.Lock()
        self._cache = _Cache(_CACHED_RUNS)
        self.where = ""
        """Where the runs are (or will be) kept, for people."""
        self._open()

    def _open(self) -> None:
        pending = pending_file(self._url, self._project_dir)
        if pending is not None:
            self.where = str(pending)
            return
        self._store = open_store(self._url, project_dir=self._project_dir, create=False)
        self.where = self._store.where

    @property
    def store(self) -> RunStore | None:
        """The open store; None while no run has been recorded into it yet."""
        with self._lock:
            if self._store is None:
                self._open()
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- drills ---------------------------------------------------------------------------

    def drills(self, *, name: str | None = None, limit: int = 100) -> list[DrillRecord]:
        """Recorded drills, newest first (none while the store does not exist)."""
        store = self.store
        if store is None:
            return []
        return store.drills(name, limit)

    # -- runs -----------------------------------------------------------------------------

    def runs(
        self,
        *,
        service: str | None = None,
        scenario: str | None = None,
        label: str | None = None,
        limit: int = 50,
    ) -> list[RunSummary]:
        """Recorded runs, newest first (none while the store does not exist)."""
        store = self.store
        if store is None:
            return []
        return store.list(service, scenario, label, limit)

    def _found(self, lookup: Callable[[RunStore], T]) -> T:
        """``lookup(store)``, with a run that is not there as a 404 and a failing store as
        the StoreError it is (503)."""
        store = self.store
        if store is None:
            raise HTTPException(404, f"no runs are recorded in {self.where} yet")
        try:
            return lookup(store)
        except UsageError as exc:
            raise HTTPException(404, str(exc)) from None
        except StoreError as exc:
            # The store says the same for "no such run" and "cannot read": ask it something
            # that only fails when the store itself does (that StoreError means 503).
            store.list(limit=1)
            raise HTTPException(404, str(exc)) from None

    def resolve(self, ref: str) -> int:
        """A run id from ``12``, ``r-12``, ``last``, ``last-pass`` or ``last-fail`` (404)."""
        return self._found(lambda store: store.resolve(ref))

    def record(self, run_id: int) -> RunRecord:
        """One run in full (404 when there is no such run)."""
        return self._found(lambda store: store.get(run_id))

    def verdicts(self, run: RunSummary) -> tuple[StoredVerdict, ...]:
        store = self.store
        if store is None:
            return ()
        return self._cache.get("verdicts", run.id, lambda: store.verdicts(run.id))

    def scenario_totals(self, run: RunSummary) -> dict[str, RequestSummary]:
        """Each scenario's total (warm-up excluded), as the run's results.json has it.

        A run of one scenario has it in its summary; others need the run's document.
        """
        if len(run.scenarios) == 1:
            return {run.scenarios[0]: run.total}

        def load() -> dict[str, RequestSummary]:
            scenarios = self.record(run.id).document.get("scenarios", {})
            return {
                str(name): RequestSummary.of({**data["total"], "name": "total"})
                for name, data in scenarios.items()
                if isinstance(data, dict) and isinstance(data.get("total"), dict)
            }

        return self._cache.get("totals", run.id, load)

    def capacity(self, run: RunSummary, scenario: str) -> tuple[float | None, float | None] | None:
        """(sustainable, breaking) rate of a capacity search in ``run``; None for a scenario
        that is not one. Read from the run's results.json (cached)."""

        def load() -> dict[str, tuple[float | None, float | None]]:
            found = {}
            for name, data in self.record(run.id).document.get("scenarios", {}).items():
                capacity = data.get("capacity") if isinstance(data, dict) else None
                if isinstance(capacity, dict):
                    found[str(name)] = (
                        _rate(capacity.get("sustainable_rate")),
                        _rate(capacity.get("breaking_rate")),
                    )
            return found

        return self._cache.get("capacity", run.id, load).get(scenario)

    def cost(self, run: RunSummary, scenario: str) -> tuple[float | None, float | None, str] | None:
        """(cost per million served, at SLO, currency) of ``scenario`` in ``run``; None for a
        scenario without prices. Read from the run's results.json (cached)."""

        def load() -> dict[str, tuple[float | None, float | None, str]]:
            found = {}
            for name, data in self.record(run.id).document.get("scenarios", {}).items():
                priced = _cost_of(data)
                if priced is not None:
                    found[str(name)] = priced
            return found

        return self._cache.get("cost", run.id, load).get(scenario)


def _cost_of(data: object) -> tuple[float | None, float | None, str] | None:
    cost = data.get("cost") if isinstance(data, dict) else None
    if not isinstance(cost, dict):
        return None
    return (
        _rate(cost.get("per_million")),
        _rate(cost.get("per_million_at_slo")),
        str(cost.get("currency") or ""),
    )


def _rate(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
