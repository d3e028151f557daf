"""``executor: capacity``: the search plan, and every nonsense step size refused."""

from __future__ import annotations

import pytest

from slokit.errors import SpecError
from slokit.spec import Capacity, parse_spec


def _scenario(body: str) -> Capacity:
    spec = parse_spec(
        "service: x\ntarget: http://127.0.0.1:1\nscenarios:\n  s:\n    executor: capacity\n"
        "    flow: [{get: /}]\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())
    )
    sc = spec.scenarios["s"]
    assert isinstance(sc, Capacity)
    return sc


def _problems(body: str) -> str:
    with pytest.raises(SpecError) as info:
        _scenario(body)
    return "\n".join(f"{p.path}: {p.message}" for p in info.value.problems)


def test_additive_and_multiplicative_plans_end_at_the_ceiling() -> None:
    add = _scenario("start_rate: 50/s\nstep: 50/s\nmax_rate: 220/s")
    assert add.rates() == [50, 100, 150, 200, 220]
    mul = _scenario("start_rate: 100/s\nfactor: 2\nmax_rate: 600/s")
    assert mul.rates() == [100, 200, 400, 600]
    assert (mul.settle, mul.step_duration, mul.confirm, mul.refine) == (5.0, 20.0, 1, 0)
    # Every step plus the bisection plus the recovery: the longest the search can take.
    longest = _scenario("start_rate: 100/s\nfactor: 2\nmax_rate: 600/s\nrefine: 2\nrecovery: 30s")
    assert longest.duration == 6 * 25 + 30


def test_minus_d_sets_each_steps_length() -> None:
    sc = _scenario("start_rate: 50/s\nstep: 50/s\nmax_rate: 200/s").with_duration(4.0)
    assert (sc.step_duration, sc.settle) == (4.0, 2.0)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("start_rate: 50/s\nmax_rate: 200/s", "exactly one of step"),
        ("start_rate: 50/s\nstep: 10/s\nfactor: 2\nmax_rate: 200/s", "exactly one of step"),
        ("start_rate: 50/s\nfactor: 1\nmax_rate: 200/s", "1.05 to 10"),
        ("start_rate: 50/s\nfactor: 50\nmax_rate: 200/s", "1.05 to 10"),
        ("start_rate: 200/s\nstep: 10/s\nmax_rate: 100/s", "must be above start_rate"),
        ("start_rate: 1/s\nstep: 1/s\nmax_rate: 10000/s", "at most 100"),
        ("start_rate: 50/s\nstep: 50/s\nmax_rate: 200/s\nsettle: 20s", "must be shorter"),
        ("start_rate: 50/s\nstep: 50/s\nmax_rate: 200/s\nconfirm: 9", "confirm"),
        ("start_rate: 50/s\nstep: 50/s\nmax_rate: 200/s\nrefine: -1", "refine"),
    ],
)
def test_nonsense_searches_are_refused(body: str, says: str) -> None:
    assert says in _problems(body)
