"""Cost per million requests from real runs against loopback servers of known capacity: every
figure checked against the arithmetic from the rate the run measured, the x86-vs-ARM switch
decision, the p95 refusal, a cost regression against a baseline, a capacity search priced at
its sustainable rate, prices from sampled CPU and RSS, the monthly FinOps report and the
dashboard's cost trend."""

from __future__ import annotations

import json
import math
import re
import subprocess
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, run_slokit, slokit_cmd
from tests.dashboard.conftest import running_dashboard

FLEET = 2 * 0.0832 + 36.5 / 730
"""The x86 fleet per hour: 2 replicas at 0.0832 + 36.5 a month fixed."""
ARM_FLEET = 2 * 0.06 + 36.5 / 730


def _spec(
    path: Path, fast: str, second: tuple[str, int], slow: str, instance: float = 0.0832
) -> Path:
    second_url, second_pid = second
    path.write_text(
        textwrap.dedent(
            f"""\
            service: shop
            target: {fast}
            slos:
              fast: {{objective: 95%, latency: 100ms}}
            cost:
              currency: USD
              instance_hourly: {instance}
              replicas: 2
              fixed_monthly: 36.5
              production_rate: 60/s
              headroom: 2
            scenarios:
              x86:
                executor: constant-arrival-rate
                rate: 80/s
                duration: 3s
                flow: [{{get: /}}]
                gates: ["cost_per_million < 1.00"]
              arm:
                executor: constant-arrival-rate
                rate: 80/s
                duration: 3s
                flow: [{{get: /}}]
                cost: {{instance_hourly: 0.06}}
                gates: ["cost_per_million < 0.50"]
              slowarm:
                executor: constant-arrival-rate
                rate: 30/s
                duration: 3s
                target: {slow}
                flow: [{{get: /}}]
              search:
                executor: capacity
                target: {second_url}
                flow: [{{get: /}}]
                start_rate: 100/s
                step: 50/s
                max_rate: 300/s
                settle: 1s
                step_duration: 2s
                max_vus: 200
              sampled:
                executor: constant-arrival-rate
                rate: 50/s
                duration: 4s
                target: {second_url}
                flow: [{{get: /}}]
                cost: {{vcpu_hourly: 0.04, gib_hourly: 0.005}}
                resources: {{pid: {second_pid}, interval: 250ms}}
            """
        ),
        encoding="utf-8",
    )
    return path


