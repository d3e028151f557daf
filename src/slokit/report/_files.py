"""The report files ``--out DIR`` writes, and reading a results.json back to rebuild them.

results.json is the source; junit.xml, summary.md, report.html, stats.csv and history.csv are
views of it, so ``slokit report`` can rebuild any of them later from the JSON alone.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from slokit.errors import UsageError
from slokit.report._capacity import capacity_rows, capacity_summary
from slokit.report._checks import failed_check_lines
from slokit.report._cost import cost_lines
from slokit.report._csv import history_csv, stats_csv
from slokit.report._headline import headline, held_by, is_judged, verdict_result
from slokit.report._html import render_html
from slokit.report._soak import (
    drift_rows,
    generator_line,
    generator_note,
    resource_rows,
    spike_lines,
)
from slokit.report._streams import STREAM_HEADERS, stream_rows
from slokit.report._workers import worker_lines
from slokit.results import (
    RESULTS_FORMAT,
    RunResults,
    ScenarioResults,
    Verdict,
    format_count,
    format_ms,
    format_percent,
)

__all__ = [
    "REPORT_FILES",
    "junit_xml",
    "read_results",
    "results_json",
    "summary_markdown",
    "write_reports",
]


def results_json(results: RunResults) -> str:
    return json.dumps(results.to_dict(), indent=2) + "\n"


def _testcase(suite: ET.Element, v: Verdict) -> None:
    case = ET.SubElement(suite, "testcase", name=v.name, classname=f"slokit.{v.scenario}")
    if not is_judged(v):
        ET.SubElement(case, "skipped", message=v.detail)
    elif v.passed:
        ET.SubElement(case, "system-out").text = v.detail
    elif v.gated:
        ET.SubElement(case, "failure", message=v.detail, type=v.kind).text = v.detail
    elif held_by(v) is not None:
        ET.SubElement(case, "skipped", message=f"held back: {v.detail}")
    else:
        ET.SubElement(case, "skipped", message=f"not gated (gate: false): {v.detail}")


def junit_xml(results: RunResults) -> str:
    """One testsuite per scenario and one testcase per verdict; an aborted scenario adds an
    erroring testcase so CI shows why the run is incomplete."""
    root = ET.Element("testsuites", name=f"slokit {results.service}")
    for sc in results.scenarios:
        verdicts = sc.verdicts
        failures = sum(1 for v in verdicts if v.blocking)
        skipped = sum(1 for v in verdicts if not is_judged(v) or (not v.gated and not v.passed))
        suite = ET.SubElement(
            root,
            "testsuite",
            name=sc.name,
            tests=str(len(verdicts) + (1 if sc.partial else 0)),
            failures=str(failures),
            errors=str(1 if sc.partial else 0),
            skipped=str(skipped),
            time=f"{sc.duration_s:.3f}",
            timestamp=sc.started.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        for v in verdicts:
            _testcase(suite, v)
        if sc.partial:
            case = ET.SubElement(
                suite, "testcase", name="run completed", classname=f"slokit.{sc.name}"
            )
            reason = sc.abort_reason or "aborted"
            ET.SubElement(case, "error", message=reason, type="aborted").text = reason
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


_MD_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "~": "\\~",
}
_MD = str.maketrans(_MD_ESCAPES)


def _md(text: str) -> str:
    """One Markdown table cell (or heading) of text from anywhere: pipes cannot split the row,
    newlines cannot end it, HTML stays text, and emphasis, code and links stay literal."""
    return " ".join(text.splitlines()).translate(_MD)


_MD_MARKS = {
    "pass": "✅ pass",
    "fail": "❌ FAIL",
    "soft": "⚠️ {}",
    "none": "➖ not judged",
}


def _md_result(v: Verdict) -> str:
    text, cls = verdict_result(v)
    return _MD_MARKS[cls].format(text.lower())


def summary_markdown(results: RunResults) -> str:
    """A short Markdown summary for CI step summaries and PR comments."""
    head = headline(results)
    lines = [
        f"## slokit: {_md(results.service)}",
        "",
        f"**{head.word}**{_md(head.held)}: {_md(head.text)}",
        "",
    ]
    for sc in results.scenarios:
        lines += [f"### {_md(sc.name)} ({sc.executor}, {sc.duration_s:.1f}s)", ""]
        if sc.alongside_text:
            lines += [f"Side by side: {_md(sc.alongside_text)}", ""]
        if sc.abort_reason:
            lines += [f"Ended early: {_md(sc.abort_reason)}", ""]
        if sc.verdicts:
            lines += ["| result | SLO / gate | measured |", "|---|---|---|"]
            for v in sc.verdicts:
                lines.append(f"| {_md_result(v)} | {_md(v.name)} | {_md(v.detail)} |")
            lines.append("")
        if sc.not_exercised:
            names = _md(", ".join(sc.not_exercised))
            lines += [f"Not judged (no request hit their route): {names}", ""]
        lines += [
            "| request | requests | errors | req/s | p50 | p95 | p99 | dropped |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        seconds = sc.measured_s
        for stats in [*sc.requests.values(), sc.total]:
            if not (stats.count or stats.dropped):
                continue
            p50, p95, p99 = (format_ms(v / 1000) for v in stats.latency.percentiles([50, 95, 99]))
            err = format_percent(stats.failed / stats.count) if stats.count else "-"
            rps = format_count(round(stats.count / seconds, 1)) if seconds > 0 else "-"
            lines.append(
                f"| {_md(stats.name)} | {format_count(stats.count)} | {err} | {rps} "
                f"| {p50} | {p95} | {p99} | {format_count(stats.dropped)} |"
            )
        lines.append("")
        failed = failed_check_lines(sc)
        if failed:
            lines += ["Failed checks:", ""] + [f"- {_md(line)}" for line in failed] + [""]
        lines += _soak_markdown(sc)
    return "\n".join(lines)


def _capacity_markdown(sc: ScenarioResults) -> list[str]:
    if sc.capacity is None:
        return []
    lines = [f"- {_md(line)}" for line in capacity_summary(sc.capacity)]
    lines += [
        "",
        "| offered | step | result | achieved | p95 | errors | dropped | generator | broke |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in capacity_rows(sc):
        lines.append(
            f"| {r.rate} | {r.phase} | {r.result} | {r.achieved} | {r.p95} | {r.errors} "
            f"| {r.dropped} | {r.generator} | {_md(r.broke)} |"
        )
    return [*lines, ""]


def _soak_markdown(sc: ScenarioResults) -> list[str]:
    saturated = generator_note(sc)
    lines = [f"**Note:** {_md(saturated)}", ""] if saturated else []
    if watched := generator_line(sc):
        lines += [_md(watched[:1].upper() + watched[1:]), ""]
    spike = spike_lines(sc)
    if spike:
        lines += [f"- {_md(line)}" for line in spike] + [""]
    lines += _capacity_markdown(sc)
    priced = cost_lines(sc)
    if priced:
        lines += [f"**{_md(priced[0][:1].upper() + priced[0][1:])}**", ""]
        lines += [f"- {_md(line)}" for line in priced[1:]] + [""]
    streams = stream_rows(sc)
    if streams:
        lines += [
            "| " + " | ".join(STREAM_HEADERS) + " |",
            "|---|" + "---:|" * (len(STREAM_HEADERS) - 2) + "---|",
        ]
        lines += ["| " + " | ".join(_md(c) for c in r.cells()) + " |" for r in streams]
        lines.append("")
    rows = resource_rows(sc)
    if rows:
        lines += [
            "| resource | max | mean | first -> last | trend per hour (95% CI) | in 24h |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            trend = f"**{_md(r.trend)} growing**" if r.growing else _md(r.trend)
            lines.append(
                f"| {_md(r.name)} | {r.max} | {r.mean} | {_md(r.change)} | {trend} "
                f"| {r.projected} |"
            )
        lines.append("")
    if sc.resources is not None:
        lines += [f"Resources: {_md(note)}" for note in sc.resources.notes]
    if workers := worker_lines(sc):
        lines += ["Workers:", "", *(f"- {_md(line)}" for line in workers), ""]
    lines += [f"Note: {_md(note)}" for note in sc.notes]
    drift = drift_rows(sc)
    if drift and sc.drift is not None:
        first, last = sc.drift.first, sc.drift.last
        parts = ", ".join(f"{d.metric} {d.first} -> {d.last} ({d.change})" for d in drift)
        lines += [
            f"Drift, seconds {first.start_s}-{first.end_s} vs {last.start_s}-{last.end_s}: "
            f"{_md(parts)}",
            "",
        ]
    return lines


def _write(path: Path, text: str) -> None:
    # Write then rename: a crash or a full disk never leaves a half-written report behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # backslashreplace: text no UTF-8 can hold (a lone surrogate) is written as its
        # escape; results are made encodable first, this is the last line of defence.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; reports are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_RENDERERS: dict[str, Callable[[RunResults], str]] = {
    "results.json": results_json,
    "junit.xml": junit_xml,
    "summary.md": summary_markdown,
    "report.html": render_html,
    "stats.csv": stats_csv,
    "history.csv": history_csv,
}
REPORT_FILES = tuple(_RENDERERS)
"""Every file :func:`write_reports` writes, in order."""


def write_reports(
    results: RunResults, out_dir: Path, *, only: Collection[str] | None = None
) -> list[Path]:
    """Write the report files into ``out_dir`` (created if needed): results.json, junit.xml,
    summary.md, report.html, stats.csv and history.csv, or just the names in ``only``."""
    names = REPORT_FILES if only is None else tuple(n for n in REPORT_FILES if n in only)
    unknown = sorted(set(only or ()) - set(REPORT_FILES))
    if unknown:
        raise UsageError(f"unknown report file(s) {unknown}; choose from {list(REPORT_FILES)}")
    # results.json rounds durations, and rates follow from them: render every file from the
    # results as read back from results.json, so they all agree with it to the last digit and
    # ``slokit report`` rebuilds each one byte for byte.
    # Every string made writable too (a lone surrogate a Python journey put in a name).
    source = results.encodable()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = out_dir / name
        _write(path, _RENDERERS[name](source))
        written.append(path)
    return written


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give the results.json inside it") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a results.json: it is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); give the "
            "results.json that `slokit run --out DIR` writes"
        ) from None


def read_results(path: Path) -> RunResults:
    """Read a results.json back (histograms included, losslessly).

    Raises :class:`~slokit.errors.UsageError`, with a message for people, when the file is
    missing, not JSON, not slokit results, or of another results format version.
    """
    data = _load_json(path)
    if not isinstance(data, dict) or "format" not in data or "scenarios" not in data:
        raise UsageError(
            f'{path} is not a slokit results file (no "format" and "scenarios" keys); '
            "give the results.json that `slokit run --out DIR` writes"
        )
    version = data["format"]
    if isinstance(version, bool) or version != RESULTS_FORMAT:
        raise UsageError(
            f"{path} has results format {version!r}; this slokit reads format "
            f"{RESULTS_FORMAT}: rebuild it with the slokit version that wrote it"
        )
    try:
        return RunResults.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UsageError(f"{path} is not a valid slokit results file: {what}") from None
