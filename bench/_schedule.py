"""Schedule leg: the open model at 20,000 arrivals a second on one worker, and beyond it.

At ``RATE`` the worker must keep the schedule: every arrival written within a millisecond of
its intended time (p99 of results.json's ``generator.schedule_lag_ms``, measured per arrival
from the intended time to the first write), the achieved rate within 1 %, nothing dropped.
At ``OVERLOAD`` (more than one worker can send) the shortfall must show: every arrival of the
run is either sent or counted as dropped, and the run says its generator was saturated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from _common import Cores
from _slokit import run_slokit
from _throughput import running_nginx

RATE = 20_000
OVERLOAD = 100_000
SECONDS = 6.0
ROUNDS = 3


@dataclass(frozen=True)
class RateRun:
    rate: int
    runner: str
    achieved: float | None
    sent: int
    dropped: int
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    late: float | None
    saturated: bool | None
    due: float
    """Arrivals the schedule holds in the measured window."""
    problem: str


def _run(url: str, rate: int, runner: str, cores: Cores, work: Path, seconds: float) -> RateRun:
    warmup = 1.0 if rate == RATE else 0.0
    env = {"SLOKIT_LANES": "1" if runner == "callbacks" else "0"}
    run = run_slokit(
        "rate.yaml", url=url, seconds=seconds, core=cores.generator, workdir=work,
        label=f"rate-{rate}-{runner}", env=env,
        extra=["-e", f"RATE={rate}", "-e", f"WARMUP={warmup:g}s"],
    )  # fmt: skip
    due = rate * (seconds - warmup)
    if run.results is None:
        return RateRun(rate, runner, None, 0, 0, None, None, None, None, due, run.problem)
    sc = run.scenario()
    total = sc["total"]
    g = sc["generator"]
    lag = g["schedule_lag_ms"] or {}
    return RateRun(
        rate=rate,
        runner=g["runner"] or runner,
        achieved=float(total["rps"]),
        sent=int(total["count"]),
        dropped=int(total["dropped"]),
        lag_p50_ms=lag.get("p50"),
        lag_p99_ms=lag.get("p99"),
        late=g["late"],
        saturated=bool(g["saturated"]),
        due=due,
        problem="",
    )


def schedule_leg(
    cores: Cores, workdir: Path, seconds: float = SECONDS, rounds: int = ROUNDS
) -> list[list[RateRun]]:
    """Rounds of each (rate, runner), alternated: the controller shares the generator's core
    and now and then takes a few milliseconds of it, so one round's p99 alone is noise."""
    work = workdir / "schedule"
    work.mkdir()
    plan = [(RATE, rounds), (OVERLOAD, 1)]
    runs: dict[tuple[int, str], list[RateRun]] = {}
    with running_nginx(work, cores) as url:
        for rate, count in plan:
            for round_ in range(count):
                for runner in ("callbacks", "tasks"):
                    print(f"  {rate:,}/s, {runner} runner, round {round_ + 1}", flush=True)
                    where = work / f"round-{round_}"
                    where.mkdir(exist_ok=True)
                    found = _run(url, rate, runner, cores, where, seconds)
                    runs.setdefault((rate, runner), []).append(found)
    return list(runs.values())
