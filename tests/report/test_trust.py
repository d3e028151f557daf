"""Gates you can trust: what one real run's verdicts say, the same in every place they show.

One ``slokit run`` of a Python journey against real uvicorn (with the run store on), then its
terminal output, results.json, junit.xml, summary.md, report.html, the store and the real
``slokit dashboard`` are read back:

* an SLO with a custom PromQL SLI is "not judged", with the reason, everywhere;
* a latency SLO counts fast 503s as bad (and fails), while a p95 gate over every response's
  latency passes;
* the error rate of 1 failure in 118 requests reads the same percent everywhere;
* a hostile request name keeps summary.md's table whole and report.html free of raw HTML;

Two small runs of their own show that a lone surrogate in a request name (a journey can name
requests anything) costs nothing (the reports are written, the run is recorded), and the
headline of a run whose failing gate ``--fail-after`` held back.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests._support import UvicornApp, run_slokit
from tests.dashboard._html import dom
from tests.dashboard.conftest import running_dashboard

HOSTILE = "<img src=x onerror=alert(1)>|a"
SURROGATE_SHOWN = "lone \\ud800 surrogate"  # how every report writes it
ITERATIONS = (
    118  # 1 failed "flaky" request of 118: 0.847%, where a ratio rounded first reads 0.848%
)
FLAKY_PERCENT = "0.847%"
REASON = "custom PromQL SLI: judged by Prometheus rules, not by a load test"

JOURNEY = f"""
from slokit.load import Session


async def run(s: Session) -> None:
    await s.get("/status/500" if s.iteration == 0 else "/ok", name="flaky")
    await s.get("/ok", name={HOSTILE!r})
    for _ in range(3):
        await s.get("/status/503", name="shed")  # fast, like an adaptive limiter's answers
    await s.get("/slow?ms=10", name="slow")
"""

SPEC = """
service: trust-test
target: {target}
slos:
  workflow-timeout:
    objective: 99%
    sli:
      bad: 'sum(rate(workflow_timeouts_total[$window]))'
      total: 'sum(rate(workflows_total[$window]))'
  fast:
    objective: 90%
    latency: 2s
gates:
  - p95 < 2s
  - error_rate(flaky) < 1%
scenarios:
  journey:
    executor: per-vu-iterations
    vus: 1
    iterations: {iterations}
    script: journey.py:run
