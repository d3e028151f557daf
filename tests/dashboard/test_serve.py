"""``slokit dashboard`` as people start it: loopback only, safe headers, its own assets,
clear exit-2 errors, and error budgets from a real Prometheus scraping the real demo."""

from __future__ import annotations

import gzip
import re
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from slokit.demo import DemoServer
from slokit.rules import budget_report
from slokit.spec import load_spec
from tests._support import run_slokit
from tests.dashboard._html import dom
from tests.dashboard.conftest import Dashboard, History, running_dashboard
from tests.rules._prometheus import Prometheus, prometheus_binary
from tests.rules.test_budget import drive

PAGES = ["/", "/services/orders-api/baseline", "/runs/1", "/compare?a=1&b=2", "/api/runs"]


@pytest.fixture
def served(sqlite_history: History) -> Iterator[Dashboard]:
    with running_dashboard("--store", sqlite_history.url) as dashboard:
        yield dashboard


def test_every_answer_carries_the_security_headers(served: Dashboard) -> None:
    with served.client() as client:
        for path in [*PAGES, "/runs/999", "/nowhere"]:
            response = client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["x-frame-options"] == "DENY", path
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp, path
            assert "script-src 'self';" in csp, path  # no inline script, nothing remote


def test_requests_for_another_host_are_refused(served: Dashboard) -> None:
    """DNS rebinding: a page elsewhere pointing its own name at 127.0.0.1 gets nothing."""
    with served.client() as client:
        refused = client.get("/api/runs", headers={"host": "attacker.example"})
        assert refused.status_code == 421
        assert "loopback" in refused.text
        assert client.get("/api/runs", headers={"host": "localhost:1234"}).status_code == 200


def test_pages_load_nothing_from_anywhere_else(served: Dashboard) -> None:
    with served.client() as client:
        for path in PAGES[:-1]:
            root = dom(client.get(path).text)
            for element in root.iter():
                for attr in ("src", "href", "action"):
                    value = element.attrs.get(attr) or ""
                    # data: is the empty favicon, which stops the browser asking for one
                    local = value.startswith(("/", "#", "?", "data:")) or not value
                    assert local, (path, attr, value)
            scripts = [e for e in root.find_all("script") if e.attrs.get("src")]
            for script in scripts:
                assert script.attrs["src"].startswith("/static/")  # type: ignore[union-attr]


def test_assets_are_served_cached_compressed_and_revalidated(served: Dashboard) -> None:
    with served.client() as client:
        root = dom(client.get("/runs/1").text)
        sources = [e.attrs["src"] for e in root.find_all("script") if e.attrs.get("src")]
        plotly = next(s for s in sources if s and "plotly" in s)
        assert plotly is not None
        plain = client.get(plotly, headers={"accept-encoding": "identity"})
        assert plain.status_code == 200
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert plain.headers["content-type"].startswith("text/javascript")
        assert b"plotly" in plain.content[:2000].lower()
        packed = client.get(plotly, headers={"accept-encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.content == plain.content  # httpx decoded it: the same bytes
        raw = client.build_request("GET", plotly, headers={"accept-encoding": "gzip"})
        with client.stream("GET", raw.url, headers=raw.headers) as streamed:
            body = b"".join(streamed.iter_raw())
        assert len(body) < len(plain.content) / 2
        assert gzip.decompress(body) == plain.content
        again = client.get(plotly, headers={"if-none-match": plain.headers["etag"]})
        assert again.status_code == 304
        assert client.get("/static/plotly-0.0.js").status_code == 404


# The command line -------------------------------------------------------------------------


def test_refuses_an_address_that_is_not_loopback(tmp_path: Path) -> None:
    done = run_slokit("dashboard", "--host", "0.0.0.0", "--project", str(tmp_path), timeout=30)
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr
    assert "--allow-remote" in done.stderr


def test_a_port_that_is_taken_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_slokit("dashboard", "--port", str(port), "--project", str(tmp_path))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prometheus", "http://127.0.0.1:9"], "--prometheus reports the error budgets"),
        (["--prometheus", "127.0.0.1:9090", "--spec", "SPEC"], "expected the Prometheus"),
        (["--store", "mysql://nobody@127.0.0.1/x"], "mysql"),
        (["--port", "70000"], "give a port from 1 to 65535"),
    ],
)
def test_bad_options_exit_2_with_the_reason(tmp_path: Path, args: list[str], message: str) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text("service: s\n", encoding="utf-8")
    args = [str(spec) if a == "SPEC" else a for a in args]
    done = run_slokit("dashboard", "--project", str(tmp_path / "empty"), *args, timeout=30)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


