"""The sampler's life cycle, its schedule, and samples to and from plain data."""

from __future__ import annotations

import json
import os
import threading

import pytest

import slokit.sampling
from slokit.errors import UsageError
from slokit.sampling import ResourceSample, ResourceSampler, samples_from_dict, samples_to_dict
from tests.sampling.test_process import wait_sample


def test_public_names() -> None:
    assert slokit.sampling.__all__ == [
        "ResourceSample",
        "ResourceSampler",
        "samples_from_dict",
        "samples_to_dict",
    ]


def test_samples_round_trip_through_json() -> None:
    samples = [
        ResourceSample(0.0, {"rss": 1024.0, "threads": 3.0}),
        ResourceSample(1.0004, {"rss": 2048.0, "cpu": 0.25, "pool": 2.0}),
        ResourceSample(2.0, {}),
    ]
    data = samples_to_dict(1.0, samples)
    assert data["samples"][1] == {"t": 1.0, "rss": 2048, "cpu": 0.25, "pool": 2}
    again = samples_from_dict(json.loads(json.dumps(data)))
    assert again == [
        ResourceSample(0.0, {"rss": 1024.0, "threads": 3.0}),
        ResourceSample(1.0, {"rss": 2048.0, "cpu": 0.25, "pool": 2.0}),
        ResourceSample(2.0, {}),
    ]
    assert all(isinstance(v, float) for s in again for v in s.values.values())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected {'interval'"),
        ({"interval": 1.0}, "expected {'interval'"),
        ({"samples": [{"rss": 1}]}, r"samples\[0\] has no 't'"),
        ({"samples": [{"t": 0, "rss": "big"}]}, r"samples\[0\]\.rss is 'big', not a number"),
    ],
)
def test_bad_sample_data_says_where(data: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        samples_from_dict(data)  # type: ignore[arg-type]


def test_samples_are_frozen() -> None:
    sample = ResourceSample(0.0, {})
    with pytest.raises(AttributeError):
        sample.t = 1.0  # type: ignore[misc]
    assert not hasattr(sample, "__dict__")


def test_stop_is_idempotent_and_a_sampler_runs_once() -> None:
    sampler = ResourceSampler(interval=0.05, pid=os.getpid())
    assert sampler.stop() == []  # never started: nothing to stop
    sampler = ResourceSampler(interval=0.05, pid=os.getpid())
    sampler.start()
    sampler.start()  # already running: no second thread
    assert sum(t.name == "slokit-resources" for t in threading.enumerate()) == 1
    wait_sample(sampler, lambda s: True, after=2)
    first = sampler.stop()
    assert len(first) >= 3
    assert sampler.stop() == first
    assert sampler.samples == first
    with pytest.raises(UsageError, match="already run"):
        sampler.start()
    assert not any(t.name == "slokit-resources" for t in threading.enumerate())


def test_samples_follow_the_schedule() -> None:
    with ResourceSampler(interval=0.05, pid=os.getpid()) as sampler:
        wait_sample(sampler, lambda s: True, after=9)
    times = [s.t for s in sampler.samples]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    # On the grid t0 + k * interval: each sample is at or after its slot, in distinct slots.
    slots = [int(t / 0.05 + 1e-6) for t in times]
    assert len(set(slots)) == len(slots)


def test_the_clock_sets_t() -> None:
    ticks = iter(range(1000, 100000))
    with ResourceSampler(
        interval=0.05, pid=os.getpid(), clock=lambda: float(next(ticks))
    ) as sampler:
        wait_sample(sampler, lambda s: True, after=1)
    assert all(s.t == int(s.t) for s in sampler.samples)
    assert sampler.samples[0].t >= 1.0
