"""The dashboard's pages and JSON API over a real store (SQLite and PostgreSQL), served by
the real ``slokit dashboard`` subprocess and read over HTTP."""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest

from slokit.store import open_store
from tests._pg import pg_schema_url
from tests.dashboard._html import Element, dom
from tests.dashboard.conftest import (
    BASELINE_RUNS,
    EVIL_SCENARIO,
    EVIL_SERVICE,
    GATE,
    SERVICE,
    Dashboard,
    History,
    baseline_p95_ms,
    fill,
    running_dashboard,
)


def page(client: httpx.Client, path: str, status: int = 200) -> Element:
    response = client.get(path)
    assert response.status_code == status, (path, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return dom(response.text)


def card(root: Element, service: str, scenario: str) -> Element:
    section = root.find("section", cls="service", data_service=service)
    return section.find("article", cls="card", data_scenario=scenario)


def trends_path(service: str, scenario: str) -> str:
    return f"/services/{quote(service, safe='')}/{quote(scenario, safe='')}"


# Overview -----------------------------------------------------------------------------------


def test_overview_shows_the_last_run_of_every_scenario_with_its_numbers(
    history: History, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        root = page(client, "/")
        api = client.get("/api/overview").json()
    base = card(root, SERVICE, "baseline")
    assert base.attrs["data-run"] == str(history.baseline[-1])
    assert base.find(cls="badge").text == "FAIL"  # its gate failed in the last run
    assert base.find("dd", cls="p95").text == "1.7ms"
    assert base.find("dd", cls="p50").text == "1ms"
    assert base.find("dd", cls="error-rate").text == "5%"  # 5 of 100 failed
    assert "env=staging" in base.text
    pills = {p.text: p.classes() for p in base.find_all("span", cls="pill")}
    assert "fail" in pills[GATE]
    # The sparkline has one point per run, the newest last.
    points = base.find("polyline").attrs["points"] or ""
    assert len(points.split()) == BASELINE_RUNS
    for scenario in ("smoke", "stress"):
        assert card(root, SERVICE, scenario).attrs["data-run"] == str(history.pair)
        assert card(root, SERVICE, scenario).find(cls="badge").text == "PASS"
    assert card(root, EVIL_SERVICE, EVIL_SCENARIO).find(cls="badge").text == "ABORTED"
    # The JSON mirror has the same numbers, straight from the store.
    (orders,) = [s for s in api["services"] if s["service"] == SERVICE]
    scenarios = {s["scenario"]: s for s in orders["scenarios"]}
    assert scenarios["baseline"]["total"]["latency_ms"]["p95"] == pytest.approx(baseline_p95_ms(5))
    trend = [p["p95_ms"] for p in scenarios["baseline"]["p95_trend"]]
    assert trend == pytest.approx([baseline_p95_ms(i) for i in range(BASELINE_RUNS)])
    assert scenarios["baseline"]["status"] == "fail"


def test_hostile_names_are_text_and_their_links_are_encoded(
    history: History, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        text = client.get("/").text
        root = dom(text)
        evil = card(root, EVIL_SERVICE, EVIL_SCENARIO)
        assert "<script>alert(1)</script>" not in text
        assert "<b>evil</b>" not in text
        assert EVIL_SCENARIO in evil.text
        link = evil.find("h3").find("a").attrs["href"] or ""
        assert link == trends_path(EVIL_SERVICE, EVIL_SCENARIO)
        trends = page(client, link)  # the / in the scenario name survives the round trip
        assert EVIL_SCENARIO in trends.find("h1").text
        assert trends.find("table", cls="runs").find("tr", data_run=str(history.evil))


# Trends -------------------------------------------------------------------------------------


def test_trends_chart_every_run_with_the_thresholds_drawn(
    history: History, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        root = page(client, trends_path(SERVICE, "baseline"))
    rows = root.find("table", cls="runs").find("tbody").find_all("tr")
    assert [r.attrs["data-run"] for r in rows] == [str(i) for i in reversed(history.baseline)]
    charts = {
        e.attrs["id"]: json.loads(e.text)
        for e in root.find_all("script", type="application/json")
        if (e.attrs.get("id") or "").startswith("trend-")
    }
    assert set(charts) == {"trend-latency", "trend-errors", "trend-throughput"}
    latency = {trace["name"]: trace for trace in charts["trend-latency"]["data"]}
    assert latency["p95"]["y"] == pytest.approx([baseline_p95_ms(i) for i in range(6)])
    # The gate and the SLO are dashed threshold lines, in ms, at every run they judged;
    # plotly reads trace names as HTML, so they are escaped.
    gate = latency[html.escape(GATE, quote=False)]
    assert gate["y"] == pytest.approx([1.55] * BASELINE_RUNS)
    assert gate["line"]["dash"] == "dash"
    (slo,) = [name for name in latency if name.startswith("orders-latency")]
    assert latency[slo]["y"] == pytest.approx([2.0] * BASELINE_RUNS)
    errors = charts["trend-errors"]["data"][0]
    assert errors["y"] == pytest.approx([float(i) for i in range(BASELINE_RUNS)])  # percent
    # Each point opens its run.
    assert latency["p95"]["customdata"] == list(history.baseline)


def test_unknown_scenario_and_malformed_trend_urls_are_404_pages(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        missing = page(client, trends_path(SERVICE, "nope"), 404)
        assert "nope" in missing.text
        page(client, "/services/only-one-part", 404)
        assert client.get(f"/api{trends_path(SERVICE, 'nope')}").status_code == 404


# Runs ---------------------------------------------------------------------------------------


def test_run_page_shows_the_run_its_verdicts_and_its_charts(
    history: History, dashboard: Dashboard
) -> None:
    last = history.baseline[-1]
    with dashboard.client() as client:
        root = page(client, f"/runs/{last}")
    assert root.find(id="run-status").text == "FAIL"
    assert root.find(id="total-latency").text == "1ms / 1.7ms / 1.7ms"
    assert root.find(id="labels").text == "env=staging"
    assert root.find(id="git-branch").text == "main"
    failing = root.find("table", cls="verdicts").find("tr", cls="verdict-fail")
    assert GATE in failing.text
    previous = root.find("a", id="compare-previous").attrs["href"]
    assert previous == f"/compare?a={history.baseline[-2]}&b={last}"
    figures = [e for e in root.find_all("div", cls="chart")]
    assert {f.attrs["data-figure"] for f in figures} == {
        f"figure-0-{kind}" for kind in ("latency", "throughput", "errors", "distribution")
    }


def test_run_refs_redirect_to_the_numbered_page_and_unknown_runs_are_404(
    history: History, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        last = client.get("/runs/last")
        assert last.status_code == 307
        assert last.headers["location"] == f"/runs/{history.evil}"
        last_pass = client.get("/runs/last-pass/results.json")
        assert last_pass.headers["location"] == f"/runs/{history.pair}/results.json"
        assert "no run 999" in page(client, "/runs/999", 404).text
        assert "not a run id" in page(client, "/runs/bogus", 404).text
        assert client.get("/api/runs/999").json()["error"].startswith("no run 999")


def test_results_json_is_the_recorded_document(history: History, dashboard: Dashboard) -> None:
    with open_store(history.url, project_dir=history.project) as store:
        recorded = store.get(history.pair).document
    with dashboard.client() as client:
        response = client.get(f"/runs/{history.pair}/results.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert response.json() == recorded


# Compare ------------------------------------------------------------------------------------


def test_compare_sets_two_runs_side_by_side(history: History, dashboard: Dashboard) -> None:
    first, last = history.baseline[0], history.baseline[-1]
    with dashboard.client() as client:
        root = page(client, f"/compare?a={first}&b={last}")
        api = client.get(f"/api/compare?a={first}&b={last}").json()
        form = page(client, "/compare")
        bad = page(client, "/compare?a=1&b=nope", 404)
    row = root.find("tr", data_request="GET /api/orders", data_metric="p95")
    cells = [c.text for c in row.find_all("td")]
    assert cells[2:4] == ["1.2ms", "1.7ms"]
    assert cells[4].startswith("+0.5ms")
    assert "worse" in row.find_all("td")[4].classes()
    assert api["base"] == first
    assert api["new"] == last
    inputs = form.find("form", cls="pick").find_all("input")
    assert [i.attrs["name"] for i in inputs] == ["a", "b"]
    assert "not a run id" in bad.text


# API, empty and failing stores --------------------------------------------------------------


def test_api_lists_runs_with_filters_and_checks_its_limits(
    history: History, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        staging = client.get("/api/runs", params={"label": "env=staging"}).json()
        baseline = client.get("/api/runs", params={"scenario": "baseline", "limit": 3}).json()
        assert client.get("/api/runs", params={"limit": "0"}).status_code == 400
        assert client.get("/api/budget").status_code == 404  # no --prometheus
    assert [r["id"] for r in staging] == [history.baseline[-1]]
    assert [r["id"] for r in baseline] == list(reversed(history.baseline))[:3]


def test_a_store_with_no_runs_yet_explains_itself_and_picks_up_the_first_run(
    tmp_path: Path,
) -> None:
    project = tmp_path
    with running_dashboard("--project", str(project)) as dashboard, dashboard.client() as client:
        empty = page(client, "/")
        assert empty.find(id="empty")
        assert str(project / ".slokit" / "runs.db") in empty.text
        assert not (project / ".slokit" / "runs.db").exists()  # looking creates nothing
        assert page(client, "/runs/last", 404)
        url = f"sqlite:///{project / '.slokit' / 'runs.db'}"
        with open_store(url, project_dir=project) as store:
            fill(store, project, url)
        again = page(client, "/")  # no restart needed
        assert card(again, SERVICE, "baseline")


def test_a_store_that_fails_later_answers_503_pages(pg_database: str, tmp_path: Path) -> None:
    url = pg_schema_url(pg_database)
    schema = url.rsplit("%3D", 1)[1]
    with open_store(url, project_dir=tmp_path) as store:
        fill(store, tmp_path, url)
    with running_dashboard("--store", url) as dashboard, dashboard.client() as client:
        assert page(client, "/").find("article", cls="card")
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        broken = page(client, "/", 503)
        assert "Run store unavailable" in broken.text
        assert client.get("/api/runs").status_code == 503
