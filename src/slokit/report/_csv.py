"""stats.csv and history.csv with Locust's columns, so tools that read Locust's CSVs read ours.

Locust writes ``<prefix>_stats.csv`` (one row per request plus an ``Aggregated`` row) and
``<prefix>_stats_history.csv`` (one ``Aggregated`` row per interval). The headers here are
Locust's, letter for letter. What differs is only what slokit measures better: times are
milliseconds with microsecond decimals (Locust rounds to whole ms), and both files are built
from ``results.json`` alone, so ``slokit report`` rebuilds them byte for byte.

history.csv has one row per second of each scenario's timeline (warm-up included): that
second's rates and p50/p95/p99/max; the other per-second percentiles are not in results.json
and read ``N/A`` (Locust's word for "no data", which pandas reads as NaN). ``Total Request
Count`` and ``Total Failure Count`` add up the measured seconds so far (warm-up excluded, as in
every slokit total), so the last row matches stats.csv's Aggregated row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from slokit.results import RequestStats, RunResults

__all__ = ["HISTORY_COLUMNS", "STATS_COLUMNS", "history_csv", "stats_csv"]

PERCENTILES = (50.0, 66.0, 75.0, 80.0, 90.0, 95.0, 98.0, 99.0, 99.9, 99.99, 100.0)
"""Locust's ``PERCENTILES_TO_REPORT``."""
PERCENTILE_COLUMNS = [f"{p:g}%" for p in PERCENTILES]
NA = "N/A"

STATS_COLUMNS = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
    *PERCENTILE_COLUMNS,
]
HISTORY_COLUMNS = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
    *PERCENTILE_COLUMNS,
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
]


def _num(value: float) -> float | int:
    """Whole numbers as integers, others to the microsecond (3 decimals of a millisecond)."""
    if float(value).is_integer():
        return int(value)
    return round(value, 3)


def _table(header: list[str], rows: Iterable[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _stats_row(stats: RequestStats, seconds: float, type_: str) -> list[Any]:
    hist = stats.latency
    failed = stats.failed
    values = [_num(v / 1000.0) for v in hist.percentiles(list(PERCENTILES))]
    return [
        type_,
        stats.name,
        stats.count,
        failed,
        _num(hist.percentile(50.0) / 1000.0),
        _num(hist.mean / 1000.0),
        _num(hist.min / 1000.0),
        _num(hist.max / 1000.0),
        _num(stats.bytes_received / stats.count) if stats.count else 0,
        _num(stats.count / seconds) if seconds > 0 else 0,
        _num(failed / seconds) if seconds > 0 else 0,
        *(values if hist.count else [NA] * len(PERCENTILES)),
    ]


def stats_csv(results: RunResults) -> str:
    """Locust's stats.csv: one row per request name over the whole run (warm-up excluded), in
    the order they first ran, then the ``Aggregated`` row. ``Type`` is the HTTP method."""
    seconds = results.measured_s
    requests = results.requests
    rows = [_stats_row(s, seconds, "" if s.method == "-" else s.method) for s in requests.values()]
    total = RequestStats("Aggregated")
    for stats in requests.values():
        total.merge(stats)
    rows.append(_stats_row(total, seconds, ""))
    return _table(STATS_COLUMNS, rows)


def _history_rows(results: RunResults) -> Iterable[list[Any]]:
    total_requests = total_failures = 0
    total_max = 0.0
    for sc in results.scenarios:
        start = int(sc.started.timestamp())
        for p in sc.timeline:
            if not p.warmup:
                total_requests += p.requests
                total_failures += p.failures
                total_max = max(total_max, p.max_ms)
            latency = {50.0: p.p50_ms, 95.0: p.p95_ms, 99.0: p.p99_ms, 100.0: p.max_ms}
            percentiles = [
                _num(latency[q]) if q in latency and p.max_ms > 0 else NA for q in PERCENTILES
            ]
            yield [
                start + p.second,
                p.vus,
                "",
                "Aggregated",
                p.requests,
                p.failures,
                *percentiles,
                total_requests,
                total_failures,
                NA,
                NA,
                NA,
                _num(total_max) if total_max > 0 else NA,
                NA,
            ]


def history_csv(results: RunResults) -> str:
    """Locust's stats_history.csv: one ``Aggregated`` row per second of every scenario, in the
    order they ran; ``Timestamp`` is Unix seconds (the scenario's start plus the second)."""
    return _table(HISTORY_COLUMNS, _history_rows(results))