def _run(spec: Path, scenario: str, out: Path, store: str, *extra: str) -> dict[str, Any]:
    done = run_slokit(
        "run", str(spec), "-s", scenario, "-w", "1", "--out", str(out), "--store", store, *extra,
        timeout=180,
    )  # fmt: skip
    found = re.search(r"recorded as run (\d+)", done.stdout)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {
        "code": done.returncode,
        "stdout": done.stdout,
        "run": int(found.group(1)) if found else None,
        "results": results,
        "scenario": results["scenarios"][scenario],
        "out": out,
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every run of this module: x86, arm and a dearer x86 one after the other on one server
    (so their p95s are comparable), the rest side by side on servers of their own."""
    base = tmp_path_factory.mktemp("cost")
    store = f"sqlite:///{base / 'runs.db'}"
    fast, second = UvicornApp("capacity_app:app"), UvicornApp("capacity_app:app")
    slow = UvicornApp("capacity_app:app", env={"SERVICE_MS": "60"})
    try:
        loaded = (second.url, second.proc.pid)
        spec = _spec(base / "slokit.yaml", fast.url, loaded, slow.url)
        side = [
            subprocess.Popen(
                slokit_cmd(
                    "run", str(spec), "-s", name, "-w", "1", "--out", str(base / name),
                    "--store", store,
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name in ("slowarm", "search")
        ]  # fmt: skip
        found: dict[str, Any] = {"store": store, "base": base, "spec": spec}
        found["x86"] = _run(spec, "x86", base / "x86", store)
        found["arm"] = _run(spec, "arm", base / "arm", store)
        dear = _spec(base / "dear.yaml", fast.url, loaded, slow.url, instance=0.11)
        found["dear"] = _run(
            dear, "x86", base / "dear", store,
            "--baseline", str(found["x86"]["run"]), "--max-regression", "cost_per_million=10%",
        )  # fmt: skip
        for proc in side:
            proc.communicate(timeout=180)
        found["sampled"] = _run(spec, "sampled", base / "sampled", store)
        for name in ("slowarm", "search"):
            results = json.loads((base / name / "results.json").read_text(encoding="utf-8"))
            found[name] = {"results": results, "scenario": results["scenarios"][name]}
        return found
    finally:
        for app in (fast, second, slow):
            app.kill()


def _served(sc: dict[str, Any]) -> float:
    """Answered, not failed requests per measured second, from results.json's own numbers."""
    total = sc["total"]
    failed = sum(total["failures"].values())
    return (total["count"] - failed) / (sc["duration_s"] - sc["warmup_s"])


def test_cost_per_million_is_the_fleet_price_over_the_served_rate(runs: dict[str, Any]) -> None:
    x86 = runs["x86"]
    cost = x86["scenario"]["cost"]
    served = _served(x86["scenario"])
    assert cost["basis"] == "instance"
    assert cost["fleet_hourly"] == pytest.approx(FLEET, rel=1e-5)
    assert cost["served_rate"] == pytest.approx(served, rel=1e-3)
    assert cost["per_million"] == pytest.approx(FLEET / (served * 3600) * 1e6, rel=1e-3)
    assert cost["cost_per_million"] == cost["per_million"]  # no capacity search: served
    assert cost["monthly"] == pytest.approx(FLEET * 730, rel=1e-5)
    assert cost["sustainable"] is None
    assert cost["headroom"] is None
    # The formula shows its inputs; the gate reads the figure.
    assert "fleet 0.2164 USD/h = 2 x 0.0832 + 36.5 fixed / 730 h" in cost["formula"]
    gate = next(v for v in x86["scenario"]["verdicts"] if v["name"].startswith("cost_per"))
    assert gate["passed"]
    assert gate["observed"] == pytest.approx(cost["per_million"], rel=1e-3)
    assert x86["code"] == 0
    assert "cost: " in x86["stdout"]
    assert "fleet 0.2164 USD/h = 2 x 0.0832 + 36.5 fixed / 730 h" in x86["stdout"]
    summary = (x86["out"] / "summary.md").read_text(encoding="utf-8")
    assert "fleet 0.2164 USD/h = 2 x 0.0832 + 36.5 fixed / 730 h" in summary
    html = (x86["out"] / "report.html").read_text(encoding="utf-8")
    assert "<h3>Cost</h3>" in html
    assert "per million served" in html


def test_a_scenario_price_overrides_the_spec_and_its_gate_fails(runs: dict[str, Any]) -> None:
    arm = runs["arm"]
    cost = arm["scenario"]["cost"]
    assert cost["per_replica_hourly"] == 0.06
    assert cost["fleet_hourly"] == pytest.approx(ARM_FLEET, rel=1e-5)
    served = _served(arm["scenario"])
    assert cost["per_million"] == pytest.approx(ARM_FLEET / (served * 3600) * 1e6, rel=1e-3)
    gate = next(v for v in arm["scenario"]["verdicts"] if v["name"].startswith("cost_per"))
    assert not gate["passed"]  # 0.59 per million at 80/s is over 0.50
    assert arm["code"] == 1


def test_cost_compare_says_switch_at_equal_p95(runs: dict[str, Any]) -> None:
    store, a, b = runs["store"], str(runs["x86"]["run"]), str(runs["arm"]["run"])
    done = run_slokit("cost", "compare", a, b, "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    [decision] = json.loads(done.stdout)
    x86, arm = runs["x86"]["scenario"]["cost"], runs["arm"]["scenario"]["cost"]
    assert decision["decision"] == "switch"
    assert decision["saving"] == pytest.approx(
        1 - arm["cost_per_million"] / x86["cost_per_million"], abs=1e-5
    )
    assert decision["saving"] >= 0.15
    text = run_slokit("cost", "compare", a, b, "--store", store).stdout
    assert "switch: arm vs x86: serves the same p95" in text
    assert "-> switch (threshold 15%)" in text
    strict = run_slokit("cost", "compare", a, b, "--store", store, "--threshold", "40%")
    assert "stay:" in strict.stdout
    assert "below the 40% threshold" in strict.stdout
    # The same from the results files, and in runs compare.
    files = run_slokit(
        "cost", "compare", str(runs["x86"]["out"] / "results.json"),
        str(runs["arm"]["out"] / "results.json"),
    )  # fmt: skip
    assert "switch: arm vs x86" in files.stdout
    both = run_slokit("runs", "compare", a, b, "--store", store)
    assert "switch: arm vs x86" in both.stdout


def test_a_worse_p95_is_not_compared(runs: dict[str, Any]) -> None:
    slow = runs["base"] / "slowarm" / "results.json"
    done = run_slokit("cost", "compare", str(runs["x86"]["out"] / "results.json"), str(slow))
    assert done.returncode == 0
    assert "not comparable: slowarm vs x86: not equal p95" in done.stdout
    assert "beyond the 5% tolerance" in done.stdout
    loose = run_slokit(
        "cost", "compare", str(runs["x86"]["out"] / "results.json"), str(slow),
        "--p95-tolerance", "1000%", "--json",
    )  # fmt: skip
    assert json.loads(loose.stdout)[0]["decision"] in ("switch", "stay")


def test_a_cost_regression_against_the_baseline_fails_the_run(runs: dict[str, Any]) -> None:
    dear = runs["dear"]
    verdict = next(
        v for v in dear["scenario"]["verdicts"] if v["name"].startswith("regression cost")
    )
    base = runs["x86"]["scenario"]["cost"]["cost_per_million"]
    now = dear["scenario"]["cost"]["cost_per_million"]
    assert verdict["name"] == f"regression cost_per_million <= +10% vs run {runs['x86']['run']}"
    assert not verdict["passed"]
    assert verdict["observed"] == pytest.approx(now / base - 1, abs=1e-3)
    assert dear["code"] == 1


def test_a_capacity_search_is_priced_at_its_sustainable_rate(runs: dict[str, Any]) -> None:
    sc = runs["search"]["scenario"]
    sustainable = sc["capacity"]["sustainable_rate"]
    assert sustainable is not None
    cost = sc["cost"]
    assert cost["sustainable"] == sustainable
    assert cost["per_million_at_slo"] == pytest.approx(FLEET / (sustainable * 3600) * 1e6, rel=1e-5)
    assert cost["cost_per_million"] == cost["per_million_at_slo"]
    assert cost["headroom"] == pytest.approx(sustainable / 60, rel=1e-5)
    needed = math.ceil(60 * 2 / (sustainable / 2))
    assert cost["replicas_needed"] == needed
    assert cost["monthly_needed"] == pytest.approx(needed * 0.0832 * 730 + 36.5, rel=1e-5)


def test_vcpu_and_gib_prices_read_the_sampled_target(runs: dict[str, Any]) -> None:
    sc = runs["sampled"]["scenario"]
    cost = sc["cost"]
    assert cost["basis"] == "sampled"
    summaries = sc["resources"]["summary"]
    cpu, rss = summaries["cpu"]["mean"], summaries["rss"]["mean"]
    assert cpu > 0
    assert rss > 10 * 2**20  # a Python process
    assert cost["inputs"]["cpu_cores"] == pytest.approx(cpu, rel=1e-4)
    assert cost["inputs"]["rss_gib"] == pytest.approx(rss / 2**30, rel=1e-4)
    # The spec's instance price gave way to the scenario's per-vCPU one; its replicas stayed.
    assert "instance_hourly" not in cost["inputs"]
    target = cpu * 0.04 + rss / 2**30 * 0.005
    assert cost["per_replica_hourly"] == pytest.approx(target / 2, rel=1e-4)
    assert cost["fleet_hourly"] == pytest.approx(target + 36.5 / 730, rel=1e-4)


def test_the_monthly_finops_report_reads_the_store(runs: dict[str, Any]) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    out = runs["base"] / "finops.md"
    done = run_slokit(
        "cost", "report", "--month", month, "--store", runs["store"], "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert f"# FinOps report {month}" in text
    rows = [line for line in text.splitlines() if line.startswith("| shop |")]
    scenarios = {row.split("|")[2].strip() for row in rows}
    assert {"x86", "arm", "search", "sampled", "slowarm"} <= scenarios
    x86 = next(r for r in rows if r.split("|")[2].strip() == "x86")
    assert "| 2 |" in x86  # the first x86 run and the dearer one
    # Each row's inputs are its latest run's: for x86 the dearer one.
    section = text.split(f"### shop / x86 (run {runs['dear']['run']})", 1)[1].split("###")[0]
    assert "fleet 0.27 USD/h = 2 x 0.11 + 36.5 fixed / 730 h" in section
    rows_json = json.loads(
        run_slokit("cost", "report", "--month", month, "--store", runs["store"], "--json").stdout
    )
    x86_row = next(r for r in rows_json if r["scenario"] == "x86")
    assert x86_row["runs"] == [runs["x86"]["run"], runs["dear"]["run"]]
    bad = run_slokit("cost", "report", "--month", "2026-13", "--store", runs["store"])
    assert bad.returncode == 2
    assert "expected YYYY-MM" in bad.stderr


def test_the_dashboard_shows_the_cost_and_its_trend(runs: dict[str, Any]) -> None:
    with running_dashboard("--store", runs["store"]) as board, board.client() as client:
        trend = client.get("/services/shop/x86")
        assert trend.status_code == 200
        assert "Cost per million requests per run" in trend.text
        page = client.get(f"/runs/{runs['x86']['run']}")
        assert "<h3>Cost</h3>" in page.text
        assert "2 x 0.0832 + 36.5 fixed / 730 h" in page.text
        stored = client.get(f"/runs/{runs['x86']['run']}/results.json").json()
        assert stored["scenarios"]["x86"]["cost"]["fleet_hourly"] == pytest.approx(FLEET, rel=1e-5)
