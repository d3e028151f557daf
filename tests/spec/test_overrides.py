"""override_load: --vus, --rate and --iterations applied where they fit, ramps scaled."""

from __future__ import annotations

import pytest

from slokit.errors import UsageError
from slokit.spec import (
    LoadOverrides,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    override_load,
    parse_spec,
)

SPEC = """service: s
target: http://127.0.0.1:1
scenarios:
  ramp:
    executor: ramping-vus
    start_vus: 5
    stages: [{to: 10, over: 10s}, {to: 20, over: 10s}, {to: 0, over: 5s}]
    flow: [{get: /}]
  arrivals:
    executor: ramping-arrival-rate
    stages: [{to: 50, over: 10s}, {to: 100, over: 10s}]
    flow: [{get: /}]
  iterations:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    flow: [{get: /}]
"""


def test_vus_scale_a_ramp_to_its_peak_and_set_the_others() -> None:
    spec, notes = override_load(parse_spec(SPEC), None, LoadOverrides(vus=40))
    ramp = spec.scenarios["ramp"]
    assert isinstance(ramp, RampingVUs)
    assert ramp.start_vus == 10
    assert [s.to for s in ramp.stages] == [20, 40, 0]
    assert [s.over for s in ramp.stages] == [10, 10, 5]  # the timing is --duration's job
    iterations = spec.scenarios["iterations"]
    assert isinstance(iterations, PerVUIterations)
    assert (iterations.vus, iterations.iterations) == (40, 3)
    assert notes == ["--vus 40: ramp, iterations (not arrivals (ramping-arrival-rate))"]


def test_rate_scales_an_arrival_ramp_and_iterations_set_per_vu() -> None:
    original = parse_spec(SPEC)
    spec, notes = override_load(
        original, ["arrivals", "iterations"], LoadOverrides(rate="3000/m", iterations=7)
    )
    arrivals = spec.scenarios["arrivals"]
    assert isinstance(arrivals, RampingArrivalRate)
    assert [s.to for s in arrivals.stages] == [25.0, 50.0]
    iterations = spec.scenarios["iterations"]
    assert isinstance(iterations, PerVUIterations)
    assert iterations.iterations == 7
    assert notes == [
        "--rate 50/s: arrivals (not iterations (per-vu-iterations))",
        "--iterations 7: iterations (not arrivals (ramping-arrival-rate))",
    ]
    # The spec given is left as it was.
    before = original.scenarios["arrivals"]
    assert isinstance(before, RampingArrivalRate)
    assert [s.to for s in before.stages] == [50.0, 100.0]


def test_nothing_to_override_is_the_same_spec() -> None:
    spec = parse_spec(SPEC)
    assert override_load(spec, None, LoadOverrides()) == (spec, [])


def test_a_flag_that_fits_no_scenario_run_says_which_does() -> None:
    with pytest.raises(UsageError, match=r"--iterations applies to per-vu-iterations"):
        override_load(parse_spec(SPEC), ["ramp"], LoadOverrides(iterations=2))
    with pytest.raises(UsageError, match=r"--vus: the number of virtual users must be at most"):
        override_load(parse_spec(SPEC), None, LoadOverrides(vus=10**9))
