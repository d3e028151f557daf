"""The report files ``--out DIR`` writes: results.json, junit.xml and summary.md."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from xml.etree import ElementTree as ET

from slokit.results import RunResults, Verdict, format_count, format_ms, format_percent

__all__ = ["junit_xml", "results_json", "summary_markdown", "write_reports"]


def results_json(results: RunResults) -> str:
    return json.dumps(results.to_dict(), indent=2) + "\n"


def _testcase(suite: ET.Element, v: Verdict) -> None:
    case = ET.SubElement(suite, "testcase", name=v.name, classname=f"slokit.{v.scenario}")
    if v.passed:
        ET.SubElement(case, "system-out").text = v.detail
    elif v.gated:
        ET.SubElement(case, "failure", message=v.detail, type=v.kind).text = v.detail
    else:
        ET.SubElement(case, "skipped", message=f"not gated (gate: false): {v.detail}")


def junit_xml(results: RunResults) -> str:
    """One testsuite per scenario and one testcase per verdict; an aborted scenario adds an
    erroring testcase so CI shows why the run is incomplete."""
    root = ET.Element("testsuites", name=f"slokit {results.service}")
    for sc in results.scenarios:
        verdicts = sc.verdicts
        failures = sum(1 for v in verdicts if v.blocking)
        skipped = sum(1 for v in verdicts if not v.gated and not v.passed)
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


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def summary_markdown(results: RunResults) -> str:
    """A short Markdown summary for CI step summaries and PR comments."""
    if results.partial:
        head = "**PARTIAL**: the run was aborted; results are incomplete"
    elif results.passed:
        head = "**PASS**: every gate passed"
    else:
        head = f"**FAIL**: {sum(1 for v in results.verdicts if v.blocking)} gate(s) failed"
    lines = [f"## slokit: {_md(results.service)}", "", head, ""]
    for sc in results.scenarios:
        lines += [f"### {_md(sc.name)} ({sc.executor}, {sc.duration_s:.1f}s)", ""]
        if sc.abort_reason:
            lines += [f"Ended early: {_md(sc.abort_reason)}", ""]
        if sc.verdicts:
            lines += ["| result | SLO / gate | measured |", "|---|---|---|"]
            for v in sc.verdicts:
                mark = "✅ pass" if v.passed else ("❌ FAIL" if v.gated else "⚠️ fail (not gated)")
                lines.append(f"| {mark} | {_md(v.name)} | {_md(v.detail)} |")
            lines.append("")
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
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    # Write then rename: a crash or a full disk never leaves a half-written report behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(results: RunResults, out_dir: Path) -> list[Path]:
    """Write results.json, junit.xml and summary.md into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "results.json": results_json(results),
        "junit.xml": junit_xml(results),
        "summary.md": summary_markdown(results),
    }
    written = []
    for name, text in files.items():
        path = out_dir / name
        _write(path, text)
        written.append(path)
    return written
