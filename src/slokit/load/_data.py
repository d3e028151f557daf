"""Rows from a CSV data file feeding ``{{column}}`` placeholders and ``Session.data``."""

from __future__ import annotations

import csv
import random
from collections.abc import Mapping
from pathlib import Path

from slokit.errors import UsageError

__all__ = ["DataExhausted", "DataFeed", "read_rows"]


class DataExhausted(Exception):
    """A ``unique`` data source has handed out every row this worker owns."""


def read_rows(path: Path) -> list[dict[str, str]]:
    """Read a CSV file with a header row; errors say which file and what is wrong."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                raise UsageError(
                    f"data file {path} is empty: it needs a header row of column names"
                )
            rows = [dict(r) for r in reader]
    except FileNotFoundError:
        raise UsageError(
            f"data file {path} does not exist (paths are relative to the spec file)"
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"data file {path} cannot be read: {exc}") from None
    if not rows:
        raise UsageError(f"data file {path} has a header but no rows")
    return rows


class DataFeed:
    """Hands out rows to iterations of one worker.

    ``sequential`` and ``unique`` give this worker the rows ``i, i+N, i+2N, ...`` so that
    workers never share a row; ``sequential`` wraps around, ``unique`` runs out.
    ``random`` draws from every row with a per-worker seed, so runs are repeatable.
    """

    def __init__(self, rows: list[dict[str, str]], mode: str, worker: int, workers: int) -> None:
        self._mode = mode
        owned = rows[worker::workers] if mode != "random" else rows
        # With more workers than rows, a sequential worker still needs something to send.
        self._rows = owned or rows
        self._next = 0
        self._rng = random.Random(worker)

    def next_row(self) -> Mapping[str, str]:
        if self._mode == "random":
            return self._rng.choice(self._rows)
        if self._next >= len(self._rows):
            if self._mode == "unique":
                raise DataExhausted
            self._next = 0
        row = self._rows[self._next]
        self._next += 1
        return row
