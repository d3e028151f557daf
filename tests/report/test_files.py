"""The report files: results.json round-trips, junit.xml parses with one testcase per verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console

from slokit.report import render_terminal, write_reports
from slokit.results import RequestStats, RunResults, ScenarioResults, TimelinePoint, Verdict


def verdict(name: str, passed: bool, gated: bool = True) -> Verdict:
    return Verdict(
        name=name,
        kind="gate",
        scenario="sc",
        passed=passed,
        observed=0.5,
        threshold=0.1,
        op="<",
        unit="ratio",
        detail=f"{name} | detail",
        gated=gated,
    )


def run(verdicts: list[Verdict], partial: bool = False) -> RunResults:
    a = RequestStats("GET /a", "GET", "/a")
    for us in (1000, 2000, 3000, 250_000):
        a.latency.record(us)
    a.count = 5
    a.failures = {"timeout": 1, "5xx": 1}
    a.checks_passed = 3
    sc = ScenarioResults(
        name="sc",
        executor="constant-vus",
        requests={"GET /a": a},
        timeline=[TimelinePoint.of(0, False, a, 2)],
        duration_s=2.0,
        warmup_s=0.0,
        workers=1,
        partial=partial,
        abort_reason="interrupted (Ctrl-C)" if partial else None,
        started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        verdicts=verdicts,
    )
    return RunResults("svc", "http://127.0.0.1:1", sc.started, 2.5, partial, [sc])


def test_results_json_has_the_documented_fields_and_round_trips(tmp_path: Path) -> None:
    original = run([verdict("error_rate < 10%", False)])
    write_reports(original, tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["passed"] is False
    assert data["exit_code"] == 1
    a = data["requests"]["GET /a"]
    assert a["count"] == 5
    assert a["rps"] == 2.5
    assert a["failures"] == {"5xx": 1, "timeout": 1}
    assert a["latency_ms"]["max"] == 250.0
    assert set(a["latency_ms"]) >= {"p50", "p90", "p95", "p99", "p99_9", "max"}
    assert data["total"]["count"] == 5
    assert data["started"] == "2026-01-02T03:04:05Z"
    back = RunResults.from_dict(data)
    assert back.to_dict() == original.to_dict()
    assert back.scenarios[0].requests["GET /a"].latency == original.requests["GET /a"].latency


def test_junit_has_one_testcase_per_verdict_and_marks_failures(tmp_path: Path) -> None:
    verdicts = [verdict("ok", True), verdict("bad", False), verdict("soft", False, gated=False)]
    write_reports(run(verdicts), tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == ["ok", "bad", "soft"]
    assert cases["bad"].find("failure") is not None
    assert cases["soft"].find("skipped") is not None
    assert cases["ok"].find("failure") is None
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")


def test_partial_runs_show_as_an_error_in_junit_and_markdown(tmp_path: Path) -> None:
    write_reports(run([verdict("ok", True)], partial=True), tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    errors = list(root.iter("error"))
    assert len(errors) == 1
    assert "Ctrl-C" in (errors[0].get("message") or "")
    summary = (tmp_path / "summary.md").read_text()
    assert "PARTIAL" in summary
    assert "Ctrl-C" in summary


def test_markdown_escapes_pipes_in_names(tmp_path: Path) -> None:
    write_reports(run([verdict("a|b", False)]), tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "a\\|b" in summary
    assert "FAIL" in summary


def test_terminal_table_shows_requests_verdicts_and_the_overall_result() -> None:
    console = Console(record=True, width=160, color_system=None)
    render_terminal(run([verdict("ok", True), verdict("soft", False, gated=False)]), console)
    text = console.export_text()
    assert "GET /a" in text
    assert "5xx 1" in text
    assert "timeout 1" in text
    assert "PASS" in text
    assert "not gated" in text
    assert "1 gate" in text


def test_markdown_cells_hold_any_text(tmp_path: Path) -> None:
    name = "a|b\nc\\d <b>e</b> & `f` *g* [h](http://x)"
    write_reports(run([verdict(name, True)]), tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if "&lt;b&gt;" in line)
    assert row.startswith(
        "| ✅ pass | a\\|b c\\\\d &lt;b&gt;e&lt;/b&gt; &amp; \\`f\\` \\*g\\* \\[h\\](http://x)"
    )
    assert "<b>" not in summary


def held(name: str) -> Verdict:
    v = verdict(name, False)
    return Verdict.from_dict({**v.to_dict(), "gated": False, "held_back": 3})


def test_held_back_failures_are_named_in_every_headline(tmp_path: Path) -> None:
    results = run([held("p95 < 1ms"), verdict("ok", True)])
    console = Console(record=True, width=200, color_system=None)
    render_terminal(results, console)
    text = console.export_text()
    assert (
        "PASS (1 failed gate held by --fail-after 3: p95 < 1ms): the other 1 gate(s) passed" in text
    )
    assert "FAIL (held back)" in text
    write_reports(results, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "**PASS** (1 failed gate held by --fail-after 3: p95 &lt; 1ms): the other" in summary
    assert (
        "PASS (1 failed gate held by --fail-after 3: p95 &lt; 1ms)"
        in (tmp_path / "report.html").read_text()
    )
    # Read back from results.json written before held_back existed, the detail tells.
    data = results.to_dict()
    for v in data["scenarios"]["sc"]["verdicts"]:
        v.pop("held_back")
        if not v["gated"]:
            v["detail"] += " [held back by --fail-after 3: failed 1 run(s) in a row]"
    back = RunResults.from_dict(data)
    assert [v.held_back for v in back.verdicts] == [3, None]
