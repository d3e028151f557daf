"""The rules against a real Prometheus scraping the real demo service every second.

1. The healthy demo is loaded by slokit with an exact number of requests; Prometheus must
   count exactly those requests, and the SLIs it records must match what slokit measured.
2. The demo comes back broken on the same port; its quotes fail, and the fast-burn alert of
   the quotes SLO must go pending (its ``for`` is 2 minutes) within seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from slokit.demo import DemoServer
from slokit.rules import render_rules
from slokit.spec import load_spec
from tests._support import free_port, run_slokit, wait_port

pytestmark = pytest.mark.slow

LOAD = """
service: demo-orders
slos:
  availability: {objective: 99.5%}
  daily-latency: {route: GET /api/horoscopes/daily, objective: 95%, latency: 100ms}
  quotes-errors: {route: "GET /api/quotes/{sku}", objective: 99%}
scenarios:
  exact:
    # Six seconds, not one burst: a series Prometheus first sees at its final value shows
    # no increase at all, so the load must span several scrapes, as real traffic does.
    executor: constant-arrival-rate
    rate: 20/s
    duration: 6s
    max_vus: 20
    flow:
      - get: /api/horoscopes/daily
      - get: /api/quotes/A1
        name: GET /api/quotes/{sku}
"""


class Prometheus:
    def __init__(self, workdir: Path, target: str, rules: Path) -> None:
        binary = shutil.which("prometheus")
        assert binary is not None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(
            textwrap.dedent(
                f"""
                global: {{scrape_interval: 1s, evaluation_interval: 1s}}
                rule_files: ["{rules}"]
                scrape_configs:
                  - job_name: demo
                    static_configs: [{{targets: ["{target}"]}}]
                """
            )
        )
        self.log = (workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port, self.proc)  # type: ignore[arg-type]
        self.wait(lambda: self.get("/-/ready", raw=True) is not None, "ready")

    def get(self, path: str, raw: bool = False) -> Any:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                body = response.read()
        except OSError:
            return None
        return body if raw else json.loads(body)

    def query(self, promql: str) -> float | None:
        data = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        if not data or data["status"] != "success" or not data["data"]["result"]:
            return None
        return float(data["data"]["result"][0]["value"][1])

    def wait(self, check: Any, what: str, timeout: float = 30.0) -> None:
        limit = time.monotonic() + timeout
        while not check():
            assert self.proc.poll() is None, "prometheus exited"
            assert time.monotonic() < limit, f"prometheus: {what} did not happen in {timeout} s"
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def prometheus_binary() -> None:
    if shutil.which("prometheus") is None and not os.environ.get("CI"):
        pytest.skip("prometheus not installed (apt-get install prometheus)")


def test_recorded_slis_match_slokit_and_the_fast_burn_alert_goes_pending(
    prometheus_binary: None, tmp_path: Path
) -> None:
    workdir = tmp_path
    spec_file = workdir / "load.yaml"
    spec_file.write_text(LOAD)
    rules = workdir / "slo.rules.yml"
    rules.write_text(render_rules(load_spec(spec_file)))
    port = free_port()
    demo = DemoServer(port=port)
    demo.start()
    prometheus = Prometheus(workdir, f"127.0.0.1:{port}", rules)
    try:
        prometheus.wait(lambda: prometheus.query('up{job="demo"}') == 1.0, "a first scrape")
        out = workdir / "out"
        done = run_slokit("run", str(spec_file), "--target", demo.url, "-w", "1", "--out",
                          str(out), "-q")  # fmt: skip
        assert done.returncode in (0, 1), done.stdout + done.stderr
        results = json.loads((out / "results.json").read_text())
        daily = results["requests"]["GET /api/horoscopes/daily"]
        quotes = results["requests"]["GET /api/quotes/{sku}"]
        assert daily["count"] == quotes["count"] == 120

        def counted(route: str) -> float | None:
            return prometheus.query(f'sum(http_requests_total{{route="{route}"}})')

        # Same requests: the counters Prometheus scraped equal what slokit sent.
        prometheus.wait(lambda: counted("/api/horoscopes/daily") == 120, "120 daily requests")
        prometheus.wait(lambda: counted("/api/quotes/{sku}") == 120, "120 quote requests")
        verdicts = {v["name"]: v for v in results["verdicts"]}
        raw_availability = prometheus.query(
            'sum(http_requests_total{status!~"5.."}) / sum(http_requests_total)'
        )
        assert raw_availability == pytest.approx(verdicts["availability"]["observed"], abs=1e-9)
        # And the recording rules agree, to the precision increase() has: it extrapolates
        # each series to the window's edges from 1 s samples.
        for slo in ("availability", "daily-latency", "quotes-errors"):
            metric = f'slokit:sli_error:ratio_rate5m{{slo="{slo}"}}'
            prometheus.wait(lambda m=metric: prometheus.query(m) is not None, f"{slo} recorded")
            recorded = 1.0 - (prometheus.query(metric) or 0.0)
            assert recorded == pytest.approx(verdicts[slo]["observed"], abs=0.05), slo
        budget = prometheus.query('slokit:slo_error_budget_remaining:ratio{slo="quotes-errors"}')
        assert budget is not None
        assert budget > 0.5

        # The provider breaks for good; the same port, so Prometheus keeps scraping.
        demo.stop()
        broken = DemoServer(port=port, broken=True)
        broken.start()
        demo = broken
        prometheus.wait(lambda: prometheus.query('up{job="demo"}') == 1.0, "the broken demo up")
        broken_run = run_slokit("run", str(spec_file), "--target", demo.url, "-w", "1", "-q")
        assert broken_run.returncode in (0, 1), broken_run.stdout + broken_run.stderr

        def fast_burn() -> str | None:
            alerts = prometheus.get("/api/v1/alerts") or {"data": {"alerts": []}}
            for alert in alerts["data"]["alerts"]:
                labels = alert["labels"]
                if labels.get("alertname") == "SLOFastBurn" and labels["slo"] == "quotes-errors":
                    return str(alert["state"])
            return None

        try:
            prometheus.wait(lambda: fast_burn() in ("pending", "firing"), "SLOFastBurn pending")
        except AssertionError:
            for q in (
                'slokit:sli_error:ratio_rate5m{slo="quotes-errors"}',
                'slokit:sli_error:ratio_rate1h{slo="quotes-errors"}',
                "sum by (status, route) (http_requests_total)",
            ):
                print(q, prometheus.get("/api/v1/query?" + urllib.parse.urlencode({"query": q})))
            print(broken_run.stdout[-3000:])
            raise
        ratio = prometheus.query('slokit:sli_error:ratio_rate5m{slo="quotes-errors"}')
        assert ratio is not None
        assert ratio > 0.144  # over the page threshold: 14.4 x the 1 % budget

        # The deploy gate: `slokit budget` sees the spent quotes budget and exits 1.
        gate = run_slokit("budget", str(spec_file), "--prometheus", prometheus.url, "--json")
        assert gate.returncode == 1, gate.stdout + gate.stderr
        reports = {r["slo"]: r for r in json.loads(gate.stdout)["slos"]}
        assert reports["quotes-errors"]["exhausted"] is True
        assert "page" in reports["quotes-errors"]["firing"]
        assert reports["daily-latency"]["exhausted"] is False
        table = run_slokit("budget", str(spec_file), "--prometheus", prometheus.url)
        assert "quotes-errors" in table.stdout
    finally:
        prometheus.stop()
        demo.stop()
