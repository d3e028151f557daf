"""``slokit budget``'s report: against a real Prometheus scraping the real demo service.

One module-wide setup: a healthy and a broken demo service, one Prometheus scraping both
every second (jobs ``healthy`` and ``broken``), a known number of requests to each, and a
scrape after the last one. Every report is then evaluated at the timestamp of that scrape, so
``increase()`` has nothing to extrapolate past the end of the data: each counter's increase
over a window is its final value (every series was first scraped with a value of 1 or 0 and
grew by much more afterwards, which Prometheus extrapolates back to exactly zero), and the
SLIs can be checked exactly against the request counts.
"""

from __future__ import annotations

import http.client
import http.server
import io
import json
import math
import operator
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from slokit.demo import DemoServer
from slokit.errors import UsageError
from slokit.rules._budget import (
    BURN_WINDOWS,
    BudgetReport,
    _report,
    _windows,
    budget_json,
    budget_report,
    format_span,
    render_budget,
)
from slokit.spec import SLO, Spec, parse_spec
from tests._support import free_port
from tests.asgi._service import metric
from tests.rules._prometheus import Prometheus, prometheus_binary

DAILY = "/api/horoscopes/daily"
QUOTES = "/api/quotes/{sku}"
DAILY_REQUESTS = 200
QUOTE_REQUESTS = 100
THIRTY_DAYS = 30 * 86400.0

SPEC = """
version: 1
service: demo-orders
prometheus:
  selector: 'job="JOB"'
slos:
  availability:
    objective: 99.5%
  daily-latency:
    route: GET /api/horoscopes/daily
    objective: 95%
    latency: 100ms
  orders-latency:                     # nobody orders in these tests: no traffic
    route: POST /api/orders
    objective: 95%
    latency: 300ms
  quotes-errors:
    route: GET /api/quotes/{sku}
    objective: 99%
  quotes-latency:
    route: GET /api/quotes/{sku}
    objective: 95%
    latency: 100ms
  daily-1d:
    route: GET /api/horoscopes/daily
    objective: 99.9%
    window: 1d
  quotes-tickets-only:
    route: GET /api/quotes/{sku}
    objective: 99%
    alerting: {page: false}
  quotes-custom:
    objective: 99%
    sli:
      good: 'sum(increase(http_requests_total{job="JOB",route="/api/quotes/{sku}",status!~"5.."}[$window])) or vector(0)'
      total: 'sum(increase(http_requests_total{job="JOB",route="/api/quotes/{sku}"}[$window]))'
"""  # noqa: E501


def spec_for(job: str) -> Spec:
    return parse_spec(SPEC.replace("JOB", job))


def by_name(reports: list[BudgetReport]) -> dict[str, BudgetReport]:
    return {r.slo: r for r in reports}


@dataclass(frozen=True)
class Target:
    job: str
    server: DemoServer
    spec: Spec
    at: float
    """Timestamp of a scrape that saw every request."""
    metrics: str
    """The service's own /metrics text after the last request."""
    statuses: dict[str, Counter[int]]


@dataclass(frozen=True)
class World:
    prometheus: Prometheus
    targets: dict[str, Target]

    def report(self, job: str) -> dict[str, BudgetReport]:
        target = self.targets[job]
        return by_name(budget_report(target.spec, self.prometheus.url, at=target.at))


def drive(server: DemoServer, path: str, count: int) -> Counter[int]:
    """``count`` GETs on one keep-alive connection; the statuses answered."""
    statuses: Counter[int] = Counter()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        for _ in range(count):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            statuses[response.status] += 1
    finally:
        conn.close()
    return statuses


