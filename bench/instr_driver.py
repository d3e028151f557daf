"""One slokit worker in this process, for a fixed number of requests: what callgrind counts.

    python bench/instr_driver.py --url http://127.0.0.1:PORT --iterations 100 [--runner tasks]

Runs the real worker code (``worker_main``: its event loop, executor, recorder, ticker and
self-watch) on a ``per-vu-iterations`` flow of one GET with 50 VUs, with no controller: the
messages it would ship are kept in a list. bench/_instructions.py runs this under
``valgrind --tool=callgrind`` twice with different ``--iterations`` and divides the
difference in instructions by the difference in requests, so start-up cancels out.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from slokit.load._worker import WorkerArgs, worker_main  # noqa: E402
from slokit.spec import parse_spec  # noqa: E402

VUS = 50


class _Inbox:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, item: Any) -> None:
        self.items.append(item)


class _Wall:
    value = 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--iterations", type=int, required=True)
    parser.add_argument("--runner", choices=["callbacks", "tasks"], default="callbacks")
    args = parser.parse_args()
    os.environ["SLOKIT_LANES"] = "1" if args.runner == "callbacks" else "0"
    spec = parse_spec(
        "service: instr\nscenarios:\n  one:\n    executor: per-vu-iterations\n"
        f"    vus: {VUS}\n    iterations: {args.iterations}\n    max_duration: 10m\n"
        "    flow: [{get: /}]\n"
    )
    scenario = spec.scenarios["one"]
    work = WorkerArgs(spec, scenario, "one", 0, 1, args.url, 0)
    go, stop = threading.Event(), threading.Event()
    go.set()
    wall = _Wall()
    wall.value = time.time()
    inbox = _Inbox()
    worker_main(work, inbox, go, wall, stop)
    sent = 0
    for item in inbox.items:
        if item[0] == "snapshot":
            sent += sum(r.get("count", 0) for r in item[2]["requests"])
        elif item[0] == "error":
            print(item[2], file=sys.stderr)
            return 1
    print(f"requests {sent}")
    return 0 if sent == VUS * args.iterations else 1


if __name__ == "__main__":
    sys.exit(main())
