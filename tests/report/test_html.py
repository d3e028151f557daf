"""report.html from a real run: offline, charts with the warm-up shaded, the numbers of
results.json in its tables, styled verdicts, escaped names; and ``slokit report`` rebuilding it."""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from typer.testing import CliRunner

from slokit.cli._app import app
from slokit.errors import UsageError
from slokit.report import read_results, render_html, scenario_figures
from slokit.report._charts import cdf_points
from slokit.results import (
    Histogram,
    RequestStats,
    RunResults,
    ScenarioResults,
    TimelinePoint,
    Verdict,
    format_count,
    format_ms,
)
from tests._support import run_slokit
from tests.report.conftest import EVIL, SERVICE, RunOut

FIGURE = re.compile(r'<script type="application/json" id="(figure-\d+-\w+)">(.*?)</script>', re.S)


class Page(HTMLParser):
    """Every tag with its attributes, the text of <style>, and each <tr>'s cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.rows: list[list[tuple[dict[str, str | None], str]]] = []
        self._in: str | None = None
        self._cell: dict[str, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._text = dict(attrs), ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append((self._cell, self._text.strip()))
            self._cell = None
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        if self._cell is not None:
            self._text += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def figures(text: str) -> dict[str, dict[str, Any]]:
    return {key: json.loads(body) for key, body in FIGURE.findall(text)}


def row_of(page: Page, name: str) -> list[tuple[dict[str, str | None], str]]:
    rows = [r for r in page.rows if r and r[0][1] == name]
    assert rows, f"no table row for {name!r}"
    return rows[0]


def test_page_is_self_contained_and_loads_nothing(report_run: RunOut) -> None:
    text = report_run.text("report.html")
    page = parse(text)
    assert text.count("* plotly.js v") == 1  # plotly.js inline, exactly once
    for tag, attrs in page.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed"), tag
        for attr in ("src", "href", "srcset", "data", "action"):
            value = (attrs.get(attr) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, attr, value)
        if tag == "a":
            assert (attrs.get("href") or "").startswith("#")
    assert not [t for t, a in page.tags if t == "script" and "src" in a]
    css = "".join(page.styles)
    assert css
    assert "@import" not in css
    assert "url(" not in css
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert '"responsive":true' in text
    assert '"displaylogo":false' in text


def test_each_scenario_has_its_charts_with_the_warmup_shaded(report_run: RunOut) -> None:
    figs = figures(report_run.text("report.html"))
    steady = report_run.results["scenarios"]["steady"]
    assert sorted(figs) == sorted(
        f"figure-{i}-{k}"
        for i in (0, 1)
        for k in ("throughput", "latency", "errors", "distribution", "generator")
    )
    counts = {"throughput": 2, "latency": 3, "errors": 2, "distribution": 2}
    for key, n in counts.items():
        fig = figs[f"figure-0-{key}"]
        assert len(fig["data"]) == n, key
        go.Figure(fig)  # plotly validates every property: a typo would raise here
    assert [t["name"] for t in figs["figure-0-latency"]["data"]] == ["p50", "p95", "p99"]
    assert [t["name"] for t in figs["figure-0-errors"]["data"]] == ["failures", "dropped"]
    timeline = steady["timeline"]
    assert timeline[0]["warmup"] is True
    for key in ("throughput", "latency", "errors"):
        fig = figs[f"figure-0-{key}"]
        assert len(fig["data"][0]["x"]) == len(timeline)
        (shape,) = fig["layout"]["shapes"]
        assert (shape["type"], shape["x0"], shape["x1"], shape["yref"]) == ("rect", 0, 1, "paper")
        assert fig["layout"]["annotations"][0]["text"] == "warm-up"
        # the second scenario has no warm-up: nothing shaded
        assert figs[f"figure-1-{key}"]["layout"]["shapes"] == []
    assert figs["figure-0-throughput"]["data"][0]["y"] == [p["requests"] for p in timeline]
    # The generator's own CPU (as %) and loop lag, second by second, as results.json has them.
    gen = figs["figure-0-generator"]
    go.Figure(gen)
    cpu = [round(p["generator"]["cpu"] * 100, 1) for p in timeline]
    assert gen["data"][0]["y"] == cpu
    assert gen["data"][1]["y"] == [p["generator"]["loop_lag_ms"] for p in timeline]
    errors = figs["figure-0-errors"]["data"][0]["y"]
    assert errors == [p["failures"] for p in timeline]
    assert sum(errors[1:]) == steady["total"]["failures"]["5xx"]
    (cdf,) = [t for t in figs["figure-0-distribution"]["data"] if t["name"] == "GET /ok"]
    assert cdf["y"][-1] == 100.0
    assert cdf["x"][-1] == steady["requests"]["GET /ok"]["latency_ms"]["max"]


def test_tables_show_the_numbers_of_results_json(report_run: RunOut) -> None:
    text = report_run.text("report.html")
    page = parse(text)
    res = report_run.results
    ok = res["scenarios"]["steady"]["requests"]["GET /ok"]
    cells = row_of(page, "GET /ok")
    assert (cells[1][0]["data-value"], cells[1][1]) == (str(ok["count"]), format_count(ok["count"]))
    p95 = ok["latency_ms"]["p95"]
    assert (cells[8][0]["data-value"], cells[8][1]) == (str(p95), format_ms(p95))
    assert page.rows[-1][0][1] == "all requests"
    total = res["scenarios"]["steady"]["total"]
    steady_total = row_of(page, "all requests")  # the first: scenario steady's
    assert steady_total[1][0]["data-value"] == str(total["count"])
    assert steady_total[2][1] == format_count(total["failures"]["5xx"])
    run_total = f'data-value="{res["total"]["count"]}">{format_count(res["total"]["count"])}<'
    assert run_total in text
    steady = res["scenarios"]["steady"]
    for word in ("constant-arrival-rate", "1.0 s", f"{steady['duration_s']:,.1f} s"):
        assert word in text
    assert html.escape(res["target"]) in text
    started = datetime.fromisoformat(res["started"].replace("Z", "+00:00"))
    assert started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") in text


def test_verdict_rows_show_pass_and_fail(report_run: RunOut) -> None:
    page = parse(report_run.text("report.html"))
    results = {
        (cells[1][1], cells[0][0].get("class"), cells[0][1])
        for cells in page.rows
        if cells and cells[0][0].get("class") in ("pass", "fail", "soft", "none")
    }
    assert ("ok-latency", "pass", "PASS") in results
    assert ("error_rate < 1%", "fail", "FAIL") in results
    # the second scenario has gate: false: its failing gate is reported, not blocking
    assert ("requests > 1000000", "soft", "FAIL (not gated)") in results
    # ... and never sends GET /ok: the spec-wide gate on it is not judged there
    assert ("p95(GET /ok) < 5s", "none", "NOT JUDGED") in results
    verdicts = report_run.results["verdicts"]
    assert len(
        [c for c in page.rows if c and c[0][0].get("class") in ("pass", "fail", "soft", "none")]
    ) == (len(verdicts))
    assert 'id="run-status">FAIL<' in report_run.text("report.html")


def test_user_strings_are_escaped(report_run: RunOut) -> None:
    text = report_run.text("report.html")
    assert EVIL in report_run.results["requests"]
    assert EVIL not in text
    assert "alert(1)</script>" not in text
    assert html.escape(EVIL, quote=False) in text
    assert html.escape(SERVICE) in text
    assert SERVICE not in text
    page = parse(text)
    assert row_of(page, EVIL)  # the parser unescapes: the name reads back exactly
    # plotly reads a little HTML in names: the figure carries the escaped form, shown as text
    names = [t["name"] for t in figures(text)["figure-0-distribution"]["data"]]
    assert names == sorted(["GET /ok", html.escape(EVIL, quote=False)])  # by name


def test_slokit_report_rebuilds_the_same_files(report_run: RunOut, tmp_path: Path) -> None:
    again = tmp_path / "again"
    done = run_slokit("report", str(report_run.out / "results.json"), "--out", str(again))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in again.iterdir()) == ["history.csv", "report.html", "stats.csv"]
    for name in ("report.html", "stats.csv", "history.csv"):
        assert (again / name).read_bytes() == (report_run.out / name).read_bytes(), name


def test_slokit_report_writes_next_to_results_by_default(
    report_run: RunOut, tmp_path: Path
) -> None:
    shutil.copy(report_run.out / "results.json", tmp_path / "results.json")
    done = CliRunner().invoke(app, ["report", str(tmp_path / "results.json")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "report.html").read_bytes() == (report_run.out / "report.html").read_bytes()
    assert "report.html" in done.output.replace("\n", "")  # rich folds long paths


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "is not JSON (line 1"),
        ("[1, 2]", "is not a slokit results file"),
        ('{"format": 99, "scenarios": {}}', "has results format 99; this slokit reads format 1"),
        ('{"format": true, "scenarios": {}}', "has results format True"),
        ('{"format": 1, "scenarios": {"a": {}}}', "is not a valid slokit results file"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_slokit_report_rejects_bad_input_with_exit_2(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "results.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    done = CliRunner().invoke(app, ["report", str(path), "--out", str(tmp_path / "out")])
    assert done.exit_code == 2, done.output
    assert isinstance(done.exception, SystemExit)
    assert message in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "out").exists()


def test_slokit_report_on_a_directory_exits_2_without_a_traceback(tmp_path: Path) -> None:
    done = run_slokit("report", str(tmp_path))
    assert done.returncode == 2
    assert "is a directory" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_read_results_raises_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        read_results(tmp_path / "missing.json")


def _stats(name: str, *latencies_us: int) -> RequestStats:
    stats = RequestStats(name, "GET", "/x")
    for us in latencies_us:
        stats.latency.record(us)
    stats.count = len(latencies_us)
    return stats


def _scenario(name: str, requests: dict[str, RequestStats], **extra: Any) -> ScenarioResults:
    timeline = [TimelinePoint.of(s, False, stats, 1) for s, stats in enumerate(requests.values())]
    return ScenarioResults(
        name=name,
        executor="constant-vus",
        requests=requests,
        timeline=timeline,
        duration_s=2.0,
        warmup_s=0.0,
        workers=1,
        started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        **extra,
    )


def test_partial_runs_empty_scenarios_and_soft_verdicts_render() -> None:
    soft = Verdict(
        name="p99 < 1ms",
        kind="gate",
        scenario="cut",
        passed=False,
        observed=0.5,
        threshold=0.001,
        op="<",
        unit="s",
        detail="500ms",
        gated=False,
    )
    cut = _scenario(
        "cut",
        {"GET /x": _stats("GET /x", 900, 1500, 250_000)},
        partial=True,
        abort_reason="worker 1 died (exit code -9)",
        verdicts=[soft],
    )
    empty = _scenario("empty & <idle>", {})
    results = RunResults("svc", None, cut.started, 2.0, True, [cut, empty])
    text = render_html(results)
    assert 'id="run-status">PARTIAL<' in text
    assert "worker 1 died (exit code -9)" in text
    assert "FAIL (not gated)" in text
    assert "empty &amp; &lt;idle&gt;" in text
    figs = figures(text)
    assert figs["figure-1-distribution"]["data"] == []
    assert figs["figure-1-throughput"]["data"][0]["x"] == []
    assert render_html(results) == text  # nothing depends on when it was rendered


def test_scenario_figures_are_plain_json_for_the_dashboard() -> None:
    sc = _scenario("s", {"GET /x": _stats("GET /x", 1000, 2000)})
    figs = scenario_figures(sc)
    assert list(figs) == ["throughput", "latency", "errors", "distribution"]
    assert json.loads(json.dumps(figs)) == figs
    for fig in figs.values():
        go.Figure(fig)


def test_cdf_points_are_exact_monotonic_and_thinned() -> None:
    hist = Histogram()
    for us in range(1, 200_000, 7):
        hist.record(us)
    xs, ys = cdf_points(hist)
    assert xs == sorted(xs)
    assert ys == sorted(ys)
    assert ys[-1] == 100.0
    assert xs[-1] == hist.max / 1000
    assert len(xs) <= 100 * 6  # at most 100 points per decade of latency
    # each point is exact: the share of values at or below it
    for x, y in zip(xs[::50], ys[::50], strict=True):
        assert y == pytest.approx(
            100 * hist.count_at_or_below(round(x * 1000)) / hist.count, abs=1e-3
        )
    assert cdf_points(Histogram()) == ([], [])
