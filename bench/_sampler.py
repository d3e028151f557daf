"""Sampler leg: what sampling the target (resources:) costs the load generator.

slokit drives nginx as in the throughput leg, in alternating rounds without and with a
``resources:`` block that samples the nginx process tree every second. The ratio of the
median throughputs is the sampler's cost; the bar is 0.99 (less than 1 %).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from _common import BENCH, Cores
from _slokit import run_slokit
from _throughput import running_nginx

_BASE = (BENCH / "specs" / "throughput.yaml").read_text()


def _spec(workdir: Path, label: str, interval: str | None) -> Path:
    text = _BASE
    if interval is not None:
        # The nginx master's command line names its own config file: a unique match.
        text += (
            f'resources: {{process: "{workdir / "nginx" / "nginx.conf"}", interval: {interval}}}\n'
        )
    path = workdir / f"sampler-{label}.yaml"
    path.write_text(text)
    return path


def sampler_leg(
    seconds: float, rounds: int, cores: Cores, workdir: Path
) -> dict[str, list[float | None]]:
    legs = {"off": None, "1s": "1s"}
    rps: dict[str, list[float | None]] = {name: [] for name in legs}
    workdir = workdir / "sampler"  # its own nginx prefix: the throughput leg has one too
    workdir.mkdir()
    with running_nginx(workdir, cores) as url:
        for round_ in range(1, rounds + 1):
            for name, interval in legs.items():
                print(f"  round {round_}/{rounds}: sampling {name} ...", flush=True)
                spec = _spec(workdir, name, interval)
                run = run_slokit(
                    str(spec),
                    url=url,
                    seconds=seconds,
                    core=cores.generator,
                    workdir=workdir,
                    label=f"sampler-{name}-{round_}",
                )
                if run.results is None:
                    print(f"    {run.problem}")
                    rps[name].append(None)
                    continue
                sampled = run.scenario().get("resources") or {}
                if interval is not None and not sampled.get("samples"):
                    print("    no samples were taken: this round does not measure sampling")
                    rps[name].append(None)
                    continue
                rps[name].append(float(run.total["rps"]))
    return rps


def median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None