# Error budgets ----------------------------------------------------------------------------

BUDGET_SPEC = """
service: demo-orders
prometheus:
  selector: 'job="demo"'
slos:
  daily-latency:
    route: GET /api/horoscopes/daily
    objective: 95%
    latency: 500ms
  quotes-errors:
    route: GET /api/quotes/{sku}
    objective: 99%
"""


def test_the_overview_shows_error_budgets_from_prometheus(tmp_path: Path) -> None:
    prometheus_binary()  # skip (or fail in CI) before starting anything
    spec = tmp_path / "slokit.yaml"
    spec.write_text(textwrap.dedent(BUDGET_SPEC), encoding="utf-8")
    (tmp_path / "prom").mkdir()
    with (
        DemoServer(broken=True) as demo,  # its quote provider is down: every quote is a 502
        Prometheus(tmp_path / "prom", {"demo": f"127.0.0.1:{demo.port}"}) as prom,
    ):
        prom.wait_for('up{job="demo"}', lambda v: v == 1.0)
        # One request per route scraped before the rest: a series Prometheus first sees at
        # its final value shows no increase at all.
        drive(demo, "/api/horoscopes/daily", 1)
        drive(demo, "/api/quotes/A1", 1)
        prom.wait_for('sum(http_requests_total{job="demo"})', lambda v: v == 2.0)
        drive(demo, "/api/horoscopes/daily", 50)
        drive(demo, "/api/quotes/A1", 50)
        prom.wait_for('sum(http_requests_total{job="demo"})', lambda v: v == 102.0)
        prom.wait_for(  # two scrapes after the load: increase() sees all of it
            'sum(count_over_time(http_requests_total{job="demo"}[1m]))', lambda v: v >= 6.0
        )
        expected = {r.slo: r for r in budget_report(load_spec(spec), prom.url)}
        with (
            running_dashboard("--prometheus", prom.url, "--spec", str(spec)) as dashboard,
            dashboard.client() as client,
        ):
            root = dom(client.get("/").text)
            api = client.get("/api/budget").json()
    section = root.find("section", id="budget")
    assert "demo-orders" in section.find("h2").text
    rows = {r.attrs["data-slo"]: r for r in section.find_all("tr") if r.attrs.get("data-slo")}
    assert set(rows) == {"daily-latency", "quotes-errors"}
    assert expected["quotes-errors"].exhausted
    assert "fail" in rows["quotes-errors"].find("td", cls="budget-left").classes()
    assert "pass" in rows["daily-latency"].find("td", cls="budget-left").classes()
    shown = float(rows["daily-latency"].find("td", cls="budget-left").attrs["data-value"] or 0)
    assert shown == pytest.approx(expected["daily-latency"].budget_remaining, abs=1e-3)
    assert {s["slo"] for s in api["slos"]} == {"daily-latency", "quotes-errors"}
    assert api["error"] is None


def test_an_unreachable_prometheus_is_shown_not_a_crash(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(textwrap.dedent(BUDGET_SPEC), encoding="utf-8")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        with (
            running_dashboard(
                "--prometheus", f"http://127.0.0.1:{port}", "--spec", str(spec)
            ) as dashboard,
            dashboard.client() as client,
        ):
            page = client.get("/")
            api = client.get("/api/budget")
    assert page.status_code == 200
    error = dom(page.text).find(id="budget-error").text
    assert re.search(r"Cannot read the error budgets: .*127\.0\.0\.1", error), error
    assert api.status_code == 502
    assert api.json()["error"]
