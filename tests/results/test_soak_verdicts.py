"""Resource and drift gates judged over hand-built timelines with known answers: measured,
failed, or "not judged" with the reason, never a silent pass."""

from __future__ import annotations

import random
import textwrap

from slokit.results import (
    Drift,
    DriftWindow,
    RequestStats,
    ResourceTimeline,
    ScenarioResults,
    drift_of,
    evaluate,
)
from slokit.spec import Spec, parse_spec

MIB = 2**20


def spec(gates: list[str], scenario_gates: list[str] | None = None) -> Spec:
    own = f"\n    gates: {scenario_gates!r}" if scenario_gates else ""
    return parse_spec(
        textwrap.dedent(
            f"""
            service: t
            target: http://127.0.0.1:1
            gates: {gates!r}
            scenarios:
              soak:
                executor: constant-vus
                vus: 1
                duration: 60s
                flow: [{{get: /a}}]"""
        )
        + own
        + "\n"
    )


def results(resources: ResourceTimeline | None, drift: Drift | None = None) -> ScenarioResults:
    stats = RequestStats("GET /a", "GET", "/a")
    stats.count = 10
    return ScenarioResults(
        name="soak",
        executor="constant-vus",
        requests={"GET /a": stats},
        timeline=[],
        duration_s=60.0,
        warmup_s=0.0,
        workers=1,
        resources=resources,
        drift=drift,
    )


def timeline(rss: list[float], interval: float = 1.0, **extra: list[float]) -> ResourceTimeline:
    samples = []
    for i, value in enumerate(rss):
        values = {"rss": value, **{k: v[i] for k, v in extra.items()}}
        samples.append((i * interval, values))
    return ResourceTimeline(interval=interval, samples=samples)


def judge(gates: list[str], sc: ScenarioResults, own: list[str] | None = None) -> list:  # type: ignore[type-arg]
    s = spec(gates, own)
    return evaluate(s, sc, scenario=s.scenarios["soak"], flow=None)


def test_max_and_mean_gates_read_the_samples() -> None:
    sc = results(timeline([100 * MIB, 300 * MIB, 200 * MIB]))
    low, high, mean = judge(["max(rss) < 256MiB", "max(rss) < 512MiB", "mean(rss) < 201MiB"], sc)
    assert (low.passed, low.observed, low.detail) == (False, 300 * MIB, "max 300MiB")
    assert high.passed
    assert mean.passed
    assert mean.observed == 200 * MIB


def test_a_steady_leak_fails_the_slope_gate_and_flat_memory_passes() -> None:
    rng = random.Random(1)
    leak = [50 * MIB + i * MIB + rng.uniform(0, MIB / 4) for i in range(60)]  # 3.5 GiB/h
    flat = [50 * MIB + rng.uniform(0, MIB / 4) for _ in range(60)]
    (leaky,) = judge(["rss_slope < 100MiB/h"], results(timeline(leak)))
    (clean,) = judge(["rss_slope < 100MiB/h"], results(timeline(flat)))
    assert not leaky.passed
    assert leaky.judged
    assert 3000 * MIB < leaky.observed < 4000 * MIB
    assert "CI" in leaky.detail
    assert clean.passed
    assert clean.judged


def test_one_gc_spike_does_not_fake_a_leak() -> None:
    flat = [50 * MIB] * 60
    flat[55] = 900 * MIB  # near the end, where it drags a least-squares fit the most
    (v,) = judge(["rss_slope < 10MiB/h"], results(timeline(flat)))
    assert v.passed
    assert v.observed == 0


def test_a_noisy_short_soak_is_inconclusive_not_passed() -> None:
    rng = random.Random(2)
    noisy = [50 * MIB + rng.uniform(0, 20 * MIB) for _ in range(20)]
    (v,) = judge(["rss_slope < 10MiB/h"], results(timeline(noisy)))
    assert not v.judged
    assert v.detail.startswith("not judged: inconclusive")
    assert "run longer" in v.detail


def test_too_few_samples_for_a_trend_are_not_judged() -> None:
    (v,) = judge(["rss_slope < 10MiB/h"], results(timeline([MIB] * 5)))
    assert not v.judged
    assert "a trend needs at least 10" in v.detail


def test_a_source_that_never_answered_is_not_judged_and_says_why() -> None:
    sc = results(timeline([MIB] * 20))
    assert sc.resources is not None
    sc.resources.notes.append("resources.postgres: postgresql://x stopped answering at 0s")
    (v,) = judge(["max(pg_connections) < 80"], sc)
    assert not v.judged
    assert v.passed  # reported as not judged: it neither passes nor fails the run
    assert not v.gated
    assert "stopped answering" in v.detail


def test_without_resources_a_spec_gate_is_not_judged_and_a_scenario_gate_fails() -> None:
    spec_wide, own = judge(["max(rss) < 1GiB"], results(None), own=["max(rss) < 2GiB"])
    assert not spec_wide.judged
    assert "samples no resources" in spec_wide.detail
    assert own.judged
    assert not own.passed
    assert own.detail.startswith("cannot pass")


def test_the_warmup_is_left_out_of_resource_gates() -> None:
    sc = results(timeline([900 * MIB] + [100 * MIB] * 20))
    sc.warmup_s = 1.0
    (v,) = judge(["max(rss) < 512MiB"], sc)
    assert v.passed


def test_drift_gates_compare_the_first_and_last_fifth() -> None:
    first = DriftWindow(0, 11, 1000, 10.0, 20.0, 40.0, 0.0)
    last = DriftWindow(48, 59, 1000, 11.0, 30.0, 40.0, 0.02)
    p95, p99, errors = judge(
        ["p95_drift < 20%", "p99_drift < 20%", "error_rate_drift < 1%"],
        results(None, Drift(first, last)),
    )
    assert (p95.passed, p95.observed) == (False, 0.5)
    assert "p95 20.0ms -> 30.0ms" in p95.detail
    assert (p99.passed, p99.observed) == (True, 0.0)
    assert not errors.passed
    assert abs(errors.observed - 0.02) < 1e-12
    (short,) = judge(["p95_drift < 20%"], results(None, None))
    assert not short.judged


def test_drift_of_merges_each_fifth_from_per_second_histograms() -> None:
    seconds = {}
    for second in range(20):
        stats = RequestStats("total")
        latency_us = 10_000 if second < 10 else 30_000
        for _ in range(10):
            stats.latency.record(latency_us)
        stats.count = 10
        seconds[second] = stats
    drift = drift_of(seconds, warmup_s=0.0)
    assert drift is not None
    assert (drift.first.start_s, drift.first.end_s) == (0, 3)
    assert (drift.last.start_s, drift.last.end_s) == (16, 19)
    assert drift.change("p95") == 2.0  # 10 ms -> 30 ms
    assert drift_of({s: v for s, v in seconds.items() if s < 5}, 0.0) is None


def test_resources_round_trip_through_results_json() -> None:
    sc = results(timeline([MIB * i for i in range(1, 30)], fds=[10.0] * 29))
    back = ScenarioResults.from_dict(sc.to_dict())
    assert back.resources is not None
    assert back.resources.samples == sc.resources.samples  # type: ignore[union-attr]
    summary = sc.to_dict()["resources"]["summary"]
    assert summary["rss"]["growing"]
    assert summary["fds"]["slope_per_hour"] == 0