"""


@dataclass(frozen=True)
class Run:
    folder: Path
    out: Path
    stdout: str
    stderr: str
    returncode: int
    results: dict[str, Any]

    def text(self, name: str) -> str:
        return (self.out / name).read_text(encoding="utf-8")

    def verdict(self, name: str) -> dict[str, Any]:
        found = [v for v in self.results["verdicts"] if v["name"] == name]
        assert len(found) == 1, self.results["verdicts"]
        return found[0]


@pytest.fixture(scope="module")
def trust_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("trust")
    server = UvicornApp()
    try:
        (folder / "journey.py").write_text(JOURNEY, encoding="utf-8")
        spec = folder / "slokit.yaml"
        spec.write_text(
            textwrap.dedent(SPEC).format(target=server.url, iterations=ITERATIONS),
            encoding="utf-8",
        )
        out = folder / "out"
        done = run_slokit("run", str(spec), "-w", "1", "-q", "--out", str(out), cwd=folder)
        assert (out / "results.json").exists(), done.stdout + done.stderr
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        yield Run(folder, out, done.stdout, done.stderr, done.returncode, results)
    finally:
        server.kill()


@pytest.fixture(scope="module")
def dashboard_run_page(trust_run: Run) -> Iterator[str]:
    store = f"sqlite:///{trust_run.folder / '.slokit' / 'runs.db'}"
    with running_dashboard("--store", store) as dashboard, dashboard.client() as client:
        page = client.get("/runs/1")
        assert page.status_code == 200, page.text[:500]
        overview = client.get("/")
        assert overview.status_code == 200
        yield page.text + "\n<!-- overview -->\n" + overview.text


def _runs_show(run: Run) -> dict[str, Any]:
    done = run_slokit("runs", "show", "1", "--json", cwd=run.folder)
    assert done.returncode == 0, done.stdout + done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


# 1. custom PromQL SLIs are not judged by a load test --------------------------------------


def test_a_custom_sli_slo_is_not_judged_anywhere(trust_run: Run, dashboard_run_page: str) -> None:
    v = trust_run.verdict("workflow-timeout")
    assert (v["judged"], v["observed"], v["gated"], v["passed"]) == (False, None, False, True)
    assert REASON in v["detail"]
    assert "available" not in v["detail"]
    line = next(ln for ln in trust_run.stdout.splitlines() if "workflow-timeout" in ln)
    assert "NOT JUDGED" in line
    assert "PASS" not in line
    assert "not judged: custom PromQL" in line
    junit = ET.fromstring(trust_run.text("junit.xml"))
    case = next(c for c in junit.iter("testcase") if c.get("name") == "workflow-timeout")
    skipped = case.find("skipped")
    assert skipped is not None
    assert REASON in (skipped.get("message") or "")
    assert case.find("failure") is None
    assert case.find("system-out") is None
    summary = trust_run.text("summary.md")
    assert "| ➖ not judged | workflow-timeout | not judged: custom PromQL SLI" in summary
    page = dom(trust_run.text("report.html"))
    row = next(
        r for r in page.find_all("tr") if any(td.text == "workflow-timeout" for td in r.children)
    )
    assert row.attrs["class"] == "verdict-none"
    assert row.children[0].text == "NOT JUDGED"
    stored = next(s for s in _runs_show(trust_run)["verdicts"] if s["name"] == "workflow-timeout")
    assert (stored["passed"], stored["gated"], stored["observed"]) == (True, False, None)
    dash = dom(dashboard_run_page)
    rows = [
        r for r in dash.find_all("tr") if any(td.text == "workflow-timeout" for td in r.children)
    ]
    assert rows
    assert all(r.children[0].text == "NOT JUDGED" for r in rows)
    pills = [p for p in dash.find_all("span", cls="pill") if p.text == "workflow-timeout"]
    assert pills
    assert all("none" in p.attrs["class"].split() for p in pills)


# 2. a fast 503 is bad for a latency SLO ----------------------------------------------------


def test_fast_503s_fail_a_latency_slo_while_the_p95_gate_passes(trust_run: Run) -> None:
    per_iteration = 6
    total = ITERATIONS * per_iteration
    bad = ITERATIONS * 3 + 1  # the 503s and the one 500, every one of them fast
    slo = trust_run.verdict("fast")
    assert (slo["passed"], slo["good"], slo["total"]) == (False, total - bad, total)
    assert "with status < 500 within 2s" in slo["detail"]
    assert f"bad whatever their latency: {bad} 5xx" in slo["detail"]
    # Percentile gates stay over every response's latency, as in k6: all were fast.
    assert trust_run.verdict("p95 < 2s")["passed"] is True
    assert trust_run.returncode == 1, trust_run.stdout + trust_run.stderr
    assert "FAIL: 1 of 3 gate(s) failed: fast" in trust_run.stdout


# 3. one percent, formatted once, from exact counts ----------------------------------------


def test_one_error_rate_reads_the_same_everywhere(trust_run: Run, dashboard_run_page: str) -> None:
    flaky = trust_run.results["requests"]["flaky"]
    assert (flaky["count"], flaky["failures"]) == (ITERATIONS, {"5xx": 1})
    terminal_row = next(
        ln for ln in trust_run.stdout.splitlines() if ln.strip().startswith("flaky")
    )
    assert FLAKY_PERCENT in terminal_row.split()
    assert (
        f"{FLAKY_PERCENT} (1 of {ITERATIONS})"
        in trust_run.verdict("error_rate(flaky) < 1%")["detail"]
    )
    md_row = next(
        ln for ln in trust_run.text("summary.md").splitlines() if ln.startswith("| flaky ")
    )
    assert md_row.split(" | ")[2] == FLAKY_PERCENT
    for page in (dom(trust_run.text("report.html")), dom(dashboard_run_page)):
        rows = [
            r
            for r in page.find_all("tr")
            if r.children and r.children[0].text == "flaky" and r.find_all("td")
        ]
        assert rows
        for row in rows:
            assert row.children[3].text == FLAKY_PERCENT, [c.text for c in row.children]


# 5. names are escaped once, for the place they go ------------------------------------------


def _md_cells(line: str) -> list[str]:
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_hostile_names_keep_summary_tables_whole_and_html_inert(
    trust_run: Run, dashboard_run_page: str
) -> None:
    summary = trust_run.text("summary.md")
    header = next(ln for ln in summary.splitlines() if ln.startswith("| request |"))
    row = next(ln for ln in summary.splitlines() if "onerror" in ln)
    assert len(_md_cells(row)) == len(_md_cells(header)) == 8
    assert _md_cells(row)[0].strip() == "&lt;img src=x onerror=alert(1)&gt;\\|a"
    assert "<img" not in summary
    for text in (trust_run.text("report.html"), dashboard_run_page):
        assert "<img" not in text
        assert "&amp;lt;" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;|a" in text
    page = dom(trust_run.text("report.html"))
    names = [td.text for td in page.find_all("td", cls="name")]
    assert HOSTILE in names  # the parser decodes entities once: the name, as written
    # Plotly reads a little HTML in trace names and decodes entities once: escaped once.
    figures = [json.loads(s.text) for s in page.find_all("script") if s.attrs.get("type")]
    legend = [t["name"] for f in figures for t in f.get("data", []) if "name" in t]
    assert html.escape(HOSTILE, quote=False) in legend
    assert HOSTILE not in legend


# 6. an unencodable name never costs the reports or the record ------------------------------

SURROGATE_JOURNEY = """
from slokit.load import Session


