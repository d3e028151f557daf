"""``slokit demo --chaos NAME`` for several bundled experiments side by side (each its own
provider, proxy and demo on free ports): their exit codes, journals and output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests._support import slokit_cmd

Done = tuple[int, dict[str, Any], str]


def run_demo_experiments(names: tuple[str, ...], base: Path) -> dict[str, Done]:
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in names:
            cmd = slokit_cmd("demo", "--chaos", name, "-o", str(base / name))
            procs[name] = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        done: dict[str, Done] = {}
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=150)
            journal = base / name / "journal.json"
            assert journal.exists(), stderr
            done[name] = (proc.returncode, json.loads(journal.read_text()), stdout)
        return done
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
