"""Instructions per request, counted by callgrind: the callback runner against the task runner.

Wall-clock throughput moves 20 % between runs on a shared machine; instruction counts do not.
bench/instr_driver.py runs one real slokit worker in-process for ``LOW`` and then ``HIGH``
iterations of 50 VUs against nginx, each under ``valgrind --tool=callgrind``; the difference in
instructions over the difference in requests is the cost of one request, start-up cancelled
out. The self-watch's 100 probes a second are the only cost that grows with wall time
(valgrind runs ~50x slower), a few hundred instructions per request at most.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from _common import BENCH, Cores, pinned, run_to_end
from _throughput import running_nginx

LOW, HIGH = 20, 100
VUS = 50
RUNNERS = ("tasks", "callbacks")


@dataclass(frozen=True)
class Counted:
    runner: str
    per_request: float | None
    note: str


def _count(url: str, runner: str, iterations: int, cores: Cores, work: Path) -> int | None:
    out = work / f"callgrind-{runner}-{iterations}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    cmd += [sys.executable, str(BENCH / "instr_driver.py"), "--url", url]
    cmd += ["--iterations", str(iterations), "--runner", runner]
    done = run_to_end(pinned(cmd, cores.generator), work / f"callgrind-{runner}.log", 900)
    if done.returncode != 0 or not out.is_file():
        return None
    found = re.search(r"^summary:\s*(\d+)", out.read_text(errors="replace"), re.MULTILINE)
    return int(found.group(1)) if found else None


def instructions_leg(cores: Cores, workdir: Path) -> list[Counted]:
    if shutil.which("valgrind") is None:
        return [
            Counted(r, None, "valgrind is not installed (apt-get install valgrind)")
            for r in RUNNERS
        ]
    work = workdir / "instructions"
    work.mkdir()
    counted = []
    with running_nginx(work, cores) as url:
        for runner in RUNNERS:
            print(
                f"  {runner}: {LOW} and {HIGH} iterations x {VUS} VUs under callgrind ...",
                flush=True,
            )
            low = _count(url, runner, LOW, cores, work)
            high = _count(url, runner, HIGH, cores, work)
            if low is None or high is None:
                counted.append(Counted(runner, None, f"callgrind failed: see {work}"))
                continue
            per = (high - low) / (VUS * (HIGH - LOW))
            counted.append(
                Counted(
                    runner, per, f"{high - low:,} instructions / {VUS * (HIGH - LOW):,} requests"
                )
            )
    return counted