def scrape(server: DemoServer) -> str:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def load(server: DemoServer, warm: bool) -> dict[str, Counter[int]]:
    n_daily, n_quotes = (1, 1) if warm else (DAILY_REQUESTS, QUOTE_REQUESTS)
    return {
        "daily": drive(server, DAILY, n_daily),
        "quotes": drive(server, "/api/quotes/A1", n_quotes),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    prometheus_binary()  # skip (or fail in CI) before starting anything
    with ExitStack() as stack:
        servers = {
            "healthy": stack.enter_context(DemoServer()),
            "broken": stack.enter_context(DemoServer(broken=True)),
        }
        prom = stack.enter_context(
            Prometheus(
                tmp_path_factory.mktemp("prometheus"),
                {job: f"127.0.0.1:{s.port}" for job, s in servers.items()},
            )
        )
        for job in servers:
            prom.wait_for(f'up{{job="{job}"}}', lambda v: v == 1.0)
        # One request per route first, scraped before the rest: every series then starts at 1
        # (0 for buckets the warm-up missed), so increase() extrapolates back to exactly 0.
        with ThreadPoolExecutor(2) as pool:
            warm = dict(
                zip(servers, pool.map(lambda s: load(s, True), servers.values()), strict=True)
            )
        for job in servers:
            prom.wait_for(f'sum(http_requests_total{{job="{job}"}})', lambda v: v == 2.0)
        with ThreadPoolExecutor(2) as pool:
            main = dict(
                zip(servers, pool.map(lambda s: load(s, False), servers.values()), strict=True)
            )
        targets = {}
        for job, server in servers.items():
            text = scrape(server)
            total = DAILY_REQUESTS + QUOTE_REQUESTS + 2
            prom.wait_for(
                f'sum(http_requests_total{{job="{job}"}})', partial(operator.eq, float(total))
            )
            count = metric(text, "http_request_duration_seconds_count", route=QUOTES)
            prom.wait_for(
                f'sum(http_request_duration_seconds_count{{job="{job}",route="{QUOTES}"}})',
                partial(operator.eq, count),
            )
            at = prom.value(f'max(timestamp(http_requests_total{{job="{job}"}}))')
            assert at is not None
            statuses = {k: warm[job][k] + main[job][k] for k in ("daily", "quotes")}
            targets[job] = Target(job, server, spec_for(job), at, text, statuses)
        yield World(prom, targets)


# ---------------------------------------------------------------------------------------------
# Against Prometheus


def test_the_services_answered_as_expected(world: World) -> None:
    healthy, broken = world.targets["healthy"], world.targets["broken"]
    assert healthy.statuses == {
        "daily": Counter({200: DAILY_REQUESTS + 1}),
        "quotes": Counter({200: QUOTE_REQUESTS + 1}),
    }
    assert broken.statuses == {
        "daily": Counter({200: DAILY_REQUESTS + 1}),
        "quotes": Counter({502: QUOTE_REQUESTS + 1}),
    }
    for target in (healthy, broken):
        for route, counts in (
            (DAILY, target.statuses["daily"]),
            (QUOTES, target.statuses["quotes"]),
        ):
            for status, n in counts.items():
                assert metric(
                    target.metrics, "http_requests_total", route=route, status=str(status)
                ) == float(n)


def test_healthy_service_has_its_whole_budget(world: World) -> None:
    reports = world.report("healthy")
    for name in ("availability", "quotes-errors", "quotes-custom", "quotes-tickets-only"):
        r = reports[name]
        assert r.sli == 1.0, name
        assert r.budget_remaining == 1.0, name
        assert r.burn_rates == {"1h": 0.0, "6h": 0.0, "1d": 0.0, "3d": 0.0}, name
        assert r.exhaustion_s is None, name
        assert r.firing == [], name
        assert not r.exhausted, name
        assert r.window_s == THIRTY_DAYS
    availability = reports["availability"]
    assert availability.objective == pytest.approx(0.995)
    # 0.5% of 30 days of requests may fail: 216 minutes of full outage.
    assert availability.budget_remaining_minutes == pytest.approx(216.0)
    assert reports["quotes-errors"].budget_remaining_minutes == pytest.approx(432.0)


def test_broken_quotes_exhaust_the_budget_and_page(world: World) -> None:
    r = world.report("broken")["quotes-errors"]
    assert r.sli is not None
    assert r.sli < 0.5
    assert r.sli == 0.0  # every quote answered 502
    assert r.budget_remaining == pytest.approx(1 - 1 / 0.01)
    assert r.budget_remaining_minutes == 0.0
    assert r.exhausted
    assert r.exhaustion_s == 0.0
    assert r.firing == ["page", "ticket"]
    for label in BURN_WINDOWS:
        assert r.burn_rates[label] == pytest.approx(100.0)


def test_broken_availability_matches_the_request_counts(world: World) -> None:
    r = world.report("broken")["availability"]
    bad = QUOTE_REQUESTS + 1
    total = DAILY_REQUESTS + QUOTE_REQUESTS + 2
    ratio = bad / total
    assert r.sli == pytest.approx(1 - ratio, rel=1e-9)
    assert r.budget_remaining == pytest.approx(1 - ratio / 0.005, rel=1e-9)
    assert r.burn_rates["1h"] == pytest.approx(ratio / 0.005, rel=1e-9)
    assert r.exhausted
    assert r.exhaustion_s == 0.0
    assert r.firing == ["page", "ticket"]


def samples(text: str, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of ``name`` carrying ``labels``, with all its labels."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, value = line.rsplit(" ", 1)
        pairs = dict(
            (k, v.strip('"'))
            for k, v in (p.split("=", 1) for p in head[len(name) + 1 : -1].split(","))
        )
        if all(pairs.get(k) == v for k, v in labels.items()):
            found.append((pairs, float(value)))
    return found


def test_latency_sli_is_the_share_in_the_threshold_bucket(world: World) -> None:
    for job, name, route in (
        ("broken", "quotes-latency", QUOTES),
        ("healthy", "daily-latency", DAILY),
        ("healthy", "quotes-latency", QUOTES),
    ):
        target = world.targets[job]
        # Good: within the threshold and not 5xx; total: every request, whatever its status.
        fast = samples(
            target.metrics, "http_request_duration_seconds_bucket", route=route, le="0.1"
        )
        good = sum(v for labels, v in fast if labels.get("status_class") != "5xx")
        count = samples(target.metrics, "http_request_duration_seconds_count", route=route)
        total = sum(v for _, v in count)
        r = world.report(job)[name]
        assert r.sli == pytest.approx(good / total, rel=1e-9), (job, name)
    # The broken provider answers every quote with a 5xx: fast or slow, none is good.
    broken = world.report("broken")["quotes-latency"]
    assert broken.sli == 0.0


def test_slo_without_traffic_has_no_numbers(world: World) -> None:
    for job in world.targets:
        r = world.report(job)["orders-latency"]
        assert r == BudgetReport(
            "orders-latency",
            0.95,
            THIRTY_DAYS,
            sli=None,
            budget_remaining=None,
            budget_remaining_minutes=None,
            burn_rates=dict.fromkeys(BURN_WINDOWS),
            exhaustion_s=None,
            firing=[],
            exhausted=False,
        )


def test_windows_longer_than_the_slo_have_no_burn_rate(world: World) -> None:
    r = world.report("healthy")["daily-1d"]
    assert r.window_s == 86400.0
    assert r.burn_rates == {"1h": 0.0, "6h": 0.0, "1d": 0.0, "3d": None}
    assert r.budget_remaining_minutes == pytest.approx(0.001 * 1440)


def test_custom_sli_and_disabled_page_alerts(world: World) -> None:
    reports = world.report("broken")
    assert reports["quotes-custom"].sli == 0.0
    assert reports["quotes-custom"].firing == ["page", "ticket"]
    assert reports["quotes-tickets-only"].firing == ["ticket"]


def test_without_a_time_prometheus_now_is_used(world: World) -> None:
    target = world.targets["healthy"]
    reports = by_name(budget_report(target.spec, world.prometheus.url + "/", timeout=5))
    assert reports["availability"].sli == 1.0
    assert reports["orders-latency"].sli is None


def test_json_of_real_reports_is_plain_json(world: World) -> None:
    data = budget_json(budget_report(world.targets["broken"].spec, world.prometheus.url))
    text = json.dumps(data, allow_nan=False)
    names = [slo["slo"] for slo in json.loads(text)["slos"]]
    assert names == list(world.targets["broken"].spec.slos)


def test_promql_errors_carry_prometheus_text(world: World) -> None:
    spec = parse_spec(
        """
        service: x
        slos:
          broken-promql:
            objective: 99%
            sli: {bad: 'sum(rate(oops[$window])', total: 'sum(rate(x[$window]))'}
        """
    )
    with pytest.raises(
        UsageError, match=r"refused the query \(HTTP 400\): bad_data: .*parse error"
    ):
        budget_report(spec, world.prometheus.url)


def test_sli_with_several_series_is_refused(world: World) -> None:
    spec = parse_spec(
        """
        service: x
        slos:
          per-route:
            objective: 99%
            sli:
              good: 'sum by (job) (increase(http_requests_total[$window]))'
              total: 'sum by (job) (increase(http_requests_total[$window]))'
        """
    )
    with pytest.raises(UsageError, match=r"'per-route' gives \d+ series .* sum\(\.\.\.\)"):
        budget_report(spec, world.prometheus.url)


def test_a_server_that_is_not_prometheus(world: World) -> None:
    url = world.targets["healthy"].server.url
    with pytest.raises(UsageError, match=r"HTTP 404 .*base URL"):
        budget_report(world.targets["healthy"].spec, url)


# ---------------------------------------------------------------------------------------------
# Failures, without Prometheus


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _StubServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        stub = self.server
        stub.seen.append((self.path, self.headers.get("Authorization")))
        if stub.stall:
            stub.release.wait(10)
            return
        try:
            self.send_response(stub.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(stub.body)))
            self.end_headers()
            self.wfile.write(stub.body)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


class _StubServer(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handlers
    status = 200
    body = b""
    stall = False
    release = threading.Event()
    seen: list[tuple[str, str | None]]


@contextmanager
def stub(
    status: int = 200, body: bytes = b"", stall: bool = False
) -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """A tiny HTTP server answering every POST with ``status`` and ``body`` (or never)."""
    server = _StubServer(("127.0.0.1", 0), _Handler)
    server.status, server.body, server.stall = status, body, stall
    server.release = threading.Event()
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen
    finally:
        server.release.set()
        server.shutdown()
        thread.join()
        server.server_close()


ONE_SLO = parse_spec("service: x\nslos:\n  availability: {objective: 99.9%}\n")


def test_connection_refused_asks_whether_prometheus_runs() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UsageError, match=rf"connection refused; is Prometheus running at {url}\?"):
        budget_report(ONE_SLO, url, timeout=2)


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (200, b"<html>hello</html>", r"did not answer with Prometheus's JSON .*'<html>hello"),
        (200, b'{"status": "success"}', r"a malformed result, not a vector"),
        (200, b'{"status": "success", "data": {"resultType": "matrix", "result": []}}', "matrix"),
        (200, b'{"status": "success", "data": {"resultType": "vector", "result": [1]}}', "vector"),
        (200, b'{"status": "error", "errorType": "x", "error": "nope"}', r"refused .*x: nope"),
        (200, b"[1, 2]", r"did not answer like Prometheus's query API"),
        (
            422,
            b'{"status": "error", "errorType": "execution", "error": "too many samples"}',
            r"refused the query \(HTTP 422\): execution: too many samples",
        ),
        (503, b"Service Unavailable", r"answered HTTP 503"),
        (404, b"404 page not found", r"answered HTTP 404 .*without /api/v1"),
    ],
)
def test_answers_that_are_not_a_vector(status: int, body: bytes, match: str) -> None:
    with stub(status, body) as (url, _), pytest.raises(UsageError, match=match):
        budget_report(ONE_SLO, url)


