"""Running the slokit CLI as a benchmark leg and reading its results.json."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import BENCH, pinned, run_to_end


@dataclass(frozen=True)
class SlokitRun:
    results: dict[str, Any] | None
    """The parsed results.json; None when the CLI could not produce one."""
    problem: str
    """Why there are no results (empty when there are)."""

    @property
    def total(self) -> dict[str, Any]:
        assert self.results is not None
        total: dict[str, Any] = self.results["total"]
        return total

    def scenario(self) -> dict[str, Any]:
        assert self.results is not None
        scenario: dict[str, Any] = next(iter(self.results["scenarios"].values()))
        return scenario


def run_slokit(
    spec: str,
    *,
    url: str,
    seconds: float,
    core: int | None,
    workdir: Path,
    label: str,
    env: dict[str, str] | None = None,
    extra: list[str] | None = None,
) -> SlokitRun:
    out = workdir / f"slokit-{label}"
    cmd = [sys.executable, "-m", "slokit", "run", str(BENCH / "specs" / spec)]
    cmd += ["--workers", "1", "--duration", f"{seconds:g}s", "--target", url]
    # Benchmark runs are not history: keep them out of the run store.
    cmd += ["--out", str(out), "--quiet", "--no-store", *(extra or [])]
    log = workdir / f"slokit-{label}.log"
    done = run_to_end(pinned(cmd, core), log, timeout=seconds + 90, env=env)
    results_file = out / "results.json"
    if results_file.is_file():
        return SlokitRun(json.loads(results_file.read_text()), "")
    if done.returncode is None:
        why = "timed out"
    else:
        last = [line for line in done.output.strip().splitlines() if line.strip()]
        why = f"exit {done.returncode}: {' / '.join(last[-2:]) if last else 'no output'}"
    return SlokitRun(None, f"slokit CLI not available ({why})")
