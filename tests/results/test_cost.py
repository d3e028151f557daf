"""The cost arithmetic on known inputs: each basis, headroom and replicas, the formula text,
the gate reading and the results.json round trip."""

from __future__ import annotations

import math

import pytest

from slokit.results import HOURS_PER_MONTH, CostFigures, Usage, price
from slokit.results._capacity import CapacityResult
from slokit.results._cost import read_cost_gate
from slokit.results._soak import NotJudged, Reading
from slokit.spec import CostPrices


def _prices(**fields: object) -> CostPrices:
    return CostPrices.model_validate(fields)


def test_an_instance_price_over_the_served_and_sustainable_rates() -> None:
    figures = price(
        _prices(instance_hourly=0.0832, replicas=3, fixed_monthly=73, production_rate=100,
                headroom=1.5),
        served_rate=200.0,
        sustainable=250.0,
    )  # fmt: skip
    fleet = 3 * 0.0832 + 73 / 730
    assert figures.fleet_hourly == pytest.approx(fleet)
    assert figures.per_million == pytest.approx(fleet / (200 * 3600) * 1e6)
    assert figures.per_million_at_slo == pytest.approx(fleet / (250 * 3600) * 1e6)
    assert figures.judged_per_million == figures.per_million_at_slo
    assert figures.headroom == pytest.approx(2.5)
    # 250/s from 3 replicas is 83.3/s each; 100/s x 1.5 needs 150/s: 2 replicas.
    assert figures.replicas_needed == 2
    assert figures.monthly_needed == pytest.approx(2 * 0.0832 * HOURS_PER_MONTH + 73)
    assert figures.per_million_in_production == pytest.approx(
        figures.monthly_needed / (100 * 730 * 3600) * 1e6  # type: ignore[operator]
    )
    assert figures.monthly == pytest.approx(fleet * 730)


def test_exactly_enough_replicas_are_not_rounded_up() -> None:
    figures = price(
        _prices(instance_hourly=1, replicas=2, production_rate=50, headroom=2),
        served_rate=1.0,
        sustainable=100.0,
    )
    assert figures.replicas_needed == 2  # 100/s needed, 50/s each: exactly 2


def test_allocated_vcpus_and_memory() -> None:
    figures = price(
        _prices(vcpu_hourly=0.04, gib_hourly=0.005, vcpus=2, memory="4GiB", replicas=2),
        served_rate=100.0,
    )
    assert figures.basis == "allocated"
    assert figures.per_replica_hourly == pytest.approx(2 * 0.04 + 4 * 0.005)
    assert figures.inputs["memory_gib"] == 4.0
    assert "per replica 0.1 USD/h = 2 vCPU x 0.04 + 4 GiB x 0.005" in figures.formula()


def test_sampled_usage_is_the_whole_targets() -> None:
    usage = Usage(cpu=0.5, rss=512 * 2**20)
    figures = price(_prices(vcpu_hourly=0.04, gib_hourly=0.005, replicas=2), served_rate=10.0,
                    usage=usage)  # fmt: skip
    assert figures.basis == "sampled"
    target = 0.5 * 0.04 + 0.5 * 0.005
    assert figures.fleet_hourly == pytest.approx(target)
    assert figures.per_replica_hourly == pytest.approx(target / 2)


def test_a_price_that_needs_a_sample_it_lacks_says_so() -> None:
    figures = price(_prices(vcpu_hourly=0.04), served_rate=10.0, usage=Usage(rss=1.0))
    assert figures.fleet_hourly is None
    assert figures.per_million is None
    assert figures.missing is not None
    assert "cpu was not sampled" in figures.missing
    assert "resources:" in figures.missing
    reading = read_cost_gate(figures, None)
    assert isinstance(reading, NotJudged)


def test_nothing_served_is_not_free_it_is_unknown() -> None:
    figures = price(_prices(instance_hourly=1.0), served_rate=0.0)
    assert figures.per_million is None
    assert isinstance(read_cost_gate(figures, None), NotJudged)


def test_the_gate_reads_at_slo_and_a_generator_limit_is_not_judged() -> None:
    figures = price(_prices(instance_hourly=0.36, currency="EUR"), served_rate=50, sustainable=100)
    reading = read_cost_gate(figures, None)
    assert isinstance(reading, Reading)
    assert reading.observed == pytest.approx(1.0)  # 0.36/h over 360,000 requests an hour
    assert "1 EUR per million at SLO" in reading.text
    limited = CapacityResult(
        steps=[],
        sustainable=100,
        breaking=None,
        broke_first=[],
        limit="generator",
        limit_detail="the generator fell behind",
    )
    assert isinstance(read_cost_gate(figures, limited), NotJudged)
    assert isinstance(read_cost_gate(None, None), NotJudged)


def test_figures_survive_results_json() -> None:
    figures = price(
        _prices(instance_hourly=0.1, replicas=2, fixed_monthly=10, production_rate=20),
        served_rate=33.3,
        sustainable=40.0,
    )
    data = figures.to_dict()
    again = CostFigures.from_dict(data)
    assert again.to_dict() == data
    assert data["cost_per_million"] == data["per_million_at_slo"]
    assert data["formula"] == figures.formula()
    assert data["replicas_needed"] == math.ceil(20 / 20)
