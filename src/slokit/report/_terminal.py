"""The terminal report: one table of requests and one of verdicts per scenario, then the result."""

from __future__ import annotations

import re

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from slokit.report._capacity import capacity_rows, capacity_summary
from slokit.report._checks import failed_check_lines
from slokit.report._cost import cost_lines
from slokit.report._headline import headline, verdict_result
from slokit.report._soak import (
    drift_rows,
    generator_line,
    generator_note,
    resource_rows,
    spike_lines,
)
from slokit.report._streams import stream_rows
from slokit.report._workers import worker_lines
from slokit.results import (
    RequestStats,
    RunResults,
    ScenarioResults,
    format_bytes,
    format_count,
    format_ms,
    format_percent,
)

__all__ = ["render_terminal"]

_LATENCY_COLUMNS = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0))


def _number_cells(stats: RequestStats, seconds: float, with_dropped: bool) -> list[str]:
    hist = stats.latency
    failed = stats.failed
    errors = "-" if not stats.count else format_percent(failed / stats.count)
    if failed:
        errors = f"[red]{errors}[/]"
    rps = format_count(round(stats.count / seconds, 1)) if seconds > 0 else "-"
    latencies = (
        [format_ms(v / 1000.0) for v in hist.percentiles([p for _, p in _LATENCY_COLUMNS])]
        + [format_ms(hist.max / 1000.0)]
        if hist.count
        else ["-"] * (len(_LATENCY_COLUMNS) + 1)
    )
    row = [format_count(stats.count), errors, rps, *latencies]
    if with_dropped:
        row.append(f"[red]{format_count(stats.dropped)}[/]" if stats.dropped else "0")
    return row


OPEN_MODEL = frozenset({"constant-arrival-rate", "ramping-arrival-rate", "capacity"})
"""Executors that can drop arrivals: only their tables have a ``dropped`` column."""


def _requests_table(sc: ScenarioResults, width: int) -> Table:
    title = f"scenario [bold]{escape(sc.name)}[/] ({sc.executor}, {sc.duration_s:.1f}s"
    title += f", warm-up {sc.warmup_s:g}s excluded" if sc.warmup_s else ""
    title += f"; {escape(sc.alongside_text)})" if sc.alongside_text else ")"
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        pad_edge=False,
        collapse_padding=True,
    )
    # A closed model never drops: a column of zeros would only take a name's room.
    with_dropped = sc.executor in OPEN_MODEL or any(s.dropped for s in sc.requests.values())
    headers = ["requests", "errors", "req/s", *(c for c, _ in _LATENCY_COLUMNS), "max"]
    headers += ["dropped"] if with_dropped else []
    seconds = sc.measured_s
    shown = [s for s in sc.requests.values() if s.count or s.dropped]
    if len(sc.requests) > 1:
        shown.append(sc.total)
    rows = [_number_cells(stats, seconds, with_dropped) for stats in shown]
    # Room for the names: what the numbers leave (each column has a space on either side).
    numbers = sum(
        max(len(Text.from_markup(row[i]).plain) for row in [headers, *rows]) + 2
        for i in range(len(headers))
    )
    room = max(16, width - numbers - 2)
    # Request names are what people scan for: wrapped after a "/", never cut.
    table.add_column("request", overflow="fold")
    for header in headers:
        table.add_column(header, justify="right")
    for stats, row in zip(shown, rows, strict=True):
        name = escape(_wrap_name(stats.name, room))
        table.add_row(name, *row, style="bold" if stats is sc.total else None)
    return table


def _wrap_name(name: str, room: int) -> str:
    """``name`` in lines of at most ``room`` characters, broken after "/", " ", "?" or "&"
    (a part longer than a line is folded by the table)."""
    if len(name) <= room:
        return name
    lines = [""]
    for part in re.split(r"(?<=[/ ?&])", name):
        if lines[-1] and len(lines[-1]) + len(part) > room:
            lines.append("")
        lines[-1] += part
    return "\n".join(line.rstrip() for line in lines)


def _totals_line(sc: ScenarioResults) -> str:
    """k6's summary lines in one: iterations, data sent and received, with their rates."""
    seconds = sc.measured_s
    total = sc.total

    def rate(n: float, unit: str) -> str:
        return f" ({format_count(round(n / seconds, 1))}{unit}/s)" if seconds > 0 else ""

    parts = []
    if sc.iterations:
        parts.append(f"iterations {format_count(sc.iterations)}{rate(sc.iterations, '')}")
    for word, n in (("data sent", total.bytes_sent), ("received", total.bytes_received)):
        per_s = f" ({format_bytes(n / seconds)}/s)" if seconds > 0 else ""
        parts.append(f"{word} {format_bytes(n)}{per_s}")
    return " · ".join(parts)


def _failure_kinds(sc: ScenarioResults) -> str | None:
    parts = []
    for stats in sc.requests.values():
        kinds = [f"{k} {format_count(n)}" for k, n in sorted(stats.failures.items()) if n]
        if kinds:
            parts.append(f"{escape(stats.name)}: {', '.join(kinds)}")
    return "failures: " + "; ".join(parts) if parts else None


_MARKS = {
    "pass": "[green]{}[/]",
    "fail": "[bold red]{}[/]",
    "soft": "[yellow]{}[/]",
    "none": "[dim]{}[/]",
}
_HEADLINE = {"pass": "bold green", "fail": "bold red", "soft": "bold yellow"}


