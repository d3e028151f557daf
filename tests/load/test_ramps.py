"""Ramping executors, timeouts and --duration through the real CLI and real worker processes."""

from __future__ import annotations

from pathlib import Path

from tests._support import UvicornApp, run_slokit
from tests.load.test_engine import results_of, write_spec


def test_ramping_arrival_rate_makes_exactly_the_arrivals_its_area_promises(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    # 0 -> 60/s over 2 s (60 arrivals), then 60/s for 1 s (60), then 60 -> 0/s over 1 s (30).
    spec = write_spec(
        tmp_path,
        f"""
        service: ramp-test
        target: {shared_app.url}
        scenarios:
          ramp:
            executor: ramping-arrival-rate
            stages: [{{to: 60/s, over: 2s}}, {{to: 60/s, over: 1s}}, {{to: 0/s, over: 1s}}]
            max_vus: 20
            flow: [{{get: /ok}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "2", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    sc = results_of(out)["scenarios"]["ramp"]
    assert sc["total"]["count"] + sc["total"]["dropped"] == 150
    per_second = [p["requests"] for p in sc["timeline"]][:4]
    # Linear ramp: 15 arrivals in the first second, 45 in the second, 60, then 30. A response
    # is counted in the second it completes, so one may slip over a boundary on a busy host.
    for got, want in zip(per_second, [15, 45, 60, 30], strict=True):
        assert abs(got - want) <= 1, per_second


def test_ramping_vus_grow_and_stay_at_the_stage_target(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: ramp-test
        target: {shared_app.url}
        scenarios:
          ramp:
            executor: ramping-vus
            stages: [{{to: 6, over: 2s}}, {{to: 6, over: 2s}}]
            flow: [{{get: "/slow?ms=20"}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "2", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    # The last second is left out: it ends with the scenario, VUs stopping as it closes.
    vus = [p["vus"] for p in results_of(out)["scenarios"]["ramp"]["timeline"]][:3]
    assert vus[0] < 6
    assert vus[2] == 6
    assert vus == sorted(vus)


def test_timeouts_are_counted_as_failures_of_kind_timeout(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: timeout-test
        target: {shared_app.url}
        slos:
          availability: {{objective: 99%}}
        scenarios:
          slow:
            executor: per-vu-iterations
            vus: 2
            iterations: 2
            timeout: 100ms
            flow: [{{get: "/slow?ms=400"}}, {{get: /ok}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--out", str(out), "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    res = results_of(out)
    assert res["requests"]["GET /slow"]["failures"] == {"timeout": 4}
    # A request with no response ends its iteration: the next step never ran.
    assert "GET /ok" not in res["requests"]
    assert res["verdicts"][0]["passed"] is False


def test_duration_option_overrides_the_spec(tmp_path: Path, shared_app: UvicornApp) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: d-test
        target: {shared_app.url}
        scenarios:
          long:
            executor: constant-arrival-rate
            rate: 20/s
            duration: 10m
            max_vus: 5
            flow: [{{get: /ok}}]
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "-d", "2s", "--out", str(out), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert results_of(out)["total"]["count"] == 40
