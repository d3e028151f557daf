"""The engine end to end through ``slokit run``: real uvicorn, real worker processes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, run_slokit


def write_spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "slokit.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def results_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def test_constant_vus_passes_and_writes_every_report(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        slos:
          availability: {{objective: 99%}}
          ok-latency: {{route: GET /ok, objective: 90%, latency: 2s}}
        gates:
          - error_rate < 1%
          - requests(GET /ok) >= 10
        scenarios:
          smoke:
            executor: constant-vus
            vus: 4
            duration: 2s
            flow:
              - get: /ok
                checks: [{{body_contains: ok}}]
              - get: /items/7
                checks: [{{json: "$.id", equals: "7"}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "--workers", "2", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    res = results_of(out)
    assert res["passed"] is True
    assert res["partial"] is False
    assert set(res["requests"]) == {"GET /ok", "GET /items/7"}
    ok = res["requests"]["GET /ok"]
    assert ok["count"] > 10
    assert ok["failures"] == {} or sum(ok["failures"].values()) == 0
    assert ok["checks"]["failed"] == 0
    assert ok["checks"]["passed"] == ok["count"]
    for key in ("p50", "p90", "p95", "p99", "p99_9", "max"):
        assert ok["latency_ms"][key] > 0
    assert ok["latency_ms"]["p50"] <= ok["latency_ms"]["p99"] <= ok["latency_ms"]["max"]
    names = {v["name"] for v in res["verdicts"]}
    assert {"availability", "ok-latency", "error_rate < 1%", "requests(GET /ok) >= 10"} <= names
    assert all(v["passed"] for v in res["verdicts"])
    assert (out / "junit.xml").read_text().count("<testcase") == len(res["verdicts"])
    assert "availability" in (out / "summary.md").read_text()
    assert "PASS" in done.stdout


def test_failing_latency_slo_exits_1(tmp_path: Path, shared_app: UvicornApp) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        slos:
          slow-latency: {{route: GET /slow, objective: 99%, latency: 5ms}}
        scenarios:
          slow:
            executor: constant-vus
            vus: 2
            duration: 1s
            flow: [{{get: "/slow?ms=30"}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = results_of(out)["verdicts"][0]
    assert verdict["name"] == "slow-latency"
    assert verdict["passed"] is False
    assert "FAIL" in done.stdout


def test_open_model_counts_every_arrival_as_request_or_dropped(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    """50/s for 2 s with one VU against a 100 ms route: most arrivals find the VU busy."""
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 50/s
            duration: 2s
            max_vus: 2
            flow: [{{get: "/slow?ms=100"}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "2", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    total = results_of(out)["total"]
    assert total["count"] + total["dropped"] == 100
    assert total["dropped"] > total["count"] > 0


def test_open_model_meets_the_arrival_rate_exactly(tmp_path: Path, shared_app: UvicornApp) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        scenarios:
          steady:
            executor: constant-arrival-rate
            rate: 150/s
            duration: 2s
            max_vus: 50
            flow: [{{get: /ok}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "2", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    total = results_of(out)["total"]
    assert total["count"] == 300
    assert total["dropped"] == 0


def test_per_vu_iterations_run_exactly_and_end_early(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        scenarios:
          iters:
            executor: per-vu-iterations
            vus: 3
            iterations: 5
            max_duration: 60s
            flow: [{{get: /ok}}, {{post: /echo, json: {{a: 1}}, status: 200}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "2", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    res = results_of(out)
    assert res["requests"]["GET /ok"]["count"] == 15
    assert res["requests"]["POST /echo"]["count"] == 15
    assert res["scenarios"]["iters"]["duration_s"] < 30


def test_warmup_is_excluded_from_totals_but_kept_in_timeline(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        scenarios:
          warm:
            executor: constant-arrival-rate
            rate: 100/s
            duration: 3s
            warmup: 1s
            max_vus: 20
            flow: [{{get: /ok}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    sc = results_of(out)["scenarios"]["warm"]
    assert abs(sc["total"]["count"] - 200) <= 2
    timeline = sc["timeline"]
    assert timeline[0]["warmup"] is True
    assert all(not p["warmup"] for p in timeline[1:])
    assert sum(p["requests"] for p in timeline) == 300


def test_python_journey_with_checks_and_csv_data(tmp_path: Path, shared_app: UvicornApp) -> None:
    (tmp_path / "users.csv").write_text("user,sku\nann,A1\nbob,B2\ncid,C3\n")
    (tmp_path / "journeys.py").write_text(
        textwrap.dedent(
            """
            async def checkout(s):
                r = await s.post("/echo", json={"user": s.data["user"]}, name="echo user")
                s.check(r.json()["body"].startswith('{"user"'))
                r = await s.get(f"/items/{s.data['sku']}")
                s.check(r.json()["id"] == s.data["sku"], name="item matches")
            """
        )
    )
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        slos:
          item-latency: {{route: "GET /items/{{item_id}}", objective: 50%, latency: 5s}}
        scenarios:
          journey:
            executor: per-vu-iterations
            vus: 2
            iterations: 6
            script: journeys.py:checkout
            data: {{file: users.csv, mode: sequential}}
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    res = results_of(out)
    # Dynamic paths fold onto the SLO's route template: one row, not one per sku.
    assert res["requests"]["GET /items/{item_id}"]["count"] == 12
    assert res["requests"]["echo user"]["count"] == 12
    assert res["requests"]["echo user"]["checks"]["passed"] == 12
    # A named check is not a request: no entry that ran 0 times, but counted all the same.
    assert "item matches" not in res["requests"]
    scenario = next(iter(res["scenarios"].values()))
    assert scenario["checks"] == {"item matches": {"passed": 12, "failed": 0}}
    assert res["total"]["checks"] == {"passed": 24, "failed": 0}
    assert [v["name"] for v in res["verdicts"]] == ["item-latency"]


def test_flow_placeholders_from_csv_reach_the_server(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    (tmp_path / "rows.csv").write_text("key\nalpha\nbeta\n")
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        scenarios:
          data:
            executor: per-vu-iterations
            vus: 1
            iterations: 4
            data: {{file: rows.csv}}
            flow:
              - post: /count/{{{{key}}}}
                name: count
              - get: /echo?k={{{{key}}}}
                headers: {{X-Key: "{{{{key}}}}"}}
                checks: [{{body_contains: '"x-key":"'}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    import urllib.request

    for key in ("alpha", "beta"):
        with urllib.request.urlopen(f"{shared_app.url}/count/{key}", timeout=5) as r:
            assert json.loads(r.read())["hits"] == 2
    res = results_of(out)
    assert res["requests"]["GET /echo"]["checks"]["passed"] == 4


def test_unexpected_status_is_a_failure_by_class(tmp_path: Path, shared_app: UvicornApp) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: engine-test
        target: {shared_app.url}
        slos:
          availability: {{objective: 90%}}
        gates: ["error_rate < 10%"]
        scenarios:
          mixed:
            executor: per-vu-iterations
            vus: 1
            iterations: 10
            flow:
              - get: /status/503
              - get: /status/404
              - get: /status/429
                status: 429
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "-q")
    assert done.returncode == 1
    res = results_of(out)
    assert res["requests"]["GET /status/503"]["failures"] == {"5xx": 10}
    assert res["requests"]["GET /status/404"]["failures"] == {"4xx": 10}
    assert sum(res["requests"]["GET /status/429"]["failures"].values()) == 0
    verdicts = {v["name"]: v for v in res["verdicts"]}
    # 10 of 30 are 5xx: availability 66.7% < 90%; error_rate counts the 404s too.
    assert verdicts["availability"]["passed"] is False
    assert verdicts["error_rate < 10%"]["observed"] == pytest.approx(20 / 30, abs=1e-3)