def _resources_table(sc: ScenarioResults) -> Table | None:
    rows = resource_rows(sc)
    if not rows:
        return None
    table = Table(box=box.SIMPLE_HEAD, title="resources (after warm-up)", title_justify="left")
    for header in ("value", "max", "mean", "first -> last", "trend per hour (95% CI)", "in 24h"):
        table.add_column(header, justify="left" if header == "value" else "right")
    for row in rows:
        trend = f"[yellow]{row.trend} growing[/]" if row.growing else row.trend
        table.add_row(escape(row.name), row.max, row.mean, row.change, trend, row.projected)
    return table


def _streams_table(sc: ScenarioResults) -> Table | None:
    rows = stream_rows(sc)
    if not rows:
        return None
    table = Table(
        box=box.SIMPLE_HEAD,
        title="streams (after warm-up)",
        title_justify="left",
        pad_edge=False,
        padding=(0, 1),
    )
    short = ("stream", "opened", "reconn", "events", "ev/s", "1st p95", "gap p95", "reconn p99")
    for header in (*short, "life p50", "uptime", "errors"):
        table.add_column(header, justify="left" if header in ("stream", "errors") else "right")
    for row in rows:
        cells = [escape(c) for c in row.cells()]
        if row.degraded:
            cells[-2] = f"[yellow]{cells[-2]}[/]"
            cells[-1] = f"[red]{cells[-1]}[/]" if cells[-1] != "0" else cells[-1]
        table.add_row(*cells)
    return table


def _drift_line(sc: ScenarioResults) -> str | None:
    rows = drift_rows(sc)
    if not rows or sc.drift is None:
        return None
    first, last = sc.drift.first, sc.drift.last
    parts = [f"{r.metric} {r.first} -> {r.last} ({r.change})" for r in rows]
    return (
        f"drift, seconds {first.start_s}-{first.end_s} vs {last.start_s}-{last.end_s}: "
        + ", ".join(parts)
    )


def _capacity_table(sc: ScenarioResults) -> Table | None:
    rows = capacity_rows(sc)
    if not rows:
        return None
    table = Table(box=box.SIMPLE_HEAD, title="capacity search", title_justify="left")
    headers = ("offered", "step", "result", "achieved", "p50", "p95", "p99", "errors")
    for header in (*headers, "dropped", "late", "broke"):
        table.add_column(
            header, justify="left" if header in ("step", "result", "broke") else "right"
        )
    for r in rows:
        mark = "[green]PASS[/]" if r.result == "PASS" else "[bold red]FAIL[/]"
        table.add_row(
            r.rate,
            r.phase,
            mark,
            r.achieved,
            r.p50,
            r.p95,
            r.p99,
            r.errors,
            r.dropped,
            r.generator,
            escape(r.broke),
        )
    return table


def _verdict_table(sc: ScenarioResults) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="verdicts", title_justify="left")
    table.add_column("result")
    table.add_column("SLO / gate")
    table.add_column("measured")
    for v in sc.verdicts:
        text, cls = verdict_result(v)
        table.add_row(_MARKS[cls].format(text), escape(v.name), escape(v.detail))
    return table


def render_terminal(results: RunResults, console: Console) -> None:
    """Print every scenario's requests and verdicts, then one line with the overall result."""
    # Printed from the run as results.json has it, every string writable: a lone surrogate in
    # a request name must not make the terminal (UTF-8, strict) raise.
    results = results.encodable()
    for sc in results.scenarios:
        console.print(_requests_table(sc, console.width))
        console.print(_totals_line(sc), style="dim")
        kinds = _failure_kinds(sc)
        if kinds:
            console.print(kinds, style="red")
        for line in failed_check_lines(sc):
            console.print(f"  {escape(line)}", style="red")
        watched = generator_line(sc)
        if watched is not None:
            console.print(escape(watched), style="dim")
        saturated = generator_note(sc)
        if saturated is not None:
            console.print(f"[yellow]{escape(saturated)}[/]")
        for line in worker_lines(sc):
            console.print(f"  {escape(line)}", style="yellow" if "lost" in line else None)
        for note in sc.notes:
            console.print(f"[yellow]note: {escape(note)}[/]")
        streams = _streams_table(sc)
        if streams is not None:
            console.print(streams)
        resources = _resources_table(sc)
        if resources is not None:
            console.print(resources)
        if sc.resources is not None:
            for note in sc.resources.notes:
                console.print(f"[yellow]{escape(note)}[/]")
        drift = _drift_line(sc)
        if drift is not None:
            console.print(f"[dim]{escape(drift)}[/]")
        for line in spike_lines(sc):
            console.print(escape(line))
        capacity = _capacity_table(sc)
        if capacity is not None and sc.capacity is not None:
            console.print(capacity)
            for line in capacity_summary(sc.capacity):
                console.print(f"  {escape(line)}")
        priced = cost_lines(sc)
        if priced:
            console.print(escape(priced[0]))
            for line in priced[1:]:
                console.print(f"  {escape(line)}", style="dim")
        if sc.verdicts:
            console.print(_verdict_table(sc))
        if sc.not_exercised:
            names = ", ".join(sc.not_exercised)
            console.print(f"[dim]not judged (no request hit their route): {escape(names)}[/]")
        if sc.abort_reason:
            console.print(f"[yellow]scenario ended early: {escape(sc.abort_reason)}[/]")
    head = headline(results)
    style = "bold yellow" if head.word == "PARTIAL" else _HEADLINE[head.cls]
    console.print(f"[{style}]{head.word}[/]{escape(head.held)}: {escape(head.text)}")