async def run(s: Session) -> None:
    await s.get("/ok", name="lone \\ud800 surrogate")
"""


def test_a_lone_surrogate_in_a_journey_name_is_written_and_recorded(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    (tmp_path / "journey.py").write_text(SURROGATE_JOURNEY, encoding="utf-8")
    spec = tmp_path / "slokit.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""
            service: surrogate-test
            target: {shared_app.url}
            slos: {{availability: {{objective: 99%}}}}
            scenarios:
              journey:
                {{executor: per-vu-iterations, vus: 2, iterations: 3, script: journey.py:run}}
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "-q", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "recorded as run 1 in " in done.stdout
    assert SURROGATE_SHOWN in done.stdout
    for name in ("results.json", "junit.xml", "summary.md", "report.html", "stats.csv"):
        assert (out / name).stat().st_size > 0, name
    ET.fromstring((out / "junit.xml").read_text(encoding="utf-8"))
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["requests"][SURROGATE_SHOWN]["count"] == 6  # valid UTF-8, escape kept
    assert SURROGATE_SHOWN in (out / "report.html").read_text(encoding="utf-8")
    assert SURROGATE_SHOWN in (out / "stats.csv").read_text(encoding="utf-8")
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert SURROGATE_SHOWN.replace("\\", "\\\\") in md  # a backslash, md-escaped
    shown = run_slokit("runs", "show", "1", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    stored = json.loads(shown.stdout)
    assert [r["name"] for r in stored["requests"]] == [SURROGATE_SHOWN]


# 4. a held gate is named in the headline ---------------------------------------------------


def test_the_headline_names_what_fail_after_held_back(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""
            service: held-test
            target: {shared_app.url}
            gates: ["p95(GET /slow) < 1ms", "error_rate < 50%"]
            scenarios:
              smoke:
                executor: per-vu-iterations
                vus: 2
                iterations: 10
                flow: [{{get: "/slow?ms=5"}}]
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "--fail-after", "3", "-w", "1", "-q", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    held = "PASS (1 failed gate held by --fail-after 3: p95(GET /slow) < 1ms)"
    assert f"{held}: the other 1 gate(s) passed" in done.stdout
    assert "no gated SLOs" not in done.stdout
    assert "all 1 gate(s) passed" not in done.stdout
    assert "FAIL (held back)" in done.stdout
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "**PASS** (1 failed gate held by --fail-after 3: p95(GET /slow) &lt; 1ms)" in summary
    assert "⚠️ fail (held back)" in summary
    page = dom((out / "report.html").read_text(encoding="utf-8"))
    sentence = page.find("header").find("p").text
    assert sentence.startswith(held), sentence
    assert page.find("span", id="run-status").text == "PASS"
    junit = ET.fromstring((out / "junit.xml").read_text(encoding="utf-8"))
    skipped = [s.get("message") or "" for s in junit.iter("skipped")]
    assert len(skipped) == 1
    assert skipped[0].startswith("held back: ")