def test_timeout() -> None:
    with stub(stall=True) as (url, _), pytest.raises(UsageError, match=r"within 0\.3 s; is Prom"):
        budget_report(ONE_SLO, url, timeout=0.3)


def test_empty_vector_means_no_traffic() -> None:
    body = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'
    with stub(200, body) as (url, _):
        (r,) = budget_report(ONE_SLO, url)
    assert r.sli is None
    assert r.budget_remaining is None
    assert not r.exhausted


def test_path_prefix_and_basic_auth_from_the_url() -> None:
    with stub(401, b"Unauthorized") as (url, seen):
        secret = url.replace("http://", "http://ops:p%40ss@") + "/prometheus/"
        with pytest.raises(UsageError, match=r"HTTP 401 .*USER:PASSWORD") as caught:
            budget_report(ONE_SLO, secret)
    assert "p%40ss" not in str(caught.value)
    assert "ops:***@" in str(caught.value)
    # base64("ops:p@ss")
    assert seen == [("/prometheus/api/v1/query", "Basic b3BzOnBAc3M=")]


@pytest.mark.parametrize(
    "url",
    ["localhost:9090", "ftp://prometheus", "http://", "http://host:port", "http://h:9090/?x=1", ""],
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(UsageError, match="invalid Prometheus URL"):
        budget_report(ONE_SLO, url)


@pytest.mark.parametrize("kw", [{"timeout": 0}, {"timeout": math.nan}, {"at": math.inf}])
def test_invalid_options(kw: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        budget_report(ONE_SLO, "http://127.0.0.1:9", **kw)


# ---------------------------------------------------------------------------------------------
# The arithmetic


def slo(objective: float = 0.999, window: float = THIRTY_DAYS) -> SLO:
    return SLO(objective=objective, window=window)


def ratios(value: float | None, **by_window: float | None) -> dict[float, float | None]:
    """The same error ratio over every window of a 30-day SLO, except those given."""
    names = {"m5": 300.0, "m30": 1800.0, "h1": 3600.0, "h2": 7200.0, "h6": 21600.0}
    names |= {"d1": 86400.0, "d3": 259200.0, "d30": THIRTY_DAYS}
    out: dict[float, float | None] = dict.fromkeys(names.values(), value)
    for key, v in by_window.items():
        out[names[key]] = v
    return out


BOTH = ("page", "ticket")


def test_windows_of_an_slo() -> None:
    assert _windows(slo()) == [300, 1800, 3600, 7200, 21600, 86400, 259200, THIRTY_DAYS]
    # A 1-day SLO's alert windows are the Workbook's scaled by 1/30: 6h -> 12m, 1d -> 48m,
    # 3d -> 2.4h (1h -> 2m is clamped to the shortest window, 5m), beside the fixed columns.
    assert _windows(slo(window=86400)) == [300, 720, 1800, 2880, 3600, 7200, 8640, 21600, 86400]
    assert _windows(slo(window=600)) == [300, 600]


def test_half_the_budget_left_burning_at_one() -> None:
    r = _report("a", slo(), ratios(0.001, d30=0.0005), BOTH)
    assert r.sli == pytest.approx(0.9995)
    assert r.budget_remaining == pytest.approx(0.5)
    # 0.1% of 30 days is 43.2 minutes; half of it is left.
    assert r.budget_remaining_minutes == pytest.approx(21.6)
    assert r.burn_rates == pytest.approx({"1h": 1.0, "6h": 1.0, "1d": 1.0, "3d": 1.0})
    # At burn rate 1, what is left of the budget lasts half the window.
    assert r.exhaustion_s == pytest.approx(15 * 86400)
    assert r.firing == []  # rate 1 is the ticket threshold itself, not over it
    assert not r.exhausted


def test_page_needs_the_long_and_the_short_window() -> None:
    fast = 0.02  # burn rate 20 > 14.4
    assert _report("a", slo(), ratios(0, h1=fast, m5=fast), BOTH).firing == ["page"]
    assert _report("a", slo(), ratios(0, h1=fast, m5=0.0001), BOTH).firing == []
    assert _report("a", slo(), ratios(0, h1=fast, m5=None), BOTH).firing == []
    assert _report("a", slo(), ratios(0, h6=0.007, m30=0.007), BOTH).firing == ["page"]
    assert _report("a", slo(), ratios(0, d3=0.0015, h6=0.0015), BOTH).firing == ["ticket"]
    assert _report("a", slo(), ratios(0.5), BOTH).firing == ["page", "ticket"]
    assert _report("a", slo(), ratios(0.5), ["ticket"]).firing == ["ticket"]
    assert _report("a", slo(), ratios(0.5), []).firing == []


def test_overspent_budget() -> None:
    r = _report("a", slo(0.99), ratios(0.05), BOTH)
    assert r.budget_remaining == pytest.approx(-4.0)
    assert r.budget_remaining_minutes == 0.0
    assert r.exhaustion_s == 0.0
    assert r.exhausted


def test_quiet_last_hour_is_not_burning() -> None:
    r = _report("a", slo(), ratios(0.0002, h1=None, m5=None), BOTH)
    assert r.burn_rates["1h"] is None
    assert r.burn_rates["6h"] == pytest.approx(0.2)
    assert r.exhaustion_s is None
    assert r.budget_remaining == pytest.approx(0.8)


def test_slo_shorter_than_an_hour() -> None:
    r = _report("a", slo(0.9, 600.0), {300.0: 0.05, 600.0: 0.05}, BOTH)
    assert r.burn_rates == dict.fromkeys(BURN_WINDOWS)
    assert r.firing == []
    # Its own window is the current pace: burn 0.5, half the budget left -> one window.
    assert r.exhaustion_s == pytest.approx(600.0)


@given(
    objective=st.floats(0.5, 0.99999),
    overall=st.one_of(st.none(), st.floats(0, 1)),
    hour=st.one_of(st.none(), st.floats(0, 1)),
)
def test_report_invariants(objective: float, overall: float | None, hour: float | None) -> None:
    r = _report("a", slo(objective), ratios(hour, d30=overall), BOTH)
    if overall is None:
        assert r == BudgetReport(
            "a", objective, THIRTY_DAYS, None, None, None, r.burn_rates, None, [], False
        )
        return
    assert r.sli == pytest.approx(1 - overall)
    assert r.budget_remaining is not None
    assert r.budget_remaining_minutes is not None
    assert r.exhausted == (r.budget_remaining <= 0)
    assert r.budget_remaining_minutes >= 0
    assert (r.exhaustion_s == 0.0) == r.exhausted
    if not r.exhausted and not hour:
        assert r.exhaustion_s is None
    if r.exhaustion_s:
        assert r.exhaustion_s > 0


# ---------------------------------------------------------------------------------------------
# Output


SAMPLES = [
    _report("availability", slo(0.995), ratios(0.001, d30=0.002), BOTH),
    _report("quotes-errors", slo(0.99), ratios(0.5), BOTH),
    _report("orders-latency", slo(0.95), ratios(None), BOTH),
]


def test_json_keys_and_rounding() -> None:
    data = budget_json(SAMPLES)
    assert list(data) == ["slos"]
    first = data["slos"][0]
    assert list(first) == [
        "slo",
        "objective",
        "window_s",
        "sli",
        "budget_remaining",
        "budget_remaining_minutes",
        "burn_rates",
        "exhaustion_s",
        "firing",
        "exhausted",
    ]
    assert first["sli"] == 0.998
    assert first["budget_remaining"] == 0.6
    assert first["budget_remaining_minutes"] == 129.6
    assert first["burn_rates"] == {"1h": 0.2, "6h": 0.2, "1d": 0.2, "3d": 0.2}
    assert first["exhaustion_s"] == round(0.6 * THIRTY_DAYS / 0.2, 1)
    assert data["slos"][1]["firing"] == ["page", "ticket"]
    assert data["slos"][2]["sli"] is None
    assert data["slos"][2]["burn_rates"] == {"1h": None, "6h": None, "1d": None, "3d": None}
    json.dumps(data, allow_nan=False)


def test_rendered_table() -> None:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    render_budget(SAMPLES, console)
    text = console.export_text()
    for expected in (
        "availability",
        "99.8% / 99.5%",
        "60% (129.6 min)",
        "in 90d",
        "quotes-errors",
        "exhausted",
        "page, ticket",
        "orders-latency",
        "no traffic",
        "burn 3d",
    ):
        assert expected in text, expected


def test_rendered_nothing() -> None:
    console = Console(file=io.StringIO(), width=120, record=True, color_system=None)
    render_budget([], console)
    assert "no SLOs" in console.export_text()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (59.6, "1m"),
        (720, "12m"),
        (3600, "1h"),
        (18720, "5h 12m"),
        (86399, "1d"),
        (12 * 86400 + 3 * 3600, "12d 3h"),
        (400 * 86400, "> 1y"),
    ],
)
def test_human_durations(seconds: float, text: str) -> None:
    assert format_span(seconds) == text
